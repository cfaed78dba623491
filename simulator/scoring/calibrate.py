"""Calibrating the scorer to a house: the shipped heads, refitted towards the organisation's own labels.

The shipped heads are the fit of the shipped labelled data (models/data/). Calibration keeps that fit
underneath as a prior: each calibrated head is the logistic head that minimises

    strength * C * sum over the organisation's rows of the log-loss  +  ½ ‖W − W_shipped‖²  (+ a weak term on biases)

on the shipped head's standardised features, where C is the shipped head's own inverse regularisation and
`strength` says how many shipped rows one of the organisation's rows is worth. So where the house agrees with the
shipped data nothing moves, and where it labels differently (a house rule) the head moves as far as the labels
pull it. Only the organisation's rows are encoded, which keeps `frontline calibrate` well under two minutes on a
laptop CPU (re-encoding the 4,000 shipped rows would take several).

`strength` is chosen per criterion by cross-validation over the organisation's rows grouped by customer line,
from STRENGTHS, and 0 (keep the shipped head) is always a candidate: a criterion the labels do not improve on
validation keeps the shipped head exactly.

Agreement is reported before (the shipped heads) and after (the calibrated heads) on a part of the labels that
neither fitting nor choosing `strength` saw, grouped by customer line: every reply to one customer line is on the
same side.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from simulator.content.rubric import Rubric
from simulator.errors import FrontlineError
from simulator.scoring.data import Example, data_hash, load_examples
from simulator.scoring.heads import (
    Head, HeadSet, build_features, heads_dir, load_heads, one_blas_thread, save_heads,
)
from simulator.scoring.metrics import quadratic_weighted_kappa, spearman

STRENGTHS = (0.0, 15.0, 60.0, 240.0)
"""Candidate worths of one organisation row, in shipped rows (0: keep the shipped head)."""
BIAS_PRIOR = 0.01
"""How strongly biases are held to the shipped ones (weights: 1): a house may use levels more or less often."""
HOLDOUT = 0.25
CV_FOLDS = 3
MIN_ROWS = 12


class CalibrationError(FrontlineError, ValueError):
    """The labels cannot calibrate this rubric; the message says why and what to do."""


@dataclass
class CriterionReport:
    criterion: str
    fit_rows: int
    held_rows: int
    strength: float
    before: dict[str, float] = field(default_factory=dict)
    """spearman, qwk, exact on the held-out rows with the shipped head."""
    after: dict[str, float] = field(default_factory=dict)


@dataclass
class CalibrationReport:
    rubric_id: str
    folder: Path | None
    fit_lines: int
    held_lines: int
    criteria: list[CriterionReport]
    version: str = ""


def _line_key(context: str) -> str:
    return " ".join(context.lower().split())


def split_by_line(examples: Sequence[Example], holdout: float = HOLDOUT) -> tuple[list[Example], list[Example]]:
    """(fit, held out): about `holdout` of the customer lines (at least one) are held out, chosen by a hash of
    the line, so the same labels always split the same way and every reply to a line is on one side."""
    lines = sorted({_line_key(e.context) for e in examples},
                   key=lambda k: hashlib.sha256(("calibrate:" + k).encode()).hexdigest())
    if len(lines) < 2:
        raise CalibrationError("the labels hold replies to only one customer line; agreement is measured on "
                               "customer lines calibration did not fit on, so label replies to several lines")
    n_held = min(len(lines) - 1, max(1, round(len(lines) * holdout)))
    held = set(lines[:n_held])
    return ([e for e in examples if _line_key(e.context) not in held],
            [e for e in examples if _line_key(e.context) in held])


def _line_folds(examples: Sequence[Example], k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    keys = [_line_key(e.context) for e in examples]
    order = sorted(set(keys), key=lambda s: hashlib.sha256(("fold:" + s).encode()).hexdigest())
    fold_of = {key: i % k for i, key in enumerate(order)}
    folds = []
    for f in range(min(k, len(order))):
        val = np.array([i for i, key in enumerate(keys) if fold_of[key] == f])
        tr = np.array([i for i, key in enumerate(keys) if fold_of[key] != f])
        if len(val) and len(tr):
            folds.append((tr, val))
    return folds


def fit_towards(base: Head, features: np.ndarray, levels: np.ndarray, strength: float) -> Head:
    """The head minimising strength·C·log-loss on (features, levels) + ½‖W − W_base‖² + ½·BIAS_PRIOR‖b − b_base‖².

    The log-loss sees W only through X·Wᵀ (X: the n standardised rows), so the minimiser's W − W_base lies in
    the span of those rows. The problem is solved there exactly: with X Xᵀ = U S Uᵀ, W − W_base = Dᵀ Vᵀ where
    V = Xᵀ U S^-½ is orthonormal, X·(W − W_base)ᵀ = U S^½ D and ‖W − W_base‖ = ‖D‖. That is n×levels unknowns
    instead of features×levels (hundreds, not ten thousand), so each of the optimiser's steps is a small
    product rather than a pass over the n × 3,840 feature matrix; with many small BLAS calls under a busy CPU
    that difference was minutes per `frontline calibrate`."""
    if strength <= 0 or len(levels) == 0:
        return base
    from scipy.optimize import minimize

    c = float(base.info.get("C", 0.01))
    a = strength * c
    x64 = ((features - base.mean) / base.scale).astype(np.float64)
    k, _f = base.weights.shape
    onehot = np.zeros((len(levels), k))
    onehot[np.arange(len(levels)), levels] = 1.0
    w0 = base.weights.astype(np.float64)
    b0 = base.bias.astype(np.float64)
    gram = x64 @ x64.T
    eigval, eigvec = np.linalg.eigh(gram)
    keep = eigval > max(float(eigval.max()), 1e-12) * 1e-10
    eigval, eigvec = eigval[keep], eigvec[:, keep]
    z = eigvec * np.sqrt(eigval)  # n × r: the rows' coordinates in the orthonormal basis V of their span
    offset = x64 @ w0.T  # the shipped head's logits, less its bias
    r = z.shape[1]

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        d = theta[: r * k].reshape(r, k)
        b = theta[r * k:]
        logits = offset + z @ d + b
        logits -= logits.max(axis=1, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        p = np.exp(logp)
        value = -a * float((onehot * logp).sum()) + 0.5 * float((d ** 2).sum()) \
            + 0.5 * BIAS_PRIOR * float(((b - b0) ** 2).sum())
        diff = a * (p - onehot)
        grad_d = z.T @ diff + d
        grad_b = diff.sum(axis=0) + BIAS_PRIOR * (b - b0)
        return value, np.concatenate([grad_d.ravel(), grad_b])

    start = np.concatenate([np.zeros(r * k), b0])
    result = minimize(loss, start, jac=True, method="L-BFGS-B", options={"maxiter": 1000})
    d = result.x[: r * k].reshape(r, k)
    basis = x64.T @ (eigvec / np.sqrt(eigval))  # features × r, orthonormal columns
    weights = w0 + (basis @ d).T
    return Head(criterion=base.criterion, recipe=base.recipe, mean=base.mean, scale=base.scale,
                weights=weights.astype(np.float32), bias=result.x[r * k:].astype(np.float32),
                max_level=base.max_level, kind=base.kind, combine=base.combine,
                info={**base.info, "calibration_strength": strength})


def agreement(truth: np.ndarray, scores: np.ndarray, max_level: int) -> dict[str, float]:
    """Spearman (scores), QWK and exact-level agreement (the rubric's levels of the scores)."""
    levels = np.clip(np.round(np.clip(scores, 0, 1) * max_level), 0, max_level).astype(int)
    return {
        "spearman": spearman(scores, truth),
        "qwk": quadratic_weighted_kappa(truth, levels, max_level + 1),
        "exact": float((levels == truth).mean()) if len(truth) else 0.0,
    }


def _choose_strength(base: Head, features: np.ndarray, levels: np.ndarray, examples: Sequence[Example],
                     strengths: Sequence[float]) -> float:
    folds = _line_folds(examples, CV_FOLDS)
    if not folds or len(set(levels.tolist())) < 2:
        return 0.0
    best, best_key = 0.0, -np.inf
    for strength in strengths:
        predicted = np.zeros(len(levels))
        for tr, va in folds:
            predicted[va] = fit_towards(base, features[tr], levels[tr], strength).predict(features[va])
        m = agreement(levels, predicted, base.max_level)
        key = m["spearman"] + m["qwk"]
        if key > best_key + 1e-9:  # ties keep the smaller strength (the shipped head first)
            best, best_key = strength, key
    return best


def load_labels(files: Sequence[Path], rubric: Rubric) -> list[Example]:
    """The organisation's labelled rows for `rubric` (training format; `frontline export-labels` writes it)."""
    for path in files:
        if not Path(path).is_file():
            raise CalibrationError(f"{path}: no such labels file; give the JSONL that `frontline export-labels` "
                                   "wrote, or a hand-labelled file in the training format")
    examples = load_examples(files, rubric.criterion_ids, max_level={c.id: c.max_level for c in rubric.criteria})
    if len(examples) < MIN_ROWS:
        raise CalibrationError(f"only {len(examples)} labelled row(s) for rubric {rubric.id!r}; calibration needs "
                               f"at least {MIN_ROWS} (docs/calibration.md: about 120 move a house rule)")
    return examples


def calibrate(
    rubric: Rubric,
    fit: Sequence[Example],
    held: Sequence[Example],
    *,
    encoder=None,
    base_folder: Path | None = None,
    out: Path | None = None,
    labels_hash: str = "",
    strengths: Sequence[float] = STRENGTHS,
    criteria: Sequence[str] | None = None,
    features_for: Callable[[Sequence[Example], tuple[str, ...]], np.ndarray] | None = None,
    log: Callable[[str], None] | None = None,
) -> CalibrationReport:
    """Fit calibrated heads for `rubric` on `fit`, measure before/after on `held`, and (with `out`) write a
    scorer folder: the calibrated heads plus copies of the shipped heads of every other rubric.

    `criteria`: refit only these (the ones a house rule changes); every other criterion keeps its shipped head
    exactly, whatever the labels say about it (its agreement is still reported)."""
    say = log or (lambda _m: None)
    known = [c.id for c in rubric.criteria]
    if criteria is not None:
        unknown = [c for c in criteria if c not in known]
        if unknown or not criteria:
            raise CalibrationError(f"--criteria {' '.join(unknown) or '(none)'}: rubric {rubric.id!r} has the "
                                   f"criteria {', '.join(known)}")
    base_folder = base_folder or heads_dir()
    shipped = load_heads(rubric.id, base_folder)
    if shipped is None or not all(c.id in shipped.heads for c in rubric.criteria):
        raise CalibrationError(f"rubric {rubric.id!r} has no trained heads in {base_folder} to calibrate; train "
                               f"them first with `frontline train --rubric {rubric.id}`")
    if features_for is None:
        from simulator.scoring.encoder import Encoder
        from simulator.scoring.train import encode_examples

        encoder = encoder or Encoder()
        cache: dict[int, object] = {}

        def features_for(rows: Sequence[Example], recipe: tuple[str, ...]) -> np.ndarray:
            key = id(rows)
            if key not in cache:
                cache[key] = encode_examples(encoder, rows)
            encoded = cache[key]
            return build_features(recipe, encoded.contexts, encoded.stats)  # type: ignore[attr-defined]

    say(f"encoding {len(fit)} rows to fit on and {len(held)} held-out rows…")
    fit, held = list(fit), list(held)
    # red-flag heads and evidence taggers are kept as shipped: only the criteria are fitted to the house
    heads: dict[str, Head] = {key: head for key, head in shipped.heads.items() if key not in rubric.criterion_ids}
    reports: list[CriterionReport] = []
    for criterion in rubric.criteria:
        base = shipped.heads[criterion.id]
        fit_idx = [i for i, e in enumerate(fit) if criterion.id in e.labels]
        held_idx = [i for i, e in enumerate(held) if criterion.id in e.labels]
        report = CriterionReport(criterion.id, len(fit_idx), len(held_idx), 0.0)
        head = base
        if len(fit_idx) >= MIN_ROWS and (criteria is None or criterion.id in criteria):
            features = features_for(fit, base.recipe)[fit_idx] if fit_idx else np.zeros((0, 1))
            levels = np.array([fit[i].labels[criterion.id] for i in fit_idx])
            subset = [fit[i] for i in fit_idx]
            with one_blas_thread():
                report.strength = _choose_strength(base, features, levels, subset, strengths)
                head = fit_towards(base, features, levels, report.strength)
        if held_idx:
            held_features = features_for(held, base.recipe)[held_idx]
            truth = np.array([held[i].labels[criterion.id] for i in held_idx])
            report.before = agreement(truth, base.predict(held_features), criterion.max_level)
            report.after = agreement(truth, head.predict(held_features), criterion.max_level)
        say(f"  {criterion.id}: strength {report.strength:g} (rows fitted {report.fit_rows}, held out "
            f"{report.held_rows})")
        heads[criterion.id] = head
        reports.append(report)
    fit_lines = len({_line_key(e.context) for e in fit})
    held_lines = len({_line_key(e.context) for e in held})
    result = CalibrationReport(rubric.id, out, fit_lines, held_lines, reports)
    if out is not None:
        meta = dict(shipped.meta)
        meta.pop("criteria", None)
        only = "" if criteria is None else "+only:" + ",".join(sorted(criteria))  # a different scorer, a new version
        meta["data_hash"] = hashlib.sha256(f"{shipped.data_hash}+{labels_hash}{only}".encode()).hexdigest()
        meta["calibration"] = {
            "labels_hash": labels_hash,
            "shipped_data_hash": shipped.data_hash,
            "rows": {"fit": len(fit), "held_out": len(held)},
            "lines": {"fit": fit_lines, "held_out": held_lines},
            "strength": {r.criterion: r.strength for r in reports},
            "criteria": list(criteria) if criteria is not None else known,
            "held_out_agreement": {r.criterion: {"before": r.before, "after": r.after} for r in reports},
        }
        write_folder(HeadSet(rubric_id=rubric.id, heads=heads, meta=meta), out, base_folder)
    return result


def write_folder(heads: HeadSet, out: Path, base_folder: Path) -> None:
    """Write the calibrated heads to `out`, with the shipped heads of the other rubrics copied beside them."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise CalibrationError(f"--out {out} is a file; give a folder for the calibrated scorer")
    out.mkdir(parents=True, exist_ok=True)
    for meta_path in sorted(Path(base_folder).glob("*.json")):
        rubric_id = meta_path.stem
        if rubric_id == heads.rubric_id:
            continue
        npz = meta_path.with_suffix(".npz")
        if npz.is_file():
            shutil.copyfile(meta_path, out / meta_path.name)
            shutil.copyfile(npz, out / npz.name)
    save_heads(heads, out)


def labels_digest(files: Sequence[Path]) -> str:
    return data_hash(files)


def format_report(report: CalibrationReport) -> str:
    lines = [f"Calibration of rubric {report.rubric_id}: fitted on {report.fit_lines} customer line(s), "
             f"measured on {report.held_lines} held-out line(s) it did not fit on", ""]
    head = f"{'criterion':<20} {'rows':>9}  {'Spearman':>17}  {'QWK':>17}  {'exact level':>17}"
    lines += [head, f"{'':<20} {'fit/held':>9}  {'before → after':>17}  {'before → after':>17}  "
                    f"{'before → after':>17}"]
    for r in report.criteria:
        cells = []
        for key in ("spearman", "qwk", "exact"):
            if r.before:
                cells.append(f"{r.before[key]:.2f} → {r.after[key]:.2f} ({r.after[key] - r.before[key]:+.2f})")
            else:
                cells.append("-")
        lines.append(f"{r.criterion:<20} {f'{r.fit_rows}/{r.held_rows}':>9}  " + "  ".join(f"{c:>17}" for c in cells)
                     + ("" if r.strength else "   (shipped head kept)"))
    return "\n".join(lines) + "\n"


def report_json(report: CalibrationReport) -> str:
    return json.dumps({
        "rubric": report.rubric_id, "folder": str(report.folder) if report.folder else None,
        "lines": {"fit": report.fit_lines, "held_out": report.held_lines},
        "criteria": {r.criterion: {"rows": {"fit": r.fit_rows, "held_out": r.held_rows}, "strength": r.strength,
                                   "before": r.before, "after": r.after} for r in report.criteria},
    }, indent=2) + "\n"
