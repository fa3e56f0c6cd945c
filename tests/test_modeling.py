from __future__ import annotations

import json

import pytest
import torch

from claimstance import modeling

TEXTS = [
    "The governor vowed to rebuild the collapsed bridge before the rainy season.",
    "Talks resumed on Tuesday after a two-week pause.",
]


def _logits(loaded, texts):
    ids, _ = modeling.encode(loaded.tokenizer, texts, loaded.max_length)
    with torch.inference_mode():
        return loaded.model(**modeling.collate(ids, loaded.tokenizer.pad_token_id)).logits


def test_save_load_gives_identical_logits(tiny_model_dir, tmp_path):
    first = modeling.load(tiny_model_dir)
    again = modeling.save(first.model, first.tokenizer, tmp_path / "again", first.max_length)
    second = modeling.load(again)
    assert torch.equal(_logits(first, TEXTS), _logits(second, TEXTS))
    assert second.max_length == 32 and second.temperature == 1.0
    assert not list(again.glob("*.bin")) and not list(again.glob("*.pt"))  # no pickles


def test_encode_truncates_like_the_tokenizer(tiny_model_dir):
    tok = modeling.load(tiny_model_dir).tokenizer
    texts = [TEXTS[0] * 3, TEXTS[1]]
    ids, truncated = modeling.encode(tok, texts, 16)
    assert truncated == [True, False]
    assert ids == tok(texts, truncation=True, max_length=16)["input_ids"]


def test_missing_dir(tmp_path):
    with pytest.raises(modeling.ModelDirError, match="no model dir here"):
        modeling.load(tmp_path / "nothing")


def test_missing_weights(model_copy):
    (model_copy / "model.safetensors").unlink()
    with pytest.raises(modeling.ModelDirError, match=r"missing \['model.safetensors'\]"):
        modeling.load(model_copy)


def test_truncated_weights(model_copy):
    weights = model_copy / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(modeling.ModelDirError, match="cannot load the model"):
        modeling.load(model_copy)


def test_other_labels(model_copy):
    config = json.loads((model_copy / "config.json").read_text())
    config["id2label"] = {
        "0": "pledge",
        "1": "official_statement",
        "2": "attributed_claim",
        "3": "warning",
        "4": "none",
    }
    (model_copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(modeling.ModelDirError, match="expected"):
        modeling.load(model_copy)


def test_base_model_not_found():
    with pytest.raises(modeling.ModelDirError, match="base model not found"):
        modeling.resolve_base_model("no_such_package_xyz")
