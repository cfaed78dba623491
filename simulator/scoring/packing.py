"""The model folder's config and tokenizer, and packing several tokenized texts into each row of one encoder
batch, each text attending only to itself. numpy only: shared by the ONNX Runtime and torch forwards."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np


def read_config(folder: Path) -> dict:
    """The model's config.json, refused unless it describes what both forwards implement."""
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    if config.get("model_type") != "bert" or config.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError(f"not a BERT model with absolute positions: {config.get('model_type')!r}")
    if config.get("hidden_act") != "gelu":
        raise ValueError(f"unsupported activation {config.get('hidden_act')!r}")
    return config


def load_tokenizer(folder: Path, max_tokens: int) -> Any:
    """The model's fast tokenizer, truncating every text to `max_tokens` and never padding (`pack` lays texts out)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=max_tokens)
    tokenizer.no_padding()
    return tokenizer


class Packed(NamedTuple):
    input_ids: np.ndarray
    """(rows, tokens) int64"""
    allowed: np.ndarray
    """(rows, tokens, tokens) bool: block-diagonal, a token may attend only to its own text's tokens."""
    position_ids: np.ndarray
    """(rows, tokens) int64: positions restart at 0 for every text, as if it were encoded alone."""
    segments: list[tuple[int, int, int]]
    """For each input text, in order: (row, start, end) of its tokens."""

    def pooling_matrix(self) -> np.ndarray:
        """(texts, rows * tokens) float32: multiplying the flattened hidden states by it mean-pools each text."""
        rows, length = self.input_ids.shape
        pool = np.zeros((len(self.segments), rows * length), dtype=np.float32)
        for i, (row, start, end) in enumerate(self.segments):
            pool[i, row * length + start : row * length + end] = 1.0 / (end - start)
        return pool


def pack(token_ids: list[list[int]], row_tokens: int, pad_id: int = 0) -> Packed:
    """Lay the texts out first-fit, longest first, in rows of at most `row_tokens` (which must hold the longest).

    A reply's short sentences then cost their own tokens, not the longest sentence's length times their number,
    and the hidden states are still those of encoding each text alone (tests/test_minilm.py checks this).
    """
    if not token_ids:
        raise ValueError("nothing to pack")
    if max(len(t) for t in token_ids) > row_tokens:
        raise ValueError(f"a text of {max(len(t) for t in token_ids)} tokens does not fit a row of {row_tokens}")
    order = sorted(range(len(token_ids)), key=lambda i: -len(token_ids[i]))
    fill: list[int] = []
    placed: dict[int, tuple[int, int]] = {}
    for i in order:
        n = len(token_ids[i])
        row = next((r for r, used in enumerate(fill) if used + n <= row_tokens), None)
        if row is None:
            fill.append(0)
            row = len(fill) - 1
        placed[i] = (row, fill[row])
        fill[row] += n
    length = max(fill)
    ids = np.full((len(fill), length), pad_id, dtype=np.int64)
    positions = np.zeros((len(fill), length), dtype=np.int64)
    segment_of = np.full((len(fill), length), -1, dtype=np.int64)
    segments: list[tuple[int, int, int]] = []
    for i, tokens in enumerate(token_ids):
        row, start = placed[i]
        end = start + len(tokens)
        ids[row, start:end] = tokens
        positions[row, start:end] = np.arange(end - start)
        segment_of[row, start:end] = i
        segments.append((row, start, end))
    allowed = (segment_of[:, :, None] == segment_of[:, None, :]) & (segment_of[:, None, :] >= 0)
    return Packed(ids, allowed, positions, segments)
