"""Held-out evaluation: Spearman, quadratic weighted kappa and macro-F1 per criterion, for Frontline and baselines."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Sequence, TextIO

import numpy as np

from simulator.content.rubric import Rubric
from simulator.scoring.metrics import (  # noqa: F401  (re-exported for callers of evaluate)
    criterion_metrics,
    macro_f1,
    quadratic_weighted_kappa,
    rankdata,
    spearman,
)

SYSTEMS = ("frontline", "exemplar-only", "keyword", "vader")
METRICS = ("spearman", "qwk", "macro_f1")

# -- metrics ----------------------------------------------------------------------------------------------------


def evaluate(
    rubric: Rubric,
    data_files: Sequence[Path],
    *,
    scorer=None,
    systems: Sequence[str] = SYSTEMS,
    log: Callable[[str], None] | None = None,
) -> list[dict[str, object]]:
    """One row per (criterion, system) on the test split: n, spearman, qwk, macro_f1 (None where not applicable).

    "frontline" is `scorer` (the ModelScorer with trained heads where they exist); "exemplar-only" is the same
    encoder scoring every criterion against the rubric's examples, as a criterion without heads would be.
    Baselines are fitted on the train split only.
    """
    from simulator.scoring.baselines import VaderBaseline, keyword_level
    from simulator.scoring.base import ScoreRequest
    from simulator.scoring.data import load_examples, require_every_criterion, split
    from simulator.scoring.model import ModelScorer

    say = log or (lambda _msg: None)
    examples = load_examples(data_files, rubric.criterion_ids, max_level={c.id: c.max_level for c in rubric.criteria})
    require_every_criterion(examples, rubric.criterion_ids, data_files)
    train, test = split(examples)
    if not test:
        raise ValueError("the test split is empty: the labelled data has too few distinct customer lines")
    replies = [e.reply for e in test]
    predictions: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}

    def run(name: str, model) -> None:
        say(f"scoring {len(test)} held-out rows with {name}…")
        requests = [ScoreRequest(reply=e.reply, context=e.context, rubric=rubric) for e in test]
        results = []
        for start in range(0, len(requests), 64):
            results.extend(model.score_many(requests[start : start + 64]))
        predictions[name] = {
            c.id: (np.array([r.criteria[c.id].score for r in results]), np.array([r.criteria[c.id].level for r in results]))
            for c in rubric.criteria
        }

    if "frontline" in systems:
        scorer = scorer or ModelScorer()
        run("frontline", scorer)
    if "exemplar-only" in systems:
        encoder = scorer.encoder if isinstance(scorer, ModelScorer) else None
        run("exemplar-only", ModelScorer(encoder=encoder, use_heads=False))
    if "keyword" in systems:
        predictions["keyword"] = {}
        for c in rubric.criteria:
            levels = [keyword_level(c.id, r, c.max_level) for r in replies]
            if all(level is not None for level in levels):
                lv = np.array(levels, dtype=int)
                predictions["keyword"][c.id] = (lv / c.max_level, lv)
    if "vader" in systems:
        vader = VaderBaseline()
        scores = VaderBaseline.scores(replies)
        predictions["vader"] = {}
        for c in rubric.criteria:
            labelled = [e for e in train if c.id in e.labels]
            vader.fit(c.id, [e.reply for e in labelled], [e.labels[c.id] for e in labelled], c.max_level)
            predictions["vader"][c.id] = (scores, vader.levels(c.id, replies))

    rows: list[dict[str, object]] = []
    for c in rubric.criteria:
        labelled = [i for i, e in enumerate(test) if c.id in e.labels]  # the held-out rows that label c
        truth = np.array([test[i].labels[c.id] for i in labelled])
        for name in systems:
            found = predictions.get(name, {}).get(c.id)
            row: dict[str, object] = {"criterion": c.id, "system": name, "n": len(labelled)}
            metrics = (criterion_metrics(truth, np.asarray(found[0])[labelled], np.asarray(found[1])[labelled],
                                         c.max_level) if found and labelled else {})
            row.update({m: (round(metrics[m], 3) if m in metrics else None) for m in METRICS})
            rows.append(row)
    return rows


def format_table(rows: Sequence[dict[str, object]]) -> str:
    header = f"{'criterion':<18} {'system':<14} {'n':>4} {'spearman':>9} {'qwk':>7} {'macro_f1':>9}"
    lines = [header, "-" * len(header)]
    previous = None
    for row in rows:
        if previous is not None and row["criterion"] != previous:
            lines.append("")
        previous = row["criterion"]
        cells = [f"{row[m]:.3f}" if isinstance(row[m], float) else "n/a" for m in METRICS]
        lines.append(f"{row['criterion']:<18} {row['system']:<14} {row['n']:>4} {cells[0]:>9} {cells[1]:>7} {cells[2]:>9}")
    return "\n".join(lines)


def print_table(rows: Sequence[dict[str, object]], file: TextIO | None = None) -> None:
    print(format_table(rows), file=file or sys.stdout)
