"""Throughput benchmark: `make bench`.

Labels one fixed set of sentences (the first N of the corpus test, dev and train splits, in that
order) with each system, each run in a fresh process so peak memory is its own, the systems
interleaved and every one repeated; reports the median. Systems:

- `pipeline`: transformers.pipeline("text-classification") on the same model dir, called the
  plain way (a list of strings, default batch size), the way most users would start;
- `pipeline-b64`: the same pipeline with batch_size=64, to show what batching alone gives;
- `torch`, `onnx`, `onnx-int8`: claimstance's Classifier with each backend.
- `ensemble`: the seed ensemble (`make ensemble`, --ensemble DIR) on its default backend, when
  that dir exists: three forward passes per sentence.

For each: sentences/s and word pieces/s (model load excluded, reported apart), peak resident
memory of the process, the share of labels identical to claimstance torch float32, and macro-F1
on ../shared/realnews/dev.jsonl when that file is present. Writes bench.json, bench.md and
bench.png into --out-dir and prints the table.

With --memory-mb N it also builds a JSONL file of about N MB (corpus articles, repeated under new
ids) and records the peak memory of `claimstance predict` labeling it (and, with --memory-only,
nothing else).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from claimstance.config import DEFAULT_ENSEMBLE_DIR, DEFAULT_MODEL_DIR

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SYSTEMS = ("pipeline", "pipeline-b64", "torch", "onnx", "onnx-int8", "ensemble")
SPLITS = ("data/corpus/test.jsonl", "data/corpus/dev.jsonl", "data/corpus/train.jsonl")
REALNEWS = ROOT.parent / "shared" / "realnews" / "dev.jsonl"


def fixed_sentences(n: int) -> list[str]:
    texts: list[str] = []
    for split in SPLITS:
        with open(ROOT / split, encoding="utf-8") as fh:
            texts.extend(json.loads(line)["text"] for line in fh if line.strip())
    if len(texts) < n:
        raise SystemExit(f"bench: only {len(texts)} corpus sentences, asked for {n}")
    return texts[:n]


# ---------------------------------------------------------------------------------------------
# One system in one process


def worker(system: str, model_dir: str, texts_file: str, threads: int) -> dict:
    texts = json.loads(Path(texts_file).read_text())
    started = time.perf_counter()
    if system.startswith("pipeline"):
        import torch
        from transformers import pipeline
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        if threads:
            torch.set_num_threads(threads)
        clf = pipeline("text-classification", model=model_dir, device=-1)
        kwargs = {"batch_size": 64} if system == "pipeline-b64" else {}
        loaded = time.perf_counter()
        out = clf(texts, truncation=True, max_length=128, **kwargs)
        labels = [row["label"] for row in out]
    else:
        from claimstance.inference import load_classifier

        backend = "auto" if system == "ensemble" else system  # model_dir is the ensemble dir
        clf = load_classifier(model_dir, backend=backend, threads=threads)
        loaded = time.perf_counter()
        labels = [p.label for p in clf.predict(texts)]
    done = time.perf_counter()
    return {
        "system": system,
        "labels": labels,
        "load_seconds": loaded - started,
        "seconds": done - loaded,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_worker(system: str, model_dir: str, texts_file: str, threads: int) -> dict:
    cmd = [sys.executable, __file__, "--worker", system, "--model", model_dir]
    cmd += ["--texts-file", texts_file, "--threads", str(threads)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=_env())
    if done.returncode != 0:
        raise SystemExit(f"bench: {system} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "true")
    return env


# ---------------------------------------------------------------------------------------------
# The arithmetic limit


def multiply_adds_per_sentence(config: dict, tokens: float) -> float:
    """Multiply-adds of one forward pass of a BERT encoder + classifier on `tokens` word pieces:
    per layer and token, Q, K, V and output projections (4 h^2), the feed-forward pair (2 h f)
    and attention scores and mixing (2 n h); then pooler and head."""
    h, f, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    per_token = 4 * h * h + 2 * h * f + 2 * tokens * h
    return layers * tokens * per_token + h * h + h * config.get("num_labels", 5)


def feed_forward_share(config: dict, tokens: float) -> float:
    """The share of an encoder layer's multiply-adds in its feed-forward block (2 h f per token),
    which the default int8 export keeps in float32."""
    h, f = config["hidden_size"], config["intermediate_size"]
    return 2 * h * f / (4 * h * h + 2 * h * f + 2 * tokens * h)


def add_mixed_limit(limit: dict, config: dict) -> None:
    """The limit of the default int8 export, whose feed-forward blocks run in float32: the time of
    the float32 share at the float32 rate plus the rest at the int8 rate."""
    share = feed_forward_share(config, limit["mean_tokens_per_sentence"])
    limit["feed_forward_share"] = share
    limit["int8_as_exported_sentences_per_s_limit"] = 1 / (
        share / limit["fp32_sentences_per_s_limit"]
        + (1 - share) / limit["int8_sentences_per_s_limit"]
    )


def cpu_info() -> dict:
    info = {"processor": platform.processor() or platform.machine(), "cores": os.cpu_count()}
    try:
        text = Path("/proc/cpuinfo").read_text()
        for line in text.splitlines():
            if line.startswith("model name"):
                info["processor"] = line.split(":", 1)[1].strip()
            if line.startswith("cpu MHz"):
                info["mhz"] = float(line.split(":", 1)[1])
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                info["avx512f"] = "avx512f" in flags
                info["avx512_vnni"] = "avx512_vnni" in flags
        info["cores"] = len(os.sched_getaffinity(0))
    except OSError:
        pass
    return info


# ---------------------------------------------------------------------------------------------
# Memory on a big file


def build_big_file(path: Path, megabytes: int) -> int:
    """Corpus articles as JSONL documents, repeated under new ids until the file has `megabytes`.
    Returns the number of documents."""
    articles: dict[str, list[str]] = {}
    for split in SPLITS:
        with open(ROOT / split, encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                articles.setdefault(row["doc_id"], []).append(row["text"])
    bodies = [" ".join(sents) for sents in articles.values()]
    target = megabytes * 1_000_000
    written = docs = 0
    with path.open("w", encoding="utf-8") as fh:
        while written < target:
            for body in bodies:
                line = json.dumps({"id": f"doc-{docs}", "text": body}) + "\n"
                fh.write(line)
                written += len(line.encode("utf-8"))
                docs += 1
                if written >= target:
                    break
    return docs


def memory_run(
    model_dir: str, megabytes: int, backend: str, threads: int, cap_seconds: float = 0
) -> dict:
    """Peak RSS of `claimstance predict` on a generated file of `megabytes`. With `cap_seconds`,
    the run is stopped (SIGTERM) after that long and the sentences it wrote so far are counted:
    the figure is then the peak over that part of the file."""
    with tempfile.TemporaryDirectory(prefix="claimstance-bench-") as tmp:
        big = Path(tmp) / f"big-{megabytes}mb.jsonl"
        docs = build_big_file(big, megabytes)
        out = Path(tmp) / "out.jsonl"
        cmd = [sys.executable, "-m", "claimstance.cli", "predict", str(big), "-o", str(out)]
        cmd += ["--model", model_dir, "--backend", backend, "--threads", str(threads), "-q"]
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=_env())
        stopped = False
        while cap_seconds and proc.poll() is None:
            if time.perf_counter() - started > cap_seconds:
                proc.terminate()
                stopped = True
                break
            time.sleep(0.5)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        if status != 0 and not stopped:
            raise SystemExit(f"bench: predict on the {megabytes} MB file failed ({status})")
        written = out if out.exists() else Path(str(out) + ".part")
        with written.open("rb") as fh:
            sentences = sum(1 for _ in fh)
        return {
            "complete": not stopped,
            "input_sentences_estimate": _sentence_estimate(big),
            "file_mb": round(big.stat().st_size / 1e6, 1),
            "documents": docs,
            "sentences": sentences,
            "backend": backend,
            "seconds": round(seconds, 1),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        }


def _sentence_estimate(path: Path) -> int:
    """Sentences in the generated file: the corpus sentences of its documents."""
    per_doc: dict[str, int] = {}
    for split in SPLITS:
        with open(ROOT / split, encoding="utf-8") as fh:
            for line in fh:
                doc = json.loads(line)["doc_id"]
                per_doc[doc] = per_doc.get(doc, 0) + 1
    counts = list(per_doc.values())
    with path.open("rb") as fh:
        docs = sum(1 for _ in fh)
    return sum(counts) * (docs // len(counts)) + sum(counts[: docs % len(counts)])


# ---------------------------------------------------------------------------------------------
# The whole benchmark


def macro_f1_on(path: Path, system: str, model_dir: str, threads: int) -> float:
    from claimstance.evaluation import compute_metrics

    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump([r["text"] for r in rows], fh)
    try:
        result = run_worker(system, model_dir, fh.name, threads)
    finally:
        os.unlink(fh.name)
    return compute_metrics([r["label"] for r in rows], result["labels"])["macro_f1"]


def bench(args: argparse.Namespace) -> dict:
    from claimstance.backends import encode, load_tokenizer

    model_dir = args.model
    texts = fixed_sentences(args.sentences)
    config = json.loads((Path(model_dir) / "config.json").read_text())
    max_length = json.loads((Path(model_dir) / "claimstance.json").read_text())["max_length"]
    ids, _ = encode(load_tokenizer(model_dir), texts, max_length)
    tokens = sum(len(seq) for seq in ids)
    systems = [s for s in args.systems.split(",") if s]
    if "ensemble" in systems and not (Path(args.ensemble) / "claimstance.json").is_file():
        print(f"bench: no ensemble at {args.ensemble} (make ensemble): left out", file=sys.stderr)
        systems.remove("ensemble")
    dirs = {s: args.ensemble if s == "ensemble" else model_dir for s in systems}
    runs: dict[str, list[dict]] = {s: [] for s in systems}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(texts, fh)
    try:
        for repeat in range(args.repeats):
            for system in systems:  # interleaved: drift in machine load hits every system alike
                result = run_worker(system, dirs[system], fh.name, args.threads)
                runs[system].append(result)
                print(
                    f"bench: repeat {repeat + 1}/{args.repeats} {system}: "
                    f"{len(texts) / result['seconds']:.0f} sentences/s, "
                    f"{result['peak_rss_mb']:.0f} MB",
                    file=sys.stderr,
                )
    finally:
        os.unlink(fh.name)

    reference = runs["torch"][0]["labels"] if "torch" in runs else None
    rows = []
    for system, results in runs.items():
        seconds = statistics.median(r["seconds"] for r in results)
        row = {
            "system": system,
            "sentences_per_s": len(texts) / seconds,
            "tokens_per_s": tokens / seconds,
            "seconds_median": seconds,
            "seconds_all": [round(r["seconds"], 2) for r in results],
            "load_seconds_median": statistics.median(r["load_seconds"] for r in results),
            "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in results),
        }
        if reference is not None:
            labels = results[0]["labels"]
            row["agreement_with_torch"] = sum(
                a == b for a, b in zip(labels, reference, strict=True)
            ) / len(labels)
        if REALNEWS.is_file() and not args.no_realnews:
            row["realnews_macro_f1"] = macro_f1_on(REALNEWS, system, dirs[system], args.threads)
        rows.append(row)
    base = next((r for r in rows if r["system"] == "pipeline"), None)
    for row in rows:
        if base:
            row["speedup_vs_pipeline"] = row["sentences_per_s"] / base["sentences_per_s"]

    cpu = cpu_info()
    if not args.ghz:
        args.ghz = round(cpu.get("mhz", 2500.0) / 1000, 2)
    macs = multiply_adds_per_sentence(config, tokens / len(texts))
    limit = {
        "mean_tokens_per_sentence": tokens / len(texts),
        "multiply_adds_per_sentence": macs,
        "assumed_ghz": args.ghz,
        "fp32_macs_per_cycle_per_core": args.fp32_macs_per_cycle,
        "int8_macs_per_cycle_per_core": args.int8_macs_per_cycle,
    }
    cores = cpu["cores"]
    limit["fp32_sentences_per_s_limit"] = cores * args.ghz * 1e9 * args.fp32_macs_per_cycle / macs
    limit["int8_sentences_per_s_limit"] = cores * args.ghz * 1e9 * args.int8_macs_per_cycle / macs
    add_mixed_limit(limit, config)
    result = {
        "sentences": len(texts),
        "tokens": tokens,
        "repeats": args.repeats,
        "threads": args.threads or cores,
        "model_dir": model_dir,
        "cpu": cpu,
        "python": platform.python_version(),
        "rows": rows,
        "arithmetic_limit": limit,
    }
    return result


def render(result: dict, memory: dict | None) -> str:
    lines = [
        f"Benchmark: {result['sentences']} corpus sentences ({result['tokens']} word pieces), "
        f"{result['cpu']['cores']} cores ({result['cpu']['processor']}), "
        f"median of {result['repeats']} interleaved runs, each in its own process "
        f"(`make bench`).",
        "",
        "| system | sentences/s | word pieces/s | x pipeline | peak RSS MB | load s "
        "| labels = torch | real-news macro-F1 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['system']} | {r['sentences_per_s']:.0f} | {r['tokens_per_s']:.0f} "
            f"| {r.get('speedup_vs_pipeline', float('nan')):.2f} | {r['peak_rss_mb']:.0f} "
            f"| {r['load_seconds_median']:.1f} "
            f"| {100 * r.get('agreement_with_torch', float('nan')):.2f}% "
            f"| {r.get('realnews_macro_f1', float('nan')):.3f} |"
        )
    lim = result["arithmetic_limit"]
    lines += [
        "",
        f"Arithmetic limit: {lim['multiply_adds_per_sentence'] / 1e6:.0f} M multiply-adds per "
        f"sentence ({lim['mean_tokens_per_sentence']:.1f} word pieces on average); at "
        f"{lim['assumed_ghz']} GHz x {result['cpu']['cores']} cores x "
        f"{lim['fp32_macs_per_cycle_per_core']} float32 / {lim['int8_macs_per_cycle_per_core']} "
        f"int8 multiply-adds per cycle that is {lim['fp32_sentences_per_s_limit']:.0f} (float32) "
        f"and {lim['int8_sentences_per_s_limit']:.0f} (int8) sentences/s, with no padding, "
        "memory traffic or tokenization. The default int8 export keeps the feed-forward blocks "
        f"({100 * lim['feed_forward_share']:.0f}% of the multiply-adds) in float32, so its limit "
        f"is {lim['int8_as_exported_sentences_per_s_limit']:.0f} sentences/s. Measured against "
        "these: "
        + ", ".join(
            f"{r['system']} {100 * r['sentences_per_s'] / ref:.0f}%"
            for r in result["rows"]
            for ref in [
                lim["int8_as_exported_sentences_per_s_limit"]
                if r["system"] == "onnx-int8"
                else lim["int8_as_exported_sentences_per_s_limit"] / 3
                if r["system"] == "ensemble"
                else lim["fp32_sentences_per_s_limit"]
            ]
        )
        + " (a clock above the nominal one under load would lower these shares).",
    ]
    if memory:
        done = (
            f"all {memory['sentences']} sentences in {memory['seconds']:.0f} s, "
            f"{memory['sentences'] / memory['seconds']:.0f} sentences/s end to end: reading, "
            "splitting, labeling and writing"
            if memory.get("complete", True)
            else f"stopped after {memory['seconds']:.0f} s, {memory['sentences']} of about "
            f"{memory['input_sentences_estimate']} sentences labeled"
        )
        lines += [
            "",
            f"Memory: `claimstance predict --backend {memory['backend']}` on a "
            f"{memory['file_mb']} MB JSONL file ({memory['documents']} documents; {done}): "
            f"peak RSS {memory['peak_rss_mb']:.0f} MB (`make bench-memory`).",
        ]
    return "\n".join(lines) + "\n"


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    names = [r["system"] for r in rows]
    values = [r["sentences_per_s"] for r in rows]
    bars = ax.barh(names, values, color="#4878a8")
    ax.bar_label(bars, labels=[f"{v:.0f}" for v in values], padding=3)
    ax.invert_yaxis()
    ax.set_xlabel(f"sentences per second ({result['cpu']['cores']} CPU cores, median)")
    ax.set_title("claimstance throughput by backend")
    ax.set_xlim(0, max(values) * 1.2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL_DIR)
    parser.add_argument("--out-dir", default="eval/reports/bench")
    parser.add_argument("--ensemble", default=DEFAULT_ENSEMBLE_DIR, help="ensemble dir")
    parser.add_argument("--sentences", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--threads", type=int, default=0, help="0: every core")
    parser.add_argument("--no-realnews", action="store_true")
    parser.add_argument("--memory-mb", type=int, default=0, help="also label a file this big")
    parser.add_argument("--memory-backend", default="auto")
    parser.add_argument("--memory-only", action="store_true")
    parser.add_argument(
        "--memory-seconds", type=float, default=0, help="stop the memory run after this long"
    )
    parser.add_argument("--ghz", type=float, default=0, help="core clock (0: cpu MHz of /proc)")
    # AMD Zen 4 (this machine: EPYC, family 25 model 17) runs AVX-512 on two 256-bit pipes:
    # 2 FMA x 8 float32 lanes, and 2 VNNI vpdpbusd x 32 int8 multiply-adds, per cycle.
    parser.add_argument("--fp32-macs-per-cycle", type=int, default=16)
    parser.add_argument("--int8-macs-per-cycle", type=int, default=64)
    parser.add_argument("--render-only", action="store_true", help="redo bench.md from .json")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--texts-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.model, args.texts_file, args.threads)))
        return 0
    if not (Path(args.model) / "config.json").is_file():
        raise SystemExit(f"bench: {args.model}: no model dir; run `make train` first")
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if args.render_only:  # rewrite bench.md/png from bench.json (and memory.json), no timing
        result = json.loads((out / "bench.json").read_text())
        memory_file = out / "memory.json"
        memory = json.loads(memory_file.read_text()) if memory_file.is_file() else None
        (out / "bench.md").write_text(render(result, memory))
        plot(result, out / "bench.png")
        print(render(result, memory))
        return 0
    memory = None
    if args.memory_mb:
        memory = memory_run(
            args.model, args.memory_mb, args.memory_backend, args.threads, args.memory_seconds
        )
        (out / "memory.json").write_text(json.dumps(memory, indent=2) + "\n")
        print(json.dumps(memory))
        if args.memory_only:
            return 0
    elif (out / "memory.json").is_file():
        memory = json.loads((out / "memory.json").read_text())
    result = bench(args)
    (out / "bench.json").write_text(json.dumps(result, indent=2) + "\n")
    text = render(result, memory)
    (out / "bench.md").write_text(text)
    plot(result, out / "bench.png")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
