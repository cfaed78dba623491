"""Where a criterion's evidence phrases stand in a reply: the one matcher behind every highlight (the apps'
and the reports').

A phrase is found ignoring case and however the spaces between its words were typed (a line break, two spaces);
every place it stands is found. A phrase that is not in the text is reported as missing, to quote apart.
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping


def phrase_spans(text: str, phrase: str) -> list[tuple[int, int]]:
    """(start, end) of every place `phrase` stands in `text`."""
    words = phrase.split()
    if not words:
        return []
    pattern = re.compile(r"\s+".join(re.escape(w) for w in words), re.IGNORECASE)
    return [m.span() for m in pattern.finditer(text)]


def evidence_spans(text: str, evidence: Mapping[str, Iterable[str]]
                   ) -> tuple[dict[str, list[tuple[int, int]]], dict[str, list[str]]]:
    """Per criterion, the spans of its evidence in `text`, and the phrases that could not be found there."""
    spans: dict[str, list[tuple[int, int]]] = {}
    missing: dict[str, list[str]] = {}
    for cid, phrases in evidence.items():
        for phrase in phrases:
            if not phrase.split():
                continue
            found = phrase_spans(text, phrase)
            if found:
                spans.setdefault(cid, []).extend(found)
            else:
                missing.setdefault(cid, []).append(phrase)
    return spans, missing
