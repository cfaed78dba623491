"""Text the command line reads from people: files, standard input and arguments, all as UTF-8.

Undecodable bytes are refused naming the file and line, never replaced silently and never a traceback.
"""

from __future__ import annotations

from typing import Any, TextIO

from simulator.errors import UsageError

STDIN = "<stdin>"


def decode_utf8(data: bytes, name: str, first_line: int = 1) -> str:
    """UTF-8 bytes as text (a byte-order mark at the very start of the input dropped); UsageError naming the line
    otherwise, counted from `first_line` (the number of the data's first line in a longer stream)."""
    if first_line == 1 and data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + first_line
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise UsageError(f"{name}:{line}: not valid UTF-8 text (byte 0x{data[exc.start]:02x} at byte {column} of "
                         "the line); save it as UTF-8 and try again") from None


def read_stdin(stdin: TextIO) -> str:
    """All of standard input, decoded from its bytes where it has them (so the locale does not matter)."""
    raw = getattr(stdin, "buffer", None)
    if raw is not None:
        return decode_utf8(raw.read(), STDIN)
    try:
        return stdin.read()
    except UnicodeDecodeError as exc:
        raise UsageError(f"{STDIN}: not valid UTF-8 text ({exc.reason}); give UTF-8 text") from None


def has_surrogate(value: Any) -> bool:
    """Whether text (or a decoded JSON value) holds a lone surrogate: undecodable bytes Python handed over with
    surrogateescape, or a broken JSON escape such as "\\ud800"."""
    if isinstance(value, str):
        return any(0xD800 <= ord(ch) <= 0xDFFF for ch in value)
    if isinstance(value, dict):
        return any(has_surrogate(k) or has_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_surrogate(v) for v in value)
    return False
