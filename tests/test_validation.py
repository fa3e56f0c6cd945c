"""Bad training data and bad model dirs: a one-line error naming the file (and line), exit 1,
before any training or labeling starts."""

from __future__ import annotations

import json

import pytest

from claimstance import modeling
from claimstance.cli import main


def _row(text, label="none", doc_id="a"):
    return json.dumps({"text": text, "label": label, "doc_id": doc_id}) + "\n"


OK = _row("The mayor spoke.") + _row("Talks resumed.")


@pytest.mark.parametrize(
    "train,dev,message",
    [
        (
            OK + _row("x", "gossip"),
            _row("Dev row.", doc_id="b"),
            "train.jsonl:3: unknown label 'gossip'; expected one of",
        ),
        (
            OK + json.dumps({"text": "No label."}) + "\n",
            _row("Dev row.", doc_id="b"),
            "train.jsonl:3: unknown label None",
        ),
        (OK + _row("   "), _row("Dev row.", doc_id="b"), "train.jsonl:3: empty 'text'"),
        (
            OK + '{"label": "none"}\n',
            _row("Dev row.", doc_id="b"),
            "train.jsonl:3: no 'text' field",
        ),
        (OK + "{oops\n", _row("Dev row.", doc_id="b"), "train.jsonl:3: not valid JSON"),
        (
            OK.encode() + b'{"text": "caf\xe9", "label": "none"}\n',
            _row("Dev row.", doc_id="b"),
            "train.jsonl:3: bytes that are not valid UTF-8",
        ),
        (
            OK + _row("THE MAYOR  spoke!"),
            _row("Dev row.", doc_id="b"),
            "train.jsonl:3: duplicate sentence, first seen at",
        ),
        (OK, _row("Talks resumed.", doc_id="b"), "dev.jsonl:1: duplicate sentence, first seen at"),
        (
            OK,
            _row("Another sentence.", doc_id="a"),
            "dev.jsonl:1: document 'a' is also in the train split",
        ),
    ],
)
def test_bad_training_data_stops_before_training(
    tiny_base_dir, tmp_path, monkeypatch, capsys, train, dev, message
):
    def no_training(*args, **kwargs):
        raise AssertionError("training started on bad data")

    monkeypatch.setattr(modeling, "build_model", no_training)
    for name, content in (("train.jsonl", train), ("dev.jsonl", dev)):
        path = tmp_path / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    config = tmp_path / "c.toml"
    config.write_text(f'test_file = ""\nbase_model = "{tiny_base_dir}"\n')
    argv = ["train", "--config", str(config), "--output", str(tmp_path / "run")]
    argv += [
        "--train-file",
        str(tmp_path / "train.jsonl"),
        "--dev-file",
        str(tmp_path / "dev.jsonl"),
    ]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def _break(model_dir, case):
    weights = model_dir / "model.safetensors"
    if case == "missing dir":
        return model_dir / "nothing"
    if case == "missing weights":
        weights.unlink()
    elif case == "empty weights":
        weights.write_bytes(b"")
    elif case == "truncated weights":
        weights.write_bytes(weights.read_bytes()[:-100])
    elif case == "weights cut in the header":
        weights.write_bytes(weights.read_bytes()[:50])
    elif case == "other labels":
        config = json.loads((model_dir / "config.json").read_text())
        config["id2label"]["2"] = "promise"
        (model_dir / "config.json").write_text(json.dumps(config))
    elif case == "fewer labels":
        config = json.loads((model_dir / "config.json").read_text())
        del config["id2label"]["4"]
        (model_dir / "config.json").write_text(json.dumps(config))
    elif case == "broken config":
        (model_dir / "config.json").write_text('{"id2label": ')
    elif case == "broken tokenizer":
        (model_dir / "tokenizer.json").write_text("garbage")
    elif case == "a file, not a dir":
        (model_dir.parent / "file").write_text("x")
        return model_dir.parent / "file"
    return model_dir


@pytest.mark.parametrize(
    "case,message",
    [
        ("missing dir", "no model dir here"),
        ("a file, not a dir", "no model dir here"),
        ("missing weights", "incomplete model dir, missing ['model.safetensors']"),
        ("empty weights", "cannot load the model"),
        ("truncated weights", "cannot load the model"),
        ("weights cut in the header", "cannot load the model"),
        ("other labels", "expected ['official_statement', 'attributed_claim', 'pledge'"),
        ("fewer labels", "expected ['official_statement', 'attributed_claim', 'pledge'"),
        ("broken config", "unreadable JSON"),
        ("broken tokenizer", "cannot load the model"),
    ],
)
def test_bad_model_dir_is_one_line_and_exit_1(model_copy, tmp_path, capsys, case, message):
    (tmp_path / "a.txt").write_text("The mayor spoke.")
    model = _break(model_copy, case)
    out = tmp_path / "out.jsonl"
    assert main(["predict", str(tmp_path / "a.txt"), "--model", str(model), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and err.startswith("claimstance: error: ")
    assert not out.exists() and not (tmp_path / "out.jsonl.part").exists()
