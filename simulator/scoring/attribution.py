"""Phrase-level evidence: which words of a reply drove each criterion's score.

A head reads features that are linear in the sentence embeddings (means, the sentence that holds each
dimension's max or min, products with the fixed customer line), and a sentence embedding is the mean of its
word-pieces' hidden states divided by a norm. So, with the max/min sentences and the norms held where they are,
each criterion's logits split exactly into one share per word-piece. Weighted by how much each logit moves the
score (the softmax's gradient at this reply), the shares say how far each word pushed this criterion's score up
or down. Shares are taken against the reply's average word-piece, so words that every reply has count for
nothing; they are summed per word, then per phrase (clauses cut at punctuation and conjunctions), and the
phrases that pushed the score the way it went are the evidence, trimmed of words at their edges that pushed the
other way. Every criterion has its own weights, so the phrases differ where the reply does.

numpy only; computed from the token states the encoder already produced for scoring, so it costs no forward.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from simulator.scoring.encoder import LAYERS, TokenStates

Span = tuple[int, int]

CONJUNCTIONS = frozenset(
    "but and so because although though while or unless if then which as whereas yet plus otherwise".split()
)
"""A phrase starts at one of these words: "I'm sorry | but you should have checked"."""
_BREAK_AFTER = re.compile(r"[,;:()\[\]—–]$|\.\.\.$|[.!?…]['\")”’]*$")
_WORD = re.compile(r"\S+")
_EDGE_PUNCT = "\"'“”‘’()[]{},;:.!?…—–-"
SECONDARY = 0.5
"""A further phrase is shown only if it pushed (or was marked) at least this share of the strongest one."""


@dataclass(frozen=True)
class Sentence:
    """One unit of the reply as the encoder read it: where it stands, its tokens, and its embedding layers."""

    start: int
    """Character offset of the sentence in the reply."""
    tokens: TokenStates
    layers: np.ndarray
    """(len(LAYERS), D) the sentence's pooled, normalised embedding at each layer."""


def sentence_weights(recipe: Sequence[str], weights: np.ndarray, context: np.ndarray, layers: np.ndarray) -> np.ndarray:
    """(k, len(LAYERS), D): per sentence and layer, the vector that, dotted with that sentence's embedding,
    gives its share of the head's output `weights @ features` (weights (F,) already folded over levels and
    divided by the features' scale). context (L, D); layers (k, L, D) the sentences' embeddings."""
    k, n_layers, dim = layers.shape
    out = np.zeros((k, n_layers, dim), dtype=np.float64)
    at = 0
    for item in recipe:
        name, _, layer_text = item.partition("@")
        layer = LAYERS.index(int(layer_text))
        block = weights[at : at + dim]
        at += dim
        if name == "smean":
            out[:, layer] += block / k
        elif name == "x":
            out[:, layer] += block * context[layer] / k
        elif name in ("smax", "smin"):
            holder = (layers[:, layer].argmax(axis=0) if name == "smax" else layers[:, layer].argmin(axis=0))
            out[holder, layer, np.arange(dim)] += block
        # "c" (the customer line) is the same whatever the reply says: no share for any word
    return out


def word_shares(text: str, sentences: Sequence[Sentence], per_sentence: np.ndarray) -> tuple[list[Span], np.ndarray]:
    """The words of `text` (whitespace-separated, as (start, end)) and each one's share of the output.

    per_sentence: (k, L, D) from `sentence_weights`. A word-piece's share is its hidden state minus the reply's
    average word-piece at that layer, over the sentence's length and norm, dotted with the sentence's vector."""
    words = [m.span() for m in _WORD.finditer(text)]
    shares = np.zeros(len(words), dtype=np.float64)
    real = [s.tokens.states[~s.tokens.special] for s in sentences]
    if not words or not any(len(r) for r in real):
        return words, shares
    reference = np.concatenate([r for r in real if len(r)]).mean(axis=0)  # (L, D)
    for sentence, vector in zip(sentences, per_sentence):
        tokens = sentence.tokens
        scaled = vector / (len(tokens.states) * tokens.norms[:, None])  # (L, D)
        pieces, word = _word_of_each_piece(words, sentence)
        piece_share = np.einsum("nld,ld->n", tokens.states[pieces] - reference[None], scaled)
        shares += np.bincount(word, weights=piece_share, minlength=len(words))
    return words, shares


def _word_of_each_piece(words: list[Span], sentence: Sentence) -> tuple[np.ndarray, np.ndarray]:
    """(indices of the sentence's word-pieces that fall in a word, the word each falls in)."""
    tokens = sentence.tokens
    starts = np.fromiter((w[0] for w in words), dtype=np.int64, count=len(words))
    ends = np.fromiter((w[1] for w in words), dtype=np.int64, count=len(words))
    real = ~tokens.special & (tokens.offsets[:, 1] > tokens.offsets[:, 0])
    pieces = np.flatnonzero(real)
    positions = sentence.start + tokens.offsets[pieces, 0]
    word = np.searchsorted(ends, positions, side="right")
    inside = word < len(words)
    inside[inside] &= starts[word[inside]] <= positions[inside]
    return pieces[inside], word[inside]


