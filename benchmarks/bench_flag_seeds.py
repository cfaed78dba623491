"""How much a red-flag network's grouped-CV recall depends on its random seed alone.

    .venv/bin/python benchmarks/bench_flag_seeds.py [--seeds 4] [--alpha 1.0]

Encodes the train split's red-flag rows (noisy copies included, as `frontline train` does) once with the
shipped encoder, then fits the flags' shared network (`train.fit_flag_network`) on grouped-CV folds once per
seed (a single network, where `frontline train` averages FLAG_MLP_SEEDS of them) and prints each flag's best
recall at MIN_FLAG_PRECISION. `frontline train` chooses between network and logistic heads by margins
(FLAG_NETWORK_GAIN, FLAG_EITHER_GAIN) that these figures should be read against.
About 5 minutes for four seeds on 2 CPUs. Reads only the train split.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.content.library import Library  # noqa: E402
from simulator.scoring.data import (  # noqa: E402
    default_data_files, default_flag_files, group_folds, load_examples, split, with_flag_labels,
)
from simulator.scoring.encoder import Encoder  # noqa: E402
from simulator.scoring.heads import build_features  # noqa: E402
from simulator.scoring.noise import augment  # noqa: E402
from simulator.scoring.train import (  # noqa: E402
    AUGMENT, FOLDS, MIN_FLAG_PRECISION, RECIPE, best_flag_threshold, encode_examples, fit_flag_network,
)


def best_recall(probability: np.ndarray, truth: np.ndarray) -> float:
    """A flag's recall at the threshold `frontline train` would pick, 0 where none reaches its precision."""
    rank, _, metrics = best_flag_threshold(truth, probability)
    return metrics["recall"] if rank[0] else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--alpha", type=float, default=1.0)
    args = parser.parse_args()
    rubric = Library().rubric("service")
    examples = with_flag_labels(load_examples(default_data_files(), rubric.criterion_ids), default_flag_files())
    train, _ = split(examples)
    rows = [e for e in augment(train, AUGMENT) if e.red_flags is not None]
    started = time.perf_counter()
    encoded = encode_examples(Encoder(), rows)
    x = build_features(RECIPE, encoded.contexts, encoded.stats)
    flags = [f.id for f in rubric.red_flags]
    y = np.array([[f in e.red_flags for f in flags] for e in rows]).astype(int)
    folds = [(tr, va) for tr, va in group_folds(rows, FOLDS) if tr and va]
    print(f"{len(rows)} rows encoded in {time.perf_counter() - started:.0f} s; network alpha {args.alpha}; "
          f"best grouped-CV recall at precision >= {MIN_FLAG_PRECISION}:")
    print(f"{'seed':<6}" + "".join(f"{f:>18}" for f in flags))
    for seed in range(args.seeds):
        predicted = np.zeros(y.shape)
        for tr, va in folds:
            network = fit_flag_network(x[tr], y[tr], args.alpha, RECIPE, flags, seeds=(seed,))
            for j, flag in enumerate(flags):
                predicted[va, j] = network[flag].predict(x[va])
        print(f"{seed:<6}" + "".join(f"{best_recall(predicted[:, j], y[:, j].astype(bool)):>18.3f}"
                                     for j in range(len(flags))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
