"""The ONNX export and the backends: same labels as torch, the fastest one by default, and clear
errors for missing, stale or broken exports."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from claimstance import backends, provenance
from claimstance.backends import ModelDirError
from claimstance.cli import main
from claimstance.inference import load_classifier
from claimstance.modeling import encode as hf_encode
from claimstance.modeling import load


@pytest.fixture
def texts(fixtures):
    return [
        json.loads(line)["text"]
        for line in (fixtures / "labeled_small.jsonl").read_text().splitlines()
    ]


def test_export_records_files_and_source_weights(onnx_model_dir):
    meta = json.loads((onnx_model_dir / "claimstance.json").read_text())["onnx"]
    assert (onnx_model_dir / "model.onnx").is_file()
    assert (onnx_model_dir / "model.int8.onnx").is_file()
    assert meta["source_sha256"] == provenance.sha256_file(onnx_model_dir / "model.safetensors")
    assert meta["fp32_max_logit_diff"] < 1e-3
    assert not list(onnx_model_dir.glob(".export.*"))  # the staging dir is gone


def test_onnx_fp32_matches_torch(onnx_model_dir, texts):
    torch_probs = load_classifier(str(onnx_model_dir), backend="torch").predict_proba(texts)
    onnx_probs = load_classifier(str(onnx_model_dir), backend="onnx").predict_proba(texts)
    np.testing.assert_allclose(onnx_probs, torch_probs, atol=1e-4)


def test_onnx_int8_stays_close_to_fp32(onnx_model_dir, texts):
    fp32 = load_classifier(str(onnx_model_dir), backend="onnx").predict_proba(texts)
    int8 = load_classifier(str(onnx_model_dir), backend="onnx-int8").predict_proba(texts)
    assert np.abs(int8 - fp32).max() < 0.05
    np.testing.assert_allclose(int8.sum(1), 1.0, atol=1e-5)


def test_auto_takes_the_fastest_backend_present(onnx_copy, tiny_model_dir):
    assert load_classifier(str(onnx_copy)).backend == "onnx-int8"
    (onnx_copy / "model.int8.onnx").unlink()
    assert load_classifier(str(onnx_copy)).backend == "onnx"
    assert load_classifier(str(tiny_model_dir)).backend == "torch"


def test_onnx_only_dir_runs_without_safetensors(onnx_copy, texts):
    (onnx_copy / "model.safetensors").unlink()
    assert len(load_classifier(str(onnx_copy)).predict(texts)) == len(texts)
    with pytest.raises(ModelDirError, match=r"missing \['model.safetensors'\]"):
        load_classifier(str(onnx_copy), backend="torch")


def test_missing_export_names_the_fix(tiny_model_dir):
    with pytest.raises(ModelDirError, match=r"missing \['model.onnx'\].*claimstance export"):
        load_classifier(str(tiny_model_dir), backend="onnx")


def test_stale_export_is_ignored_after_retraining(onnx_copy, caplog):
    loaded = load(onnx_copy)
    for param in loaded.model.parameters():
        param.data.mul_(0.5)
    loaded.model.save_pretrained(str(onnx_copy), safe_serialization=True)
    assert load_classifier(str(onnx_copy)).backend == "torch"
    assert "exported from other weights" in caplog.text
    with pytest.raises(ModelDirError, match="out of date"):
        load_classifier(str(onnx_copy), backend="onnx-int8")


def test_truncated_onnx_file_is_a_model_error(onnx_copy):
    path = onnx_copy / "model.int8.onnx"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ModelDirError, match="cannot load the ONNX model"):
        load_classifier(str(onnx_copy), backend="onnx-int8")


def test_rust_tokenizer_and_transformers_tokenizer_give_the_same_ids(tiny_model_dir, texts):
    long = " ".join(["the bridge"] * 40)
    fast = backends.encode(backends.load_tokenizer(tiny_model_dir), [*texts, long], 32)
    via_hf = hf_encode(load(tiny_model_dir).tokenizer, [*texts, long], 32)
    assert fast == via_hf
    assert fast[1][-1] is True and len(fast[0][-1]) == 32


def test_cli_predict_with_each_backend_gives_the_same_labels(onnx_model_dir, tmp_path, fixtures):
    labels = {}
    for backend in ("torch", "onnx", "onnx-int8"):
        out = tmp_path / f"{backend}.jsonl"
        args = ["predict", str(fixtures / "article.txt"), "-o", str(out), "-q"]
        assert main([*args, "--model", str(onnx_model_dir), "--backend", backend]) == 0
        labels[backend] = [json.loads(line)["label"] for line in out.read_text().splitlines()]
    assert labels["torch"] == labels["onnx"]
    assert len(labels["onnx-int8"]) == len(labels["torch"]) > 0


def test_cli_export_and_unknown_backend(model_copy, fixtures):
    assert main(["export", "--model", str(model_copy), "--no-int8", "-q"]) == 0
    assert (model_copy / "model.onnx").is_file() and not (model_copy / "model.int8.onnx").exists()
    assert main(["predict", str(fixtures / "article.txt"), "--backend", "tpu"]) == 2


def test_predicting_with_onnx_never_imports_torch(onnx_model_dir, fixtures, tmp_path):
    code = (
        "import sys; from claimstance.cli import main; "
        f"rc = main(['predict', {str(fixtures / 'article.txt')!r}, '-o', "
        f"{str(tmp_path / 'o.jsonl')!r}, '--model', {str(onnx_model_dir)!r}, '-q']); "
        "print(rc, 'torch' in sys.modules, 'transformers' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["0", "False", "False"]


def test_int8_keeps_feed_forward_blocks_in_float32_unless_asked(onnx_model_dir, model_copy):
    from claimstance.export import export, feed_forward_matmuls

    meta = json.loads((onnx_model_dir / "claimstance.json").read_text())["onnx"]
    n_ffn = len(feed_forward_matmuls(onnx_model_dir / "model.onnx"))
    assert n_ffn == 4  # 2 layers x (intermediate, output)
    assert meta["int8_float32_nodes"] == n_ffn
    info = export(model_copy, quantize_feed_forward=True)
    assert info["int8_float32_nodes"] == 0
    smaller = (model_copy / "model.int8.onnx").stat().st_size
    assert smaller < (onnx_model_dir / "model.int8.onnx").stat().st_size


def test_labels_in_claimstance_json_are_checked_too(model_copy):
    from claimstance.modeling import write_meta

    write_meta(model_copy, {"labels": ["pledge", "warning"]})
    with pytest.raises(ModelDirError, match=r"claimstance.json has labels \['pledge', 'warning'\]"):
        load_classifier(str(model_copy))
