"""Text that scenarios and trainees wrote, made safe to put on screen.

Everything shown from a scenario file or typed by the trainee goes through `literal` (or
`simulator.terminal.clean`): it is a `rich.text.Text`, so `[bold]…[/]` and `[link=…]` stay literal, and
control characters (ANSI escapes, carriage returns, bidi overrides) are swapped for visible, inert stand-ins
so they cannot restyle the terminal or move the cursor.
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping, Sequence

from rich.text import Text

from simulator.scoring.evidence import evidence_spans
from simulator.terminal import clean


def literal(text: object, style: str = "", *, one_line: bool = False) -> Text:
    """Text to show exactly as written: no markup, no escape sequences."""
    return Text(clean(text, one_line=one_line), style=style)


CRITERION_COLOURS = ("magenta", "cyan", "green", "yellow", "blue", "red")


def criterion_styles(criterion_ids: Sequence[str]) -> dict[str, str]:
    """One colour per criterion, used for its meter, its score and its evidence highlights."""
    return {cid: CRITERION_COLOURS[i % len(CRITERION_COLOURS)] for i, cid in enumerate(criterion_ids)}


def highlight_evidence(
    reply: str,
    evidence: Mapping[str, Iterable[str]],
    styles: Mapping[str, str],
    *,
    base_style: str = "",
) -> tuple[Text, dict[str, list[str]]]:
    """The reply as Text with each criterion's evidence phrases highlighted in that criterion's colour.

    Returns the text and, per criterion, the phrases that could not be found in the reply (to quote apart).
    """
    text = literal(reply, base_style)
    cleaned = {cid: [clean(phrase, one_line=True) for phrase in phrases] for cid, phrases in evidence.items()}
    spans, missing = evidence_spans(text.plain, cleaned)  # the shown (cleaned) text, so offsets match it
    for cid, places in spans.items():
        for start, end in places:
            text.stylize(f"bold underline {styles.get(cid, 'yellow')}", start, end)
    return text, missing


_EMPHASIS = re.compile(
    r"(?P<bold>\*\*(?=\S)(?P<b>.+?)(?<=\S)\*\*)"
    r"|(?<![\w*])\*(?=[^\s*])(?P<i>[^*\n]+?)(?<=[^\s*])\*(?![\w*])"
    r"|(?<![\w_])_(?=[^\s_])(?P<u>[^_\n]+?)(?<=[^\s_])_(?![\w_])"
)


def emphasis(text: object, style: str = "") -> Text:
    """Text written with Markdown emphasis (rubric feedback: "Say what *you* will do"), shown as a trainee should
    see it: `**bold**` in bold and `*italic*` / `_italic_` in italics, without the markers; the rest literal."""
    plain = clean(text)
    out = Text(style=style)
    position = 0
    for match in _EMPHASIS.finditer(plain):
        out.append(plain[position:match.start()])
        if match.group("b") is not None:
            out.append(match.group("b"), "bold")
        else:
            out.append(match.group("i") if match.group("i") is not None else match.group("u"), "italic")
        position = match.end()
    out.append(plain[position:])
    return out
