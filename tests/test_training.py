from __future__ import annotations

import json
import math

import numpy as np
import pytest

from claimstance.config import TrainConfig, load_train_config
from claimstance.data import DataError
from claimstance.inference import load_classifier
from claimstance.training import fit_temperature, train


def _tiny_config(fixtures, tiny_base_dir, tmp_path, **settings) -> TrainConfig:
    """A training run of the tiny model on the fixture: dev must not share documents with
    train, so one fixture document for each (7 and 8 rows)."""
    rows = (fixtures / "labeled_small.jsonl").read_text().splitlines()
    (tmp_path / "train.jsonl").write_text("\n".join(r for r in rows if '"fx-1"' in r) + "\n")
    (tmp_path / "dev.jsonl").write_text("\n".join(r for r in rows if '"fx-2"' in r) + "\n")
    defaults = {"max_length": 32, "epochs": 2, "batch_size": 8, "learning_rate": 1e-3}
    return TrainConfig(
        train_file=str(tmp_path / "train.jsonl"),
        dev_file=str(tmp_path / "dev.jsonl"),
        test_file="",
        output_dir=str(tmp_path / "run"),
        base_model=str(tiny_base_dir),
        progress=False,
        **(defaults | settings),
    )


def test_smoke_training_writes_a_complete_model_dir(tiny_base_dir, fixtures, tmp_path):
    out = train(_tiny_config(fixtures, tiny_base_dir, tmp_path))
    names = {p.name for p in out.iterdir()}
    assert {
        "config.json",
        "model.safetensors",
        "tokenizer_config.json",
        "claimstance.json",
        "train_config.json",
        "metrics.json",
        "README.md",
    } <= names
    assert not [n for n in names if n.endswith((".bin", ".pt", ".pkl"))]
    info = json.loads((out / "train_config.json").read_text())
    assert info["data"]["train"]["rows"] == 7 and len(info["data"]["train"]["sha256"]) == 64
    assert info["seed"] == 13
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n"] == 8 and "ece" in metrics and metrics["temperature"] > 0
    assert "Intended use" in (out / "README.md").read_text()
    preds = load_classifier(str(out)).predict(["The governor vowed to rebuild the bridge."])
    assert len(preds) == 1
    assert not list(tmp_path.glob(".run.*"))  # staging dir cleaned up


def test_bad_training_data_fails_before_training(tiny_base_dir, fixtures, tmp_path):
    cfg = TrainConfig(
        train_file=str(fixtures / "bad.jsonl"),
        dev_file=str(fixtures / "bad.jsonl"),
        test_file="",
        output_dir=str(tmp_path / "run"),
        base_model=str(tiny_base_dir),
        progress=False,
    )
    with pytest.raises(DataError, match=r"bad\.jsonl:2: unknown label"):
        train(cfg)
    assert not (tmp_path / "run").exists()


def test_fit_temperature_recovers_a_known_temperature():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(size=(4000, 5)) * 2
    probs = np.exp(true_logits) / np.exp(true_logits).sum(1, keepdims=True)
    gold = [int(rng.choice(5, p=p)) for p in probs]
    # A model three times too confident: the fit should find T close to 3.
    assert fit_temperature(true_logits * 3, gold) == pytest.approx(3.0, rel=0.1)


