"""How many sentences `predict --adapt` needs: adapt on random subsets of a labeled set, then
measure the ECE those temperatures give on the whole set.

`make adapt-check` runs it on the real-news development set (the labels only score the result:
adaptation never sees them) and writes eval/reports/adapt/sample_size.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from claimstance.calibration import MIN_SENTENCES, adapt
from claimstance.data import load_labeled
from claimstance.evaluation import expected_calibration_error
from claimstance.inference import load_classifier, softmax
from claimstance.labels import LABELS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="labeled JSONL (text, label)")
    parser.add_argument("--model", default="model/claimstance-minilm")
    parser.add_argument("--sizes", default=f"{MIN_SENTENCES},200,300")
    parser.add_argument("--draws", type=int, default=200, help="random subsets per size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="eval/reports/adapt/sample_size.md")
    args = parser.parse_args(argv)

    examples = load_labeled(args.data)
    clf = load_classifier(args.model)
    if clf.confidence_threshold is None:
        print(
            f"{args.model}: no confidence threshold; run `claimstance calibrate`", file=sys.stderr
        )
        return 1
    logits = clf.logits([ex.text for ex in examples])[0]
    gold = [LABELS.index(ex.label) for ex in examples]
    rng = np.random.default_rng(args.seed)
    plain = expected_calibration_error(softmax(logits / clf.temperature), gold)
    lines = [
        f"# `predict --adapt` by sample size: {Path(args.data).name}",
        "",
        f"Model `{args.model}` (backend {clf.backend}), {len(gold)} sentences, dev temperature "
        f"{clf.temperature:.2f}: ECE {plain:.3f} on the whole set. For each size, {args.draws} "
        "random subsets (seed "
        f"{args.seed}); the temperature is adapted on the subset alone, without labels, and "
        "the ECE is that temperature's on the whole set. Median [5th, 95th percentile].",
        "",
        "| sentences adapted on | temperature | ECE on the whole set |",
        "| --- | --- | --- |",
    ]
    sizes = [int(s) for s in args.sizes.split(",") if int(s) < len(gold)] + [len(gold)]
    for n in sizes:
        temps, eces = [], []
        for _ in range(args.draws if n < len(gold) else 1):
            pick = rng.choice(len(gold), n, replace=False)
            adapted = adapt(
                logits[pick], clf.temperature, clf.confidence_threshold, min_sentences=1
            )
            assert adapted is not None
            temps.append(adapted.temperature)
            eces.append(expected_calibration_error(softmax(logits / adapted.temperature), gold))
        t, e = np.percentile(temps, [50, 5, 95]), np.percentile(eces, [50, 5, 95])
        lines.append(
            f"| {n} | {t[0]:.2f} [{t[1]:.2f}, {t[2]:.2f}] | {e[0]:.3f} [{e[1]:.3f}, {e[2]:.3f}] |"
        )
    text = "\n".join(lines) + "\n"
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
