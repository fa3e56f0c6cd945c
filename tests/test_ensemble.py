"""Seed ensembles: writing the dir, loading it like a model dir, and its errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from claimstance.backends import ModelDirError
from claimstance.ensemble import write_ensemble
from claimstance.inference import EnsembleClassifier, load_classifier, softmax
from claimstance.labels import LABELS

TEXTS = ["The minister vowed to rebuild the bridge.", "Police arrested two men.", "Rain fell."]


@pytest.fixture(scope="module")
def members(tiny_model_dir, tiny_model_dir_2) -> list[Path]:
    return [tiny_model_dir, tiny_model_dir_2]


@pytest.fixture(scope="module")
def ensemble_dir(members, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ens") / "ensemble"
    dev = Path(__file__).parent / "fixtures" / "labeled_small.jsonl"
    write_ensemble(members, out, str(dev), backend="torch")
    return out


def test_ensemble_is_the_mean_of_its_members_calibrated_probabilities(members, ensemble_dir):
    meta = json.loads((ensemble_dir / "claimstance.json").read_text())
    assert meta["labels"] == list(LABELS) and len(meta["ensemble"]["members"]) == 2
    assert {"README.md", "metrics.json"} <= {p.name for p in ensemble_dir.iterdir()}
    clf = load_classifier(str(ensemble_dir))
    assert isinstance(clf, EnsembleClassifier) and clf.backend == "torch"
    singles = [load_classifier(str(m), backend="torch") for m in members]
    assert singles[0].temperature != singles[1].temperature
    mean = np.mean([s.predict_proba(TEXTS) for s in singles], axis=0)
    expected = softmax(np.log(mean) / meta["temperature"])
    got = clf.predict_proba(TEXTS)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # the temperature is the one that fits the dev split's mean probabilities
    from claimstance.data import load_labeled
    from claimstance.training import fit_temperature

    dev = load_labeled(Path(__file__).parent / "fixtures" / "labeled_small.jsonl")
    dev_mean = np.mean([s.predict_proba([ex.text for ex in dev]) for s in singles], axis=0)
    gold = [LABELS.index(ex.label) for ex in dev]

    def nll(t: float) -> float:
        p = softmax(np.log(dev_mean) / t)
        return float(-np.mean(np.log(p[np.arange(len(gold)), gold])))

    grid = [0.25, 0.5, 1.0, 2.0, 4.0, fit_temperature(np.log(dev_mean), gold)]
    assert nll(meta["temperature"]) <= min(nll(t) for t in grid) + 1e-4
    preds = clf.predict(TEXTS)
    assert [p.label for p in preds] == [LABELS[i] for i in expected.argmax(1)]
    assert all(abs(sum(p.scores.values()) - 1) < 1e-5 for p in preds)


def test_ensemble_dir_can_move_with_its_members(members, ensemble_dir, tmp_path):
    # member paths are stored relative to the ensemble dir
    moved = tmp_path / "moved"
    shutil.copytree(ensemble_dir.parent, moved / ensemble_dir.parent.name)
    for m in members:
        shutil.copytree(m.parent, moved / m.parent.name, dirs_exist_ok=True)
    clf = load_classifier(str(moved / ensemble_dir.parent.name / ensemble_dir.name))
    assert all(Path(m.name).resolve().is_relative_to(moved.resolve()) for m in clf.members)


def test_ensemble_errors(members, ensemble_dir, fixtures, tmp_path):
    with pytest.raises(ModelDirError, match="at least 2 members"):
        write_ensemble(members[:1], tmp_path / "e1", str(fixtures / "labeled_small.jsonl"))
    with pytest.raises(ModelDirError, match="no model dir here"):
        write_ensemble([members[0], tmp_path / "nope"], tmp_path / "e2", "unused.jsonl")
    broken = tmp_path / "broken"
    shutil.copytree(ensemble_dir, broken)
    meta = json.loads((broken / "claimstance.json").read_text())
    meta["ensemble"]["members"][1] = "../gone"
    (broken / "claimstance.json").write_text(json.dumps(meta))
    with pytest.raises(ModelDirError, match="member .*gone is missing"):
        load_classifier(str(broken))


def test_predict_and_evaluate_take_an_ensemble(ensemble_dir, fixtures, tmp_path, capsys):
    from claimstance.cli import main
    from claimstance.runner import PredictOptions, _fingerprint

    out = tmp_path / "o.jsonl"
    assert main(["predict", str(fixtures / "article.txt"), "-o", str(out), "--model",
                 str(ensemble_dir), "-q"]) == 0  # fmt: skip
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows and all(r["model"] == str(ensemble_dir) for r in rows)
    report = tmp_path / "rep"
    assert main(["evaluate", str(fixtures / "labeled_small.jsonl"), "--model",
                 str(ensemble_dir), "--report-dir", str(report), "-q"]) == 0  # fmt: skip
    assert json.loads((report / "metrics.json").read_text())["n"] > 0
    # a resumed run notices a changed member, not only a changed ensemble dir
    opts = PredictOptions(inputs=[str(fixtures / "article.txt")], model_dir=str(ensemble_dir))
    files = _fingerprint(opts, "jsonl", [])["model"]["files"]
    assert "claimstance.json" in files and any(k.endswith("model.safetensors") for k in files)


def test_truncation_is_flagged_when_any_member_truncates(ensemble_dir):
    clf = load_classifier(str(ensemble_dir))
    long = " ".join(["the ministry said the bridge would reopen"] * 10)
    preds = clf.predict([long, "Rain fell."])
    assert preds[0].truncated and not preds[1].truncated


def test_ensemble_cli_errors_are_one_line(members, tmp_path, capsys):
    from claimstance.cli import main

    dev = str(Path(__file__).parent / "fixtures" / "labeled_small.jsonl")
    assert main(["ensemble", str(members[0]), "--output", str(tmp_path / "e"), "-q"]) == 1
    assert "error: an ensemble needs at least 2 members" in capsys.readouterr().err
    # writing over a trained model dir is refused: it would replace its claimstance.json
    args = [str(m) for m in members] + ["--output", str(members[0]), "--dev-file", dev]
    assert main(["ensemble", *args, "-q"]) == 1
    assert "is a model dir; write the ensemble to a dir of its own" in capsys.readouterr().err
    # members without a backend in common
    bare = tmp_path / "bare"
    shutil.copytree(members[1], bare)
    (bare / "model.safetensors").unlink()
    assert main(["ensemble", str(members[0]), str(bare), "--output", str(tmp_path / "f"),
                 "--dev-file", dev, "-q"]) == 1  # fmt: skip
    assert "no backend common to all members" in capsys.readouterr().err
