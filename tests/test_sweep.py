"""train/sweep.py on the tiny model: every variant of two plans trains, scores and is summarised."""

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _sweep():
    spec = importlib.util.spec_from_file_location("sweep", ROOT / "train" / "sweep.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _args(tiny_base_dir, fixtures, out):
    small = str(fixtures / "labeled_small.jsonl")
    return [
        "--base",
        str(tiny_base_dir),
        "--train",
        small,
        "--dev",
        small,
        "--test",
        small,
        "--realnews",
        small,
        "--out",
        str(out),
        "--procs",
        "1",
        "--epochs",
        "1",
        "--max-rows",
        "30",
    ]


def test_sweep_plan_trains_every_variant_and_seed(tiny_base_dir, fixtures, tmp_path):
    sweep = _sweep()
    plan, out = "regularisation", tmp_path / "sweep"  # dropout, masked word pieces, R-Drop
    args = ["--plan", plan, "--seeds", "13", "2", "3", *_args(tiny_base_dir, fixtures, out)]
    assert sweep.main(args) == 0
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    expected = {(name, seed) for name, _, _ in sweep.PLANS[plan] for seed in (13, 2, 3)}
    assert {(r["name"], r["seed"]) for r in rows} == expected
    for r in rows:
        assert r["config"]["epochs"] == 1
        for s in ("dev", "test", "realnews"):
            assert 0.0 <= r[s]["f1"] <= 1.0 and 0.0 <= r[s]["ece"] <= 1.0 and len(r[s]["per"]) == 5
        assert (out / "runs" / f"{r['name']}-s{r['seed']}.npz").is_file()
    summary = (out / "summary.md").read_text()
    for name, _, _ in sweep.PLANS[plan]:
        row = next(line for line in summary.splitlines() if line.startswith(f"| {name} | 3 |"))
        assert row.count("|") == 9 and "- | -" not in row  # three seeds: an ensemble column too


def test_sweep_names_a_missing_input(tiny_base_dir, fixtures, tmp_path, capsys):
    args = _args(tiny_base_dir, fixtures, tmp_path / "out")
    args[args.index("--realnews") + 1] = str(tmp_path / "nowhere.jsonl")
    assert _sweep().main(["--plan", "epochs", *args]) == 2
    assert "real news not found" in capsys.readouterr().err
