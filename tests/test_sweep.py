"""train/sweep.py on the tiny model: every plan trains, scores, distils and is summarised."""

import importlib.util
import json
from pathlib import Path

import numpy as np

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
    args = ["--plan", plan, "--seeds", "4", "13", "2", "3", *_args(tiny_base_dir, fixtures, out)]
    assert sweep.main(args) == 0
    results = out / "results.jsonl"
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    expected = {(name, seed) for name, _, _ in sweep.PLANS[plan] for seed in (4, 13, 2, 3)}
    assert {(r["name"], r["seed"]) for r in rows} == expected
    for r in rows:
        assert r["config"]["epochs"] == 1
        for s in ("dev", "test", "realnews"):
            assert 0.0 <= r[s]["f1"] <= 1.0 and 0.0 <= r[s]["ece"] <= 1.0 and len(r[s]["per"]) == 5
        assert (out / "runs" / f"{r['name']}-s{r['seed']}.npz").is_file()
    summary = (out / "summary.md").read_text()
    for name, _, _ in sweep.PLANS[plan]:
        row = next(line for line in summary.splitlines() if line.startswith(f"| {name} | 4 |"))
        assert row.count("|") == 9 and "(seeds 4, 13, 2) |" in row  # the first three, plan order
    # parallel workers append rows as runs finish: the ensemble still takes the plan's first three
    results.write_text("\n".join(reversed(results.read_text().splitlines())) + "\n")
    small = fixtures / "labeled_small.jsonl"
    data = {k: sweep.read_set(str(small), True, 30) for k in ("dev", "realnews")}
    assert sweep.summary(out, data).count("(seeds 4, 13, 2) |") == len(sweep.PLANS[plan])


def test_sweep_variants_plan_distils_from_out_of_fold_teacher(tiny_base_dir, fixtures, tmp_path):
    sweep = _sweep()
    out = tmp_path / "variants"  # mean head, context pairs, class weights, folds, distillation
    args = ["--plan", "variants", "--seeds", "13", *_args(tiny_base_dir, fixtures, out)]
    assert sweep.main(args) == 0
    names = {json.loads(line)["name"] for line in (out / "results.jsonl").read_text().splitlines()}
    assert names == {n for n, _, _ in sweep.PLANS["variants"] + sweep.DISTILL}
    teacher = np.load(out / "runs" / "teacher-oof.npy")
    held = sum(np.load(out / "runs" / f"oof{k}-s13.npz")["held"] for k in range(5))
    assert teacher.shape == (15, 5) and (held == 1).all()  # each row held out by exactly one fold
    assert (np.abs(teacher).sum(1) > 0).all()


def test_sweep_names_a_missing_input(tiny_base_dir, fixtures, tmp_path, capsys):
    args = _args(tiny_base_dir, fixtures, tmp_path / "out")
    args[args.index("--realnews") + 1] = str(tmp_path / "nowhere.jsonl")
    assert _sweep().main(["--plan", "epochs", *args]) == 2
    assert "real news not found" in capsys.readouterr().err
