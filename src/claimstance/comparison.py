"""`claimstance compare`: every system on the corpus test split and on real news, in one report.

Systems: the three baselines of baselines.py, fitted on the corpus train split (their one knob
chosen on dev), and the fine-tuned model with the backend users get. For each data set: macro-F1
with a bootstrap 95% interval, accuracy, per-label F1, expected calibration error. For the model:
ECE before and after temperature scaling, a reliability diagram, the confusion matrix, its most
confident errors per (gold, predicted) pair, and an ablation table of every model dir trained
from train/configs/ablations/*.toml (and the ensemble of the seed runs) that is present.

Real-news sentences never enter the committed report: errors there are cited by line number, and
their texts go to `realnews-errors.jsonl`, which .gitignore keeps out of the repository.
"""

from __future__ import annotations

import json
import logging
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from claimstance import provenance
from claimstance.config import BASE_MODEL, DEFAULT_MODEL_DIR, stale_reason
from claimstance.data import LabeledExample, load_labeled
from claimstance.ensemble import is_ensemble_dir
from claimstance.evaluation import (
    adapted_calibration,
    compute_metrics,
    expected_calibration_error,
)
from claimstance.labels import LABELS

logger = logging.getLogger(__name__)

MAIN = "claimstance"
TARGETS = {"macro_f1": 0.80, "margin_over_best_baseline": 0.15, "pledge_f1": 0.70}
TARGETS |= {"warning_f1": 0.70, "ece": 0.05}


@dataclass
class CompareConfig:
    model_dir: str = DEFAULT_MODEL_DIR
    train_file: str = "data/corpus/train.jsonl"
    dev_file: str = "data/corpus/dev.jsonl"
    test_file: str = "data/corpus/test.jsonl"
    realnews_file: str | None = "../shared/realnews/dev.jsonl"
    # The example sentences of the label guidelines, each with the rule it shows: plain, short
    # sentences that a model fitted to long corpus sentences gets wrong (scored, not trained on).
    probes_file: str | None = "eval/probes/guidelines.jsonl"
    out_dir: str = "eval/reports/comparison"
    ablations: str = "train/configs/ablations"
    base_config: str = "train/configs/base.toml"  # the default model's config (staleness check)
    base_model: str = BASE_MODEL
    bootstrap: int = 1000
    seed: int = 0
    backend: str = "auto"
    progress: bool = False