def test_config_file_and_overrides(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("epochs = 2\nlearning_rate = 3e-5\n")
    cfg = load_train_config(path, epochs=5, seed=None)
    assert (cfg.epochs, cfg.learning_rate, cfg.seed) == (5, 3e-5, 13)
    path.write_text("epoks = 2\n")
    with pytest.raises(ValueError, match="unknown keys \\['epoks'\\]"):
        load_train_config(path)
    with pytest.raises(ValueError, match="learning_rate must be in"):
        TrainConfig(learning_rate=2.0)
    assert math.isfinite(TrainConfig().warmup_ratio)


def test_bf16_setting():
    from claimstance.training import use_bf16

    assert use_bf16("on") is True and use_bf16("off") is False
    assert isinstance(use_bf16("auto"), bool)
    with pytest.raises(ValueError, match="bf16 must be"):
        TrainConfig(bf16="maybe")


def test_freeze_keeps_embeddings_and_lower_layers_fixed(tiny_base_dir):
    from claimstance import modeling

    model, _ = modeling.build_model(str(tiny_base_dir), seed=0)
    total = sum(p.numel() for p in model.parameters())
    assert modeling.freeze(model, 0) == total
    trainable = modeling.freeze(model, 1)
    assert trainable < total
    assert not any(p.requires_grad for p in model.bert.embeddings.parameters())
    assert not any(p.requires_grad for p in model.bert.encoder.layer[0].parameters())
    assert all(p.requires_grad for p in model.bert.encoder.layer[1].parameters())
    assert all(p.requires_grad for p in model.classifier.parameters())
    with pytest.raises(ValueError, match="layers"):
        modeling.freeze(model, 9)


def test_ablation_configs_differ_from_the_base_config_only_where_they_say():
    """An ablation TOML starts from TrainConfig's defaults, not from base.toml: the two must
    agree, or every ablation (and the ensemble's seed runs) would change more than its key."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    base = tomllib.loads((root / "train/configs/base.toml").read_text())
    defaults = TrainConfig().to_dict()
    assert {k: v for k, v in base.items() if defaults[k] != v} == {}
    for path in sorted((root / "train/configs/ablations").glob("*.toml")):
        own = tomllib.loads(path.read_text())
        cfg = load_train_config(path).to_dict()
        changed = {k for k in cfg if cfg[k] != defaults[k]}
        assert changed <= set(own), (path.name, changed - set(own))


def test_stale_reason_names_an_earlier_corpus_or_another_config(tmp_path):
    from claimstance.config import stale_reason
    from claimstance.provenance import sha256_file

    train = tmp_path / "train.jsonl"
    train.write_text('{"text": "x", "label": "none"}\n')
    config = tmp_path / "run.toml"
    config.write_text(f'train_file = "{train}"\nseed = 7\n')
    model = tmp_path / "model"
    model.mkdir()
    assert stale_reason(model, config) is None  # nothing recorded: cannot tell, counts as current
    recorded = load_train_config(config).to_dict()

    def record(sha, **changes):
        data = {"train": {"path": str(train), "rows": 1234, "sha256": sha}}
        (model / "train_config.json").write_text(
            json.dumps({"config": recorded | changes, "data": data})
        )

    record(sha256_file(train))
    assert stale_reason(model, config) is None
    record("0" * 64)
    assert stale_reason(model, config) == "an earlier corpus (1,234 train sentences)"
    record(sha256_file(train), epochs=3.0, output_dir="elsewhere", threads=8)
    assert stale_reason(model, config) == "another config (epochs 3.0 -> 4.0)"
    record(sha256_file(train), seed=13)
    assert stale_reason(model, config) == "another config (seed 13 -> 7)"
    # a run recorded before a setting existed was trained with it off
    config.write_text(f'train_file = "{train}"\nseed = 7\nrdrop = 1.0\n')
    recorded.pop("rdrop")
    record(sha256_file(train))
    assert stale_reason(model, config) == "another config (rdrop 0.0 -> 1.0)"


def test_rdrop_loss_is_cross_entropy_plus_the_weighted_symmetric_kl():
    import torch
    import torch.nn.functional as F

    from claimstance.training import rdrop_loss

    torch.manual_seed(0)
    a, b = torch.randn(6, 5), torch.randn(6, 5)
    y = torch.tensor([0, 1, 2, 3, 4, 0])
    # identical passes: no disagreement, only the cross-entropy
    assert rdrop_loss(a, a.clone(), y, alpha=4.0).item() == pytest.approx(
        F.cross_entropy(a, y).item(), rel=1e-6
    )
    ce = 0.5 * (F.cross_entropy(a, y) + F.cross_entropy(b, y))
    kl_ab = (a.softmax(-1) * (a.log_softmax(-1) - b.log_softmax(-1))).sum(-1).mean()
    kl_ba = (b.softmax(-1) * (b.log_softmax(-1) - a.log_softmax(-1))).sum(-1).mean()
    expected = ce + 2.0 * 0.5 * (kl_ab + kl_ba)
    assert rdrop_loss(a, b, y, alpha=2.0).item() == pytest.approx(expected.item(), rel=1e-5)
    # the penalty is symmetric in the two passes
    assert rdrop_loss(a, b, y, 2.0).item() == pytest.approx(rdrop_loss(b, a, y, 2.0).item())


def test_rdrop_training_runs_each_batch_twice_and_records_the_setting(
    tiny_base_dir, fixtures, tmp_path, monkeypatch
):
    from claimstance import training

    seen: list[tuple[int, int]] = []
    plain = training.rdrop_loss

    def spy(first, second, labels, alpha, label_smoothing=0.0):
        seen.append((first.shape[0], labels.shape[0]))
        assert (alpha, label_smoothing) == (1.0, 0.1)
        assert not torch.equal(first, second)  # dropout differs between the two passes
        return plain(first, second, labels, alpha, label_smoothing)

    import torch

    monkeypatch.setattr(training, "rdrop_loss", spy)
    cfg = _tiny_config(
        fixtures,
        tiny_base_dir,
        tmp_path,
        epochs=1,
        batch_size=4,
        rdrop=1.0,
        label_smoothing=0.1,
        export_onnx=False,
    )
    out = train(cfg)
    assert seen == [(4, 4), (3, 3)]  # 7 training rows in batches of 4: each pass sees all
    assert json.loads((out / "train_config.json").read_text())["config"]["rdrop"] == 1.0
    with pytest.raises(ValueError, match="rdrop must be 0 or more"):
        TrainConfig(rdrop=-1.0)
    seen.clear()
    cfg.rdrop, cfg.output_dir = 0.0, str(tmp_path / "plain")
    train(cfg)
    assert seen == []  # rdrop 0: the plain Trainer's loss


def test_augment_restyles_training_sentences_only_and_records_it(
    tiny_base_dir, fixtures, tmp_path, monkeypatch
):
    from claimstance import training

    seen: dict[str, list[str]] = {}
    plain = training._dataset

    def spy(examples, tokenizer, max_length):
        seen.setdefault("train" if "train" not in seen else "dev", [e.text for e in examples])
        return plain(examples, tokenizer, max_length)

    monkeypatch.setattr(training, "_dataset", spy)
    cfg = _tiny_config(
        fixtures, tiny_base_dir, tmp_path, epochs=1, augment=1.0, rdrop=0.0, export_onnx=False
    )
    out = train(cfg)
    written = [json.loads(line)["text"] for line in open(cfg.train_file)]
    dev = [json.loads(line)["text"] for line in open(cfg.dev_file)]
    record = json.loads((out / "train_config.json").read_text())
    changed = len(seen["train"]) - len(written)  # restyled copies added to the split as written
    assert changed == record["restyled"]["sentences"] > 0
    assert set(written) <= set(seen["train"])
    assert record["data"]["train"]["rows"] == len(written)
    assert seen["dev"] == dev  # the dev split is never restyled
    assert record["config"]["augment"] == 1.0
    card = (out / "README.md").read_text()
    assert f"Restyled: {changed} copies of training sentences (augment 1.0)" in card
    with pytest.raises(ValueError, match="augment must be in"):
        TrainConfig(augment=2.0)
