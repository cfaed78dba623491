"""Stored or typed text made safe to print on a terminal: the one helper every printer uses.

Replies, scenario lines, trainer comments and names come from people. Printed raw, an ANSI escape in one of
them could restyle the terminal, move the cursor or hide text; a lone surrogate (from a broken JSON escape)
cannot even be encoded. `clean` swaps every control character for a visible, inert stand-in (␛ for ESC, ␍ for
CR, …), drops bidi overrides and replaces lone surrogates with U+FFFD. The command line, reports written to
the terminal, progress and both apps all go through it.
"""

from __future__ import annotations


def _table(keep_newlines: bool) -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    for code in range(0x20):
        table[code] = chr(0x2400 + code)  # control pictures: ␛ for ESC, ␍ for CR, …
    table[0x09] = "    "
    if keep_newlines:
        del table[0x0A]
    else:
        table[0x0A] = " "
    table[0x7F] = "\u2421"  # ␡
    for code in range(0x80, 0xA0):  # C1 controls (CSI 0x9b would start an escape sequence)
        table[code] = "\ufffd"
    for code in (0x2028, 0x2029):  # line/paragraph separators
        table[code] = " " if not keep_newlines else "\n"
    for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C):  # bidi controls
        table[code] = None
    for code in range(0xD800, 0xE000):  # lone surrogates: not encodable as UTF-8
        table[code] = "\ufffd"
    return table


_KEEP_NEWLINES = _table(True)
_ONE_LINE = _table(False)


def clean(text: object, *, one_line: bool = False) -> str:
    """`text` with every control character replaced by a visible, inert stand-in (newlines kept unless
    `one_line`)."""
    return str(text).translate(_ONE_LINE if one_line else _KEEP_NEWLINES)


