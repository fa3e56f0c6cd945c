"""Slow tests (`make test-slow`): the real base checkpoint and the trained default model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from claimstance.config import DEFAULT_MODEL_DIR, TrainConfig

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def test_real_base_checkpoint_trains_and_predicts(tmp_path, monkeypatch):
    from claimstance.inference import load_classifier
    from claimstance.training import train

    monkeypatch.chdir(ROOT)
    cfg = TrainConfig(
        output_dir=str(tmp_path / "smoke"),
        max_length=64,
        epochs=1,
        batch_size=16,
        max_train_rows=320,
        max_dev_rows=80,
        progress=False,
    )
    out = train(cfg)
    preds = load_classifier(str(out)).predict(["The minister vowed to rebuild the bridge."])
    assert preds[0].label in {"official_statement", "attributed_claim", "pledge", "warning", "none"}


def test_default_model_quality_on_the_corpus_test_split(tmp_path):
    from claimstance.config import EvalConfig
    from claimstance.evaluation import evaluate

    model = ROOT / DEFAULT_MODEL_DIR
    if not (model / "model.safetensors").exists():
        pytest.skip("no default model: run `make train` first")
    metrics = evaluate(
        EvalConfig(
            data_file=str(ROOT / "data/corpus/test.jsonl"),
            model_dir=str(model),
            report_dir=str(tmp_path),
            progress=False,
        )
    )
    assert metrics["macro_f1"] >= 0.75
    assert json.loads((tmp_path / "metrics.json").read_text())["n"] == metrics["n"]