def bootstrap_macro_f1(
    gold: Sequence[str], pred: Sequence[str], samples: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """A 95% percentile interval of macro-F1 over sentences resampled with replacement."""
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(seed)
    g, p = np.asarray(gold), np.asarray(pred)
    scores = [
        f1_score(g[idx], p[idx], labels=list(LABELS), average="macro", zero_division=0)
        for idx in (rng.integers(0, len(g), len(g)) for _ in range(samples))
    ]
    lo, hi = np.percentile(scores, [2.5, 97.5])
    return float(lo), float(hi)


def paired_bootstrap_gap(
    gold: Sequence[str],
    pred_a: Sequence[str],
    pred_b: Sequence[str],
    samples: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """95% interval of macro-F1(a) - macro-F1(b) on the same resampled sentences."""
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(seed)
    g, a, b = np.asarray(gold), np.asarray(pred_a), np.asarray(pred_b)
    gaps = []
    for _ in range(samples):
        idx = rng.integers(0, len(g), len(g))
        fa = f1_score(g[idx], a[idx], labels=list(LABELS), average="macro", zero_division=0)
        fb = f1_score(g[idx], b[idx], labels=list(LABELS), average="macro", zero_division=0)
        gaps.append(fa - fb)
    lo, hi = np.percentile(gaps, [2.5, 97.5])
    return float(lo), float(hi)


def _score(
    gold: list[str], probs: np.ndarray, cfg: CompareConfig, with_ci: bool = True
) -> dict[str, Any]:
    pred = [LABELS[i] for i in probs.argmax(1)]
    m = compute_metrics(gold, pred, probs)
    if with_ci:
        m["macro_f1_ci95"] = bootstrap_macro_f1(gold, pred, cfg.bootstrap, cfg.seed)
    m["pred"] = pred
    return m


def compare(cfg: CompareConfig) -> dict[str, Any]:
    """Fit the baselines, score every system and ablation, write the report into cfg.out_dir.

    Returns:
        The metrics written to metrics.json.

    Raises:
        DataError: a data file is missing or malformed.
        ModelDirError: the main model dir is missing or broken.
    """
    from claimstance.baselines import CueLexicon, EmbeddingLogReg, TfidfLogReg
    from claimstance.inference import load_classifier, softmax

    train, dev = load_labeled(cfg.train_file), load_labeled(cfg.dev_file)
    sets: dict[str, list[LabeledExample]] = {"test": load_labeled(cfg.test_file)}
    if cfg.realnews_file and Path(cfg.realnews_file).is_file():
        sets["realnews"] = load_labeled(cfg.realnews_file)
    else:
        logger.warning(
            "%s not found: the report covers the corpus test split only", cfg.realnews_file
        )
    texts = {name: [ex.text for ex in exs] for name, exs in sets.items()}
    gold = {name: [ex.label for ex in exs] for name, exs in sets.items()}
    tx, ty = [ex.text for ex in train], [ex.label for ex in train]
    dx, dy = [ex.text for ex in dev], [ex.label for ex in dev]

    systems: dict[str, Callable[[list[str]], np.ndarray]] = {}
    logger.info("fitting the cue lexicon, TF-IDF and embedding baselines on %s", cfg.train_file)
    systems[CueLexicon.name] = CueLexicon().fit(tx, ty).predict_proba
    systems[TfidfLogReg.name] = TfidfLogReg().fit(tx, ty, dx, dy).predict_proba
    emb = EmbeddingLogReg(cfg.base_model, progress=cfg.progress).fit(tx, ty, dx, dy)
    systems[EmbeddingLogReg.name] = emb.predict_proba

    classifier = load_classifier(cfg.model_dir, backend=cfg.backend, progress=cfg.progress)
    logits = {name: classifier.logits(t)[0] for name, t in texts.items()}
    results: dict[str, dict[str, Any]] = {}
    for system, proba in systems.items():
        logger.info("scoring %s", system)
        results[system] = {name: _score(gold[name], proba(t), cfg) for name, t in texts.items()}
    # the model's logits are computed once and serve the scores, calibration and errors alike
    results[MAIN] = {
        name: _score(gold[name], _cal(logits[name], classifier), cfg) for name in texts
    }

    gold_ids = {name: [LABELS.index(g) for g in gold[name]] for name in texts}
    calibration = {
        name: {
            "temperature": classifier.temperature,
            "ece_before": expected_calibration_error(softmax(logits[name]), gold_ids[name]),
            "ece_after": expected_calibration_error(_cal(logits[name], classifier), gold_ids[name]),
            **_adapted(logits[name], gold_ids[name], classifier, results[MAIN][name]),
        }
        for name in texts
    }
    gaps = {}
    baselines = [s for s in systems if s != MAIN]
    for name in texts:
        best = max(baselines, key=lambda s: results[s][name]["macro_f1"])
        gaps[name] = {
            "best_baseline": best,
            "gap": results[MAIN][name]["macro_f1"] - results[best][name]["macro_f1"],
            "gap_ci95": paired_bootstrap_gap(
                gold[name],
                results[MAIN][name]["pred"],
                results[best][name]["pred"],
                cfg.bootstrap,
                cfg.seed,
            ),
        }
    ablations = _ablations(cfg, texts, gold)
    probes = _probes(cfg, systems, classifier)
    errors = {
        name: _confident_errors(
            sets[name], _cal(logits[name], classifier), with_text=name != "realnews"
        )
        for name in texts
    }
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if "realnews" in sets:  # the texts stay on this machine (.gitignore)
        _write_realnews_errors(
            out / "realnews-errors.jsonl",
            sets["realnews"],
            results[MAIN]["realnews"]["pred"],
            _cal(logits["realnews"], classifier),
        )
    report: dict[str, Any] = {
        "main": MAIN,
        "model_dir": cfg.model_dir,
        "backend": classifier.backend,
        "data": {
            name: {"file": f, "n": len(sets[name])}
            for name, f in (("test", cfg.test_file), ("realnews", cfg.realnews_file))
            if name in sets
        },
        "systems": {
            s: {name: {k: v for k, v in m.items() if k != "pred"} for name, m in per.items()}
            for s, per in results.items()
        },
        "calibration": calibration,
        "gap_over_best_baseline": gaps,
        "ablations": ablations,
        "guideline_examples": probes,
        "errors": errors,
        "targets": _targets(results, gaps, calibration),
        "provenance": {
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "git_commit": provenance.git_commit(),
            "versions": provenance.versions(),
            "bootstrap_samples": cfg.bootstrap,
        },
    }
    (out / "metrics.json").write_text(json.dumps(report, indent=2) + "\n")
    plot_f1_by_label(report, out / "f1_by_label.png")
    plot_reliability(
        {n: (logits[n], gold[n]) for n in texts},
        classifier.temperature,
        out / "reliability.png",
        adapted={n: c["adapted_temperature"] for n, c in calibration.items() if "ece_adapted" in c},
    )
    from claimstance.evaluation import plot_confusion

    key = "realnews" if "realnews" in texts else "test"
    plot_confusion(report["systems"][MAIN][key], out / "confusion.png")
    (out / "report.md").write_text(render(report))
    logger.info("comparison report in %s", out)
    return report


def _probes(cfg: CompareConfig, systems: dict, classifier: Any) -> dict[str, Any] | None:
    """Every system on the guidelines' own example sentences: how many right, and the model's
    misses with the rule each example shows."""
    if not cfg.probes_file or not Path(cfg.probes_file).is_file():
        return None
    rows = [json.loads(line) for line in Path(cfg.probes_file).read_text().splitlines() if line]
    texts, gold = [r["text"] for r in rows], [r["label"] for r in rows]
    correct = {}
    for system, proba in systems.items():
        pred = [LABELS[i] for i in proba(texts).argmax(1)]
        correct[system] = sum(p == g for p, g in zip(pred, gold, strict=True))
    probs = _cal(classifier.logits(texts)[0], classifier)
    misses = []
    for r, row in zip(rows, probs, strict=True):
        label = LABELS[int(row.argmax())]
        if label != r["label"]:
            misses.append(r | {"pred": label, "confidence": round(float(row.max()), 3)})
    correct[MAIN] = len(rows) - len(misses)
    return {"file": cfg.probes_file, "n": len(rows), "correct": correct, "misses": misses}


def _cal(logits: np.ndarray, classifier: Any) -> np.ndarray:
    from claimstance.inference import softmax

    return softmax(logits / classifier.temperature)


def _adapted(
    logits: np.ndarray, gold_ids: list[int], classifier: Any, scored: dict[str, Any]
) -> dict[str, float]:
    """`evaluation.adapted_calibration` under the calibration table's keys, with the actual
    accuracy (from the model's scores on the set) beside the estimated one."""
    adapted = adapted_calibration(classifier, logits, gold_ids)
    if adapted is None:
        return {}
    return {
        "adapted_temperature": adapted["temperature"],
        "estimated_accuracy": adapted["estimated_accuracy"],
        "accuracy": scored["accuracy"],
        "ece_adapted": adapted["ece"],
    }


def _targets(results: dict, gaps: dict, calibration: dict) -> dict[str, Any]:
    if "realnews" not in gaps:
        return {}
    m = results[MAIN]["realnews"]
    checks = {
        "macro_f1": (m["macro_f1"], ">=", TARGETS["macro_f1"]),
        "margin_over_best_baseline": (
            gaps["realnews"]["gap"],
            ">=",
            TARGETS["margin_over_best_baseline"],
        ),
        "pledge_f1": (m["per_label"]["pledge"]["f1"], ">=", TARGETS["pledge_f1"]),
        "warning_f1": (m["per_label"]["warning"]["f1"], ">=", TARGETS["warning_f1"]),
        "ece": (calibration["realnews"]["ece_after"], "<=", TARGETS["ece"]),
    }
    if "ece_adapted" in calibration["realnews"]:
        checks["ece_adapted"] = (calibration["realnews"]["ece_adapted"], "<=", TARGETS["ece"])
    return {
        k: {"value": v, "target": f"{op} {t}", "met": v >= t if op == ">=" else v <= t}
        for k, (v, op, t) in checks.items()
    }


def _ablation_dirs(cfg: CompareConfig) -> list[tuple[str, str, str, str | None]]:
    """(name, what, model dir, config file) of every ablation config, present or not."""
    found: list[tuple[str, str, str, str | None]] = []
    for path in sorted(Path(cfg.ablations).glob("*.toml")):
        with path.open("rb") as fh:
            values = tomllib.load(fh)
        first = path.read_text().splitlines()[0].lstrip("# ").strip()
        first = first.removeprefix("Ablation:").strip()
        out = values.get("output_dir", f"model/ablations/{path.stem}")
        found.append((path.stem, first, out, str(path)))
    return found


def _ablations(cfg: CompareConfig, texts: dict, gold: dict) -> list[dict[str, Any]]:
    from claimstance.inference import load_classifier

    rows = []
    current = provenance.sha256_file(cfg.train_file)  # once, not once per ablation row
    seed_probs: dict[str, list[np.ndarray]] = {name: [] for name in texts}
    main = load_classifier(cfg.model_dir, backend="torch" if cfg.backend == "auto" else cfg.backend)
    base_config = cfg.base_config if Path(cfg.base_config).is_file() else None
    entries = [("base", f"the default model ({cfg.base_config})", cfg.model_dir, base_config)]
    entries += _ablation_dirs(cfg)
    for name, what, model_dir, config_file in entries:
        row: dict[str, Any] = {"name": name, "what": what, "model_dir": model_dir}
        if not (Path(model_dir) / "config.json").is_file() and not is_ensemble_dir(model_dir):
            row["status"] = "not trained"
            rows.append(row)
            continue
        clf = main if model_dir == cfg.model_dir else load_classifier(model_dir, backend="torch")
        row |= _trained_on(model_dir, config_file, current)
        dev_metrics = Path(model_dir) / "metrics.json"
        if dev_metrics.is_file():  # written by training: the selection criterion
            row["dev"] = {"macro_f1": json.loads(dev_metrics.read_text())["macro_f1"]}
        for set_name, t in texts.items():
            probs = clf.predict_proba(t)
            m = _score(gold[set_name], probs, cfg, with_ci=False)
            row[set_name] = {
                "macro_f1": m["macro_f1"],
                "ece": m["ece"],
                "f1": {label: m["per_label"][label]["f1"] for label in LABELS},
            }
            if (name == "base" or name.startswith("seed-")) and not row["stale"]:
                seed_probs[set_name].append(probs)
        rows.append(row)
    members = len(seed_probs["test"])
    if members > 1:
        row = {
            "name": f"ensemble-{members}-seeds",
            "what": f"mean probabilities of {members} seed runs (base and seed-*)",
            "model_dir": None,
        }
        for set_name in texts:
            probs = np.mean(seed_probs[set_name], axis=0)
            m = _score(gold[set_name], probs, cfg, with_ci=False)
            row[set_name] = {
                "macro_f1": m["macro_f1"],
                "ece": m["ece"],
                "f1": {label: m["per_label"][label]["f1"] for label in LABELS},
            }
        rows.append(row)
    return rows


def _trained_on(model_dir: str, config_file: str | None, train_sha: str) -> dict[str, Any]:
    """How many training sentences a model dir saw, and why it is not the run its config
    describes, if it is not (an earlier corpus or another config: `make ablations` retrains it)."""
    path = Path(model_dir) / "train_config.json"
    rows = None
    if path.is_file():
        rows = json.loads(path.read_text()).get("data", {}).get("train", {}).get("rows")
    reason = stale_reason(model_dir, config_file, train_sha)
    return {"train_rows": rows, "stale": reason is not None, "stale_reason": reason}


def _confident_errors(
    examples: list[LabeledExample], probs: np.ndarray, with_text: bool, top: int = 3
) -> list[dict[str, Any]]:
    """Errors grouped by (gold, predicted), largest groups first, each with its most confident
    cases (by line; with text only where the data may be quoted)."""
    groups: dict[tuple[str, str], list[tuple[float, LabeledExample]]] = {}
    for ex, row in zip(examples, probs, strict=True):
        pred = LABELS[int(row.argmax())]
        if pred != ex.label:
            groups.setdefault((ex.label, pred), []).append((float(row.max()), ex))
    out = []
    for (g, p), items in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        items.sort(key=lambda it: -it[0])
        out.append(
            {
                "gold": g,
                "pred": p,
                "count": len(items),
                "mean_confidence": float(np.mean([c for c, _ in items])),
                "most_confident": [
                    {
                        "source": ex.source,
                        "confidence": round(c, 3),
                        **({"text": ex.text} if with_text else {}),
                    }
                    for c, ex in items[:top]
                ],
            }
        )
    return out


def _write_realnews_errors(
    path: Path, examples: list[LabeledExample], pred: list[str], probs: np.ndarray
) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for ex, p, row in sorted(
            zip(examples, pred, probs, strict=True), key=lambda t: -float(t[2].max())
        ):
            if p != ex.label:
                fh.write(
                    json.dumps(
                        {
                            "source": ex.source,
                            "gold": ex.label,
                            "pred": p,
                            "confidence": round(float(row.max()), 4),
                            "text": ex.text,
                        },
                        ensure_ascii=False,
                    )
                    + "\n"
                )


# ---------------------------------------------------------------------------------------------
# Report


def render(report: dict[str, Any]) -> str:
    sets = list(report["data"])
    names = {"test": "corpus test split", "realnews": "real news (../shared/realnews/dev.jsonl)"}
    lines = [
        "# claimstance against its baselines",
        "",
        f"Model `{report['model_dir']}` (backend {report['backend']}); commit "
        f"`{str(report['provenance']['git_commit'])[:10]}`, {report['provenance']['timestamp']}. "
        "Written by `make eval` (`claimstance compare`). Baselines are fitted on the corpus "
        "train split with their one setting chosen on the dev split, like the model.",
        "",
        "## Macro-F1 with bootstrap 95% intervals",
        "",
        "| system | " + " | ".join(names[s] for s in sets) + " |",
        "| --- |" + " --- |" * len(sets),
    ]
    for system, per in report["systems"].items():
        cells = [
            "{:.3f} [{:.3f}, {:.3f}]".format(per[s]["macro_f1"], *per[s]["macro_f1_ci95"])
            for s in sets
        ]
        lines.append(f"| {system} | " + " | ".join(cells) + " |")
    lines += [""]
    for s in sets:
        g = report["gap_over_best_baseline"][s]
        lines.append(
            f"- {names[s]}: claimstance minus the best baseline ({g['best_baseline']}) = "
            "{:+.3f}, paired bootstrap 95% interval [{:+.3f}, {:+.3f}].".format(
                g["gap"], *g["gap_ci95"]
            )
        )
    for s in sets:
        lines += [
            "",
            f"## Per-label F1, {names[s]}",
            "",
            "| system | accuracy | ECE | " + " | ".join(LABELS) + " |",
            "| --- |" + " --- |" * (2 + len(LABELS)),
        ]
        for system, per in report["systems"].items():
            m = per[s]
            f1s = " | ".join(f"{m['per_label'][label]['f1']:.3f}" for label in LABELS)
            lines.append(f"| {system} | {m['accuracy']:.3f} | {m['ece']:.3f} | {f1s} |")
    lines += [
        "",
        "![per-label F1 of every system](f1_by_label.png)",
        "",
        "## Calibration of claimstance",
        "",
        f"Temperature {report['calibration'][sets[0]]['temperature']:.3f}, "
        "fitted on the corpus dev split.",
        "",
        "The dev temperature cannot know that the model is right less often on real news "
        "than on its own dev split. `predict --adapt` estimates the accuracy on the text it is "
        "given without labels (the share of sentences above the dev split's confidence "
        "threshold: Average Thresholded Confidence) and picks the temperature that makes the "
        "mean score match it; labels do not change.",
        "",
        "| data | ECE before | ECE after | accuracy | accuracy estimated without labels "
        "| adapted temperature | ECE adapted |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in sets:
        c = report["calibration"][s]
        row = f"| {names[s]} | {c['ece_before']:.3f} | {c['ece_after']:.3f} | "
        if "ece_adapted" in c:
            row += (
                f"{c['accuracy']:.3f} | {c['estimated_accuracy']:.3f} | "
                f"{c['adapted_temperature']:.2f} | {c['ece_adapted']:.3f} |"
            )
        else:
            row += "- | - | - | - |"
        lines.append(row)
    lines += ["", "![reliability diagram](reliability.png)", ""]
    if report["targets"]:
        lines += [
            "## Targets on real news",
            "",
            "| target | value | wanted | met |",
            "| --- | --- | --- | --- |",
        ]
        for k, t in report["targets"].items():
            lines.append(
                f"| {k} | {t['value']:.3f} | {t['target']} | {'yes' if t['met'] else 'no'} |"
            )
        lines.append("")
    lines += [
        "## Ablations",
        "",
        "Each row is a model dir trained from `train/configs/ablations/<name>.toml` "
        "(`make ablations`); a row says 'not trained' until it is. Seed-to-seed spread is the "
        "noise floor: differences smaller than the spread of the seed rows are not evidence. "
        "A row trained on another train file than the current one says so; the ensemble "
        "leaves such seed runs out.",
        "",
        "| ablation | what | macro-F1 dev | "
        + " | ".join(f"macro-F1 {s}" for s in sets)
        + (
            " | pledge F1 realnews | warning F1 realnews | ECE realnews"
            if "realnews" in sets
            else ""
        )
        + " |",
        "| --- | --- | --- |" + " --- |" * (len(sets) + (3 if "realnews" in sets else 0)),
    ]
    for row in report["ablations"]:
        if row.get("status"):
            lines.append(
                f"| {row['name']} | {row['what']} |"
                + " not trained |" * (1 + len(sets) + (3 if "realnews" in sets else 0))
            )
            continue
        dev = row.get("dev", {}).get("macro_f1")
        cells = ["-" if dev is None else f"{dev:.3f}"]
        cells += [f"{row[s]['macro_f1']:.3f}" for s in sets]
        if "realnews" in sets:
            r = row["realnews"]
            cells += [f"{r['f1']['pledge']:.3f}", f"{r['f1']['warning']:.3f}", f"{r['ece']:.3f}"]
        what = row["what"]
        if row.get("stale"):
            what += f" **Trained on {row['stale_reason']}.**"
        lines.append(f"| {row['name']} | {what} | " + " | ".join(cells) + " |")
    probes = report.get("guideline_examples")
    if probes:
        lines += [
            "",
            "## The guidelines' own examples",
            "",
            f"The {probes['n']} example sentences of the label guidelines (`{probes['file']}`), "
            "short and plain, each with the rule it shows: right answers per system.",
            "",
            "| system | right | share |",
            "| --- | --- | --- |",
        ]
        for system, k in probes["correct"].items():
            lines.append(f"| {system} | {k} / {probes['n']} | {k / probes['n']:.0%} |")
        if probes["misses"]:
            lines += [
                "",
                "claimstance's misses:",
                "",
                "| sentence | gold | predicted | confidence | rule |",
                "| --- | --- | --- | --- | --- |",
            ]
            for m in probes["misses"]:
                text = m["text"].replace("|", "\\|")
                lines.append(
                    f"| {text} | {m['label']} | {m['pred']} | {m['confidence']:.2f} | {m['rule']} |"
                )
    lines += [
        "",
        "## Confusion matrix of claimstance",
        "",
        "![confusion matrix](confusion.png)",
        "",
    ]
    for s in sets:
        lines += [
            f"## Most confident errors, {names[s]}",
            "",
            "Grouped by (gold, predicted), largest groups first."
            + (
                " Real-news sentences are cited by line; their texts are in "
                "`realnews-errors.jsonl` beside this report, which is not committed."
                if s == "realnews"
                else ""
            ),
            "",
            "| gold | predicted | errors | mean confidence | most confident |",
            "| --- | --- | --- | --- | --- |",
        ]
        for e in report["errors"][s][:10]:
            cases = "; ".join(
                (
                    f"{c['text'][:90]}… ({c['confidence']:.2f})"
                    if "text" in c and len(c["text"]) > 90
                    else f"{c.get('text', c['source'])} ({c['confidence']:.2f})"
                )
                for c in e["most_confident"]
            ).replace("|", "\\|")
            lines.append(
                f"| {e['gold']} | {e['pred']} | {e['count']} "
                f"| {e['mean_confidence']:.2f} | {cases} |"
            )
        lines.append("")
    return "\n".join(lines)


def plot_f1_by_label(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = list(report["data"])
    systems = list(report["systems"])
    fig, axes = plt.subplots(1, len(sets), figsize=(6.5 * len(sets), 4), squeeze=False)
    width = 0.8 / len(systems)
    for ax, s in zip(axes[0], sets, strict=True):
        for k, system in enumerate(systems):
            values = [report["systems"][system][s]["per_label"][label]["f1"] for label in LABELS]
            ax.bar(np.arange(len(LABELS)) + k * width, values, width, label=system)
        ax.set_xticks(
            np.arange(len(LABELS)) + width * (len(systems) - 1) / 2,
            [lab.replace("_", "\n") for lab in LABELS],
        )
        ax.set_ylim(0, 1)
        ax.set_ylabel("F1")
        ax.set_title({"test": "corpus test split", "realnews": "real news dev set"}[s])
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_reliability(
    data: dict[str, tuple[np.ndarray, list[str]]],
    temperature: float,
    path: Path,
    bins: int = 10,
    adapted: dict[str, float] | None = None,
) -> None:
    """Accuracy against confidence in equal-width bins, before and after temperature scaling,
    and at each set's adapted temperature when given."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from claimstance.inference import softmax

    fig, axes = plt.subplots(1, len(data), figsize=(5 * len(data), 4.4), squeeze=False)
    edges = np.linspace(0, 1, bins + 1)
    for ax, (name, (logits, gold)) in zip(axes[0], data.items(), strict=True):
        ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1)
        gold_ids = np.asarray([LABELS.index(g) for g in gold])
        curves = [
            ("before", 1.0, "#c4704f"),
            (f"after (T={temperature:.2f})", temperature, "#4878a8"),
        ]
        if adapted and name in adapted:
            curves.append((f"adapted (T={adapted[name]:.2f})", adapted[name], "#5a9e5a"))
        for label, t, color in curves:
            probs = softmax(logits / t)
            conf, correct = probs.max(1), probs.argmax(1) == gold_ids
            xs, ys = [], []
            for lo, hi in zip(edges[:-1], edges[1:], strict=True):
                sel = (conf > lo) & (conf <= hi)
                if sel.sum():
                    xs.append(conf[sel].mean())
                    ys.append(correct[sel].mean())
            ece = expected_calibration_error(probs, gold_ids.tolist())
            ax.plot(xs, ys, marker="o", color=color, label=f"{label}: ECE {ece:.3f}")
        ax.set_xlabel("confidence (top label's probability)")
        ax.set_ylabel("accuracy")
        ax.set_title({"test": "corpus test split", "realnews": "real news dev set"}.get(name, name))
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def results_table(report: dict[str, Any]) -> str:
    """The README's comparison rows: every system's macro-F1 (bootstrap 95% interval), and the
    pledge and warning F1, on each data set of the report."""
    sets = list(report["data"])
    names = {"test": "corpus test", "realnews": "real news"}
    head = "| system | " + " | ".join(
        f"macro-F1 {names[s]} [95% CI] | pledge F1 {names[s]} | warning F1 {names[s]}" for s in sets
    )
    lines = [head + " |", "|" + " --- |" * (1 + 3 * len(sets))]
    for system, per in report["systems"].items():
        cells = []
        for s in sets:
            m = per[s]
            lo, hi = m["macro_f1_ci95"]
            cells += [
                f"{m['macro_f1']:.3f} [{lo:.3f}, {hi:.3f}]",
                f"{m['per_label']['pledge']['f1']:.3f}",
                f"{m['per_label']['warning']['f1']:.3f}",
            ]
        lines.append(f"| {system} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