def word_features(text: str, sentences: Sequence[Sentence]) -> tuple[list[Span], np.ndarray, np.ndarray]:
    """What an evidence tagger reads about each word of `text`: (words, features (w, 4 * D), has_tokens (w,)).

    A word's features are its word-pieces' mean hidden state at each of LAYERS and the last-layer embedding of
    the sentence it stands in (what the rest of the sentence says); words the encoder never saw (past the
    window, or punctuation alone) have no tokens and zero features."""
    words = [m.span() for m in _WORD.finditer(text)]
    if not words or not sentences:
        return words, np.zeros((len(words), 0), dtype=np.float32), np.zeros(len(words), dtype=bool)
    n_layers, dim = sentences[0].tokens.states.shape[1:]
    features = np.zeros((len(words), (n_layers + 1) * dim), dtype=np.float32)
    counts = np.zeros(len(words), dtype=np.int64)
    for sentence in sentences:
        pieces, word = _word_of_each_piece(words, sentence)
        if not len(pieces):
            continue
        # a word's pieces are consecutive (`word` never decreases), so each word's sum is one reduceat slice
        each, first = np.unique(word, return_index=True)
        features[each, : n_layers * dim] += np.add.reduceat(
            sentence.tokens.states[pieces].reshape(len(pieces), -1), first, axis=0)
        counts[each] += np.diff(np.append(first, len(word)))
        features[each, n_layers * dim :] = sentence.layers[-1]
    features[:, : n_layers * dim] /= np.maximum(counts, 1)[:, None]
    return words, features, counts > 0


def tagged_phrases(text: str, words: list[Span], probability: np.ndarray, *, limit: int,
                   threshold: float = 0.5) -> list[str]:
    """Evidence from a tagger's per-word probability: in each phrase, the words from the first to the last the
    tagger marks (>= threshold); phrases by their marked words' summed probability, strongest first, further
    ones only if at least SECONDARY of the strongest. Empty when the tagger marks nothing."""
    candidates: list[tuple[float, int, int]] = []
    for group in phrases(text, words):
        marked = [i for i in group if probability[i] >= threshold
                  and not (i == group[0] and _is_conjunction(text, words[i]))]
        if marked:
            lo, hi = marked[0], marked[-1]
            candidates.append((float(probability[lo : hi + 1].sum()), lo, hi))
    return _texts(text, words, _strongest(candidates, limit))


def phrases(text: str, words: list[Span]) -> list[list[int]]:
    """Word indices of each phrase: cut after punctuation that ends a clause and before a conjunction."""
    out: list[list[int]] = []
    current: list[int] = []
    for i, (a, b) in enumerate(words):
        token = text[a:b]
        bare = token.strip(_EDGE_PUNCT).lower()
        gap = text[words[i - 1][1] : a] if i else ""
        if current and (bare in CONJUNCTIONS or "\n" in gap):
            out.append(current)
            current = []
        current.append(i)
        if _BREAK_AFTER.search(token):
            out.append(current)
            current = []
    if current:
        out.append(current)
    return out


def evidence_phrases(text: str, words: list[Span], shares: np.ndarray, *, upward: bool, limit: int) -> list[str]:
    """The phrases that pushed the score the way it went (`upward`: up), strongest first, at most `limit`,
    each trimmed of words at its edges that pushed the other way (keeping two words at least); always at least
    one when the text has words."""
    if not words:
        return []
    signed = shares if upward else -shares
    candidates: list[tuple[float, int, int]] = []
    for group in phrases(text, words):
        lo, hi = group[0], group[-1]
        while lo < hi and _is_conjunction(text, words[lo]):
            lo += 1
        while hi - lo >= 2 and signed[lo] < 0:
            lo += 1
        while hi - lo >= 2 and signed[hi] < 0:
            hi -= 1
        candidates.append((float(signed[lo : hi + 1].sum()), lo, hi))
    chosen = _strongest(candidates, limit) or [min(candidates, key=lambda c: -c[0])]
    return _texts(text, words, chosen)


def _is_conjunction(text: str, word: Span) -> bool:
    return text[word[0] : word[1]].strip(_EDGE_PUNCT).lower() in CONJUNCTIONS


def _strongest(candidates: list[tuple[float, int, int]], limit: int) -> list[tuple[float, int, int]]:
    """The strongest candidate phrases ((strength, first word, last word)), at most `limit`: those that pushed
    (strength above 0) and by at least SECONDARY of the strongest, strongest first."""
    ranked = sorted(candidates, key=lambda c: -c[0])
    return [c for c in ranked if c[0] > 0 and c[0] >= SECONDARY * ranked[0][0]][:limit]


def _texts(text: str, words: list[Span], chosen: list[tuple[float, int, int]]) -> list[str]:
    """Each chosen phrase's text, once, without trailing separators."""
    out: list[str] = []
    for _, lo, hi in chosen:
        phrase = text[words[lo][0] : words[hi][1]].strip().rstrip(",;:—–-").strip()
        if phrase and phrase not in out:
            out.append(phrase)
    return out
