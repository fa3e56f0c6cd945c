"""Weight-space ensembling with the base model (WiSE-FT): does pulling the fine-tuned encoder back
toward the pretrained all-MiniLM-L6-v2 weights carry better to real news?

For each alpha, every encoder weight becomes alpha * fine-tuned + (1 - alpha) * pretrained. The
classification head (absent from the base model) and, by default, the pooler (present in the base
checkpoint but unused by sentence-transformers, which mean-pools, so its pretrained weights mean
nothing to the head) stay fine-tuned (`--keep`). The script scores each mix on labeled JSONL files
(torch backend, argmax labels): macro-F1, accuracy and the F1 of the two rarest acts. Analysis
only: nothing is written to the model dir.

    python eval/wise_ft.py --model model/claimstance-minilm --alphas 1,0.9,0.8,0.6 \
        data/corpus/dev.jsonl ../shared/realnews/dev.jsonl
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch
from safetensors.torch import load_file

from claimstance import backends, modeling
from claimstance.config import BASE_MODEL
from claimstance.data import load_labeled
from claimstance.evaluation import compute_metrics
from claimstance.inference import Classifier
from claimstance.labels import LABELS


def interpolate(
    finetuned: dict[str, torch.Tensor],
    pretrained: dict[str, torch.Tensor],
    alpha: float,
    keep: tuple[str, ...] = (),
) -> tuple[dict[str, torch.Tensor], int]:
    """The mixed state dict, and how many tensors were mixed (those the base model also has,
    under the same name or without the `bert.` prefix, and whose name (without `bert.`) does not
    start with one of `keep`; the rest are kept as fine-tuned)."""
    mixed, count = {}, 0
    for name, value in finetuned.items():
        short = name.removeprefix("bert.")
        base = pretrained.get(name, pretrained.get(short))
        if (
            base is not None
            and not short.startswith(keep)
            and value.is_floating_point()
            and base.shape == value.shape
        ):
            mixed[name] = alpha * value + (1 - alpha) * base.to(value.dtype)
            count += 1
        else:
            mixed[name] = value
    return mixed, count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="+", help="labeled JSONL files to score")
    parser.add_argument("--model", default="model/claimstance-minilm")
    parser.add_argument("--base-model", default=BASE_MODEL)
    parser.add_argument("--alphas", default="1,0.9,0.8,0.7,0.6")
    parser.add_argument(
        "--keep",
        default="pooler",
        help="comma-separated name prefixes (without `bert.`) never mixed; '' mixes the pooler too",
    )
    args = parser.parse_args(argv)

    model = modeling.load(args.model).model.eval()
    pretrained = load_file(str(modeling.resolve_base_model(args.base_model) / "model.safetensors"))
    finetuned = {k: v.clone() for k, v in model.state_dict().items()}

    # the project's batching and tokenizing, over the one model whose weights each alpha mixes
    classifier = Classifier(
        backends.open_model_dir(args.model), backends.model_runner(model), "torch"
    )
    sets = {path: load_labeled(path) for path in args.data}
    keep = tuple(k for k in args.keep.split(",") if k)
    cols = "macro-F1 | accuracy | pledge F1 | warning F1"
    print("| alpha | " + " | ".join(f"{p}: {cols}" for p in sets) + " |")
    print("| --- | " + " | ".join("--- | --- | --- | ---" for _ in sets) + " |")
    for alpha in (float(a) for a in args.alphas.split(",")):
        mixed, count = interpolate(finetuned, pretrained, alpha, keep)
        if count == 0:
            print(f"{args.base_model}: no weight matches the model's", file=sys.stderr)
            return 1
        model.load_state_dict(mixed)
        cells = []
        for examples in sets.values():
            logits, _ = classifier.logits([ex.text for ex in examples])
            preds = [LABELS[i] for i in np.argmax(logits, axis=1)]
            m = compute_metrics([ex.label for ex in examples], preds)
            f1 = {label: m["per_label"][label]["f1"] for label in ("pledge", "warning")}
            cells.append(
                f"{m['macro_f1']:.3f} | {m['accuracy']:.3f} | {f1['pledge']:.3f} | "
                f"{f1['warning']:.3f}"
            )
        print(f"| {alpha:.2f} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
