"""Whole `claimstance predict` runs on broken input: what the user sees (exit status, the one-line
error, the end-of-run summary), --skip-bad and --encoding-errors, the accounting of every
document and sentence, and --resume after an interruption."""

from __future__ import annotations

import csv
import json

import pytest

from claimstance import runner
from claimstance.cli import main
from claimstance.data import ReadStats, document_sentences, read_documents


def _rows(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _predict(model, *args):
    # One torch thread: a tiny model gains nothing from two, and loses much on a busy machine.
    return main(["predict", *map(str, args), "--model", str(model), "--threads", "1"])


@pytest.fixture(autouse=True)
def _keep_torch_threads():
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def messy(tmp_path):
    """A directory as an archive holds it: mixed formats, bad lines, odd text, repeated ids."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_bytes(b"\xef\xbb\xbfThe mayor said so.\r\nTalks resumed.\r\n")
    (folder / "b.jsonl").write_bytes(
        b'{"id": "x", "text": "The governor vowed to rebuild the bridge. Is anyone surprised?"}\n'
        b"\n"
        b"not json at all\n"
        b'{"id": "x", "text": "Same id, another document.\\u00a0Tabs\\there."}\n'
        b'{"id": "e", "text": "   "}\n'
        b'{"text": "caf\xe9 au lait."}\n'
        b'{"id": 7}\n'
        b'{"id": "y", "text": "1234 5678 -- 99%"}\n'
    )
    (folder / "c.csv").write_bytes(
        b'id,text\nc1,"Officials warned of floods."\nc2\nc3,"Two\nlines, one record."\n'
    )
    (folder / "notes.md").write_text("not read")
    (folder / "gone.jsonl").symlink_to(tmp_path / "nowhere")
    return folder


def test_bad_line_is_an_error_naming_file_and_line(tiny_model_dir, messy, tmp_path, capsys):
    out = tmp_path / "out.jsonl"
    assert _predict(tiny_model_dir, messy, "-o", out, "-q") == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert errors == [
        f"claimstance: error: {messy}/b.jsonl:3: not valid JSON (Expecting value); "
        "expected one object a line"
    ]
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["in"]  # no .part, no journal left


def test_skip_bad_goes_on_and_reports(tiny_model_dir, messy, tmp_path, capsys):
    out, bad = tmp_path / "out.jsonl", tmp_path / "bad.txt"
    assert _predict(tiny_model_dir, messy, "-o", out, "--skip-bad", bad) == 0
    assert bad.read_bytes() == (b'not json at all\n{"text": "caf\xe9 au lait."}\n{"id": 7}\nc2\n')
    log = capsys.readouterr().err
    assert (
        "read 3 files: 7 documents (6 labeled, 1 empty), 4 lines skipped "
        "(1 CSV field count, 1 bad UTF-8, 1 no text, 1 not JSON)" in log
    )
    assert "1 duplicate id (kept apart: see doc_index and record)" in log
    assert "2 files skipped: " in log and "notes.md (unknown suffix '.md')" in log
    assert "gone.jsonl (unreadable: a broken link)" in log
    assert f"4 bad records written verbatim to {bad}" in log
    rows = _rows(out)
    assert f"wrote {len(rows)} sentences to {out}" in log
    # duplicate ids: the rows still tell which record each came from
    same = {(r["doc_index"], r["record"]) for r in rows if r["doc_id"] == "x"}
    assert same == {(1, f"{messy}/b.jsonl:1"), (2, f"{messy}/b.jsonl:4")}


def test_encoding_errors_replace_counts_lines(tiny_model_dir, messy, tmp_path, capsys):
    out = tmp_path / "out.csv"
    code = _predict(
        tiny_model_dir,
        messy,
        "-o",
        out,
        "--skip-bad",
        tmp_path / "bad",
        "--encoding-errors",
        "replace",
    )
    assert code == 0
    log = capsys.readouterr().err
    assert "1 line with invalid UTF-8 (or a lone surrogate) replaced by U+FFFD" in log
    assert "3 lines skipped (1 CSV field count, 1 no text, 1 not JSON)" in log
    rows = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    assert "caf\ufffd au lait." in {r["text"] for r in rows}


def test_every_sentence_of_every_document_exactly_once(tiny_model_dir, messy, tmp_path):
    out = tmp_path / "out.jsonl"
    args = ["--skip-bad", tmp_path / "bad", "--encoding-errors", "replace", "--chunk-size", "2"]
    assert _predict(tiny_model_dir, messy, "-o", out, "--batch-size", "2", *args, "-q") == 0
    stats = ReadStats()
    docs = list(
        read_documents([str(messy)], stats=stats, encoding_errors="replace", on_bad=lambda b: b)
    )
    expected = [
        (d.index, d.doc_id, d.source, s.index, s.start, s.end, s.text)
        for d in docs
        for s in document_sentences(d)
    ]
    got = [
        (
            r["doc_index"],
            r["doc_id"],
            r["record"],
            r["sentence_index"],
            r["start"],
            r["end"],
            r["text"],
        )
        for r in _rows(out)
    ]
    assert got == expected  # each sentence once, in order, nothing else
    texts = {d.index: d.text for d in docs}
    assert all(texts[r["doc_index"]][r["start"] : r["end"]] == r["text"] for r in _rows(out))


def test_accounting_mismatch_is_caught_before_the_output_is_renamed(
    tiny_model_dir, messy, tmp_path, monkeypatch, capsys
):
    original = runner._check

    def lose_one(report, rows):
        report.read.documents += 1  # as if a document had been read but never labeled
        original(report, rows)

    monkeypatch.setattr(runner, "_check", lose_one)
    out = tmp_path / "out.jsonl"
    assert _predict(tiny_model_dir, messy, "-o", out, "--skip-bad", tmp_path / "bad") == 1
    assert "internal accounting check failed" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "out.jsonl.part").exists()


def test_long_sentence_is_truncated_and_flagged(tiny_model_dir, tmp_path, capsys):
    long = " ".join(["the bridge"] * 40) + "."
    (tmp_path / "l.jsonl").write_text(json.dumps({"text": f"{long} Talks resumed."}) + "\n")
    assert _predict(tiny_model_dir, tmp_path / "l.jsonl") == 0
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert [r.get("truncated", False) for r in rows] == [True, False]
    assert rows[0]["text"] == long  # the row holds the whole sentence, not the cut one
    assert "(1 truncated)" in captured.err


def test_document_of_several_megabytes_on_one_line(tiny_model_dir, tmp_path):
    sentence = "The minister said " + "the bridge " * 1000 + "would reopen."  # ~11 KB
    text = " ".join([sentence] * 200)  # ~2.2 MB on one line
    (tmp_path / "big.jsonl").write_text(json.dumps({"id": "big", "text": text}) + "\n")
    out = tmp_path / "out.jsonl"
    assert _predict(tiny_model_dir, tmp_path / "big.jsonl", "-o", out, "-q") == 0
    rows = _rows(out)
    assert len(rows) == 200 and all(r["truncated"] for r in rows)
    assert all(text[r["start"] : r["end"]] == r["text"] == sentence for r in rows)


# --- usage and resume ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args,message",
    [
        (["--resume"], "--resume needs an output file"),
        (["--resume", "-o", "x.jsonl", "--format", "table"], "--resume does not work with"),
        (["-", "--resume", "-o", "x.jsonl"], "--resume cannot re-read stdin"),
        (["--skip-bad", "-"], "--skip-bad needs a file name"),
        (["-o", "x.jsonl", "--skip-bad", "x.jsonl"], "--skip-bad FILE must differ"),
    ],
)
def test_usage_errors_exit_2(tiny_model_dir, tmp_path, capsys, args, message):
    (tmp_path / "a.txt").write_text("Fine.")
    assert main(["predict", str(tmp_path / "a.txt"), *args, "--model", str(tiny_model_dir)]) == 2
    err = capsys.readouterr().err
    assert message in err and "usage: claimstance predict" in err


def _docs(tmp_path, n=60):
    path = tmp_path / "docs.jsonl"
    with path.open("w") as fh:
        for i in range(n):
            text = " ".join(f"Sentence {j} of the document number {i}." for j in range(i % 4))
            fh.write(json.dumps({"id": f"d{i % 25}", "text": text}) + "\n")
    return path


def _interrupt_after(monkeypatch, chunks):
    original = runner._CheckpointedOutput.checkpoint
    calls = {"n": 0}

    def checkpoint(self, labels):
        original(self, labels)
        calls["n"] += 1
        if calls["n"] == chunks:
            raise KeyboardInterrupt

    monkeypatch.setattr(runner._CheckpointedOutput, "checkpoint", checkpoint)


@pytest.mark.parametrize("suffix", ["jsonl", "csv"])
def test_resume_after_an_interruption_is_byte_identical(
    tiny_model_dir, tmp_path, monkeypatch, suffix, capsys
):
    docs = _docs(tmp_path)
    opts = ["--chunk-size", "8", "--batch-size", "4", "-q"]
    full, out = tmp_path / f"full.{suffix}", tmp_path / f"out.{suffix}"
    assert _predict(tiny_model_dir, docs, "-o", full, *opts) == 0
    with monkeypatch.context() as patch:
        _interrupt_after(patch, 3)
        assert _predict(tiny_model_dir, docs, "-o", out, *opts) == 130
    part, journal = tmp_path / f"out.{suffix}.part", tmp_path / f"out.{suffix}.resume.json"
    assert not out.exists() and part.exists() and journal.exists()
    assert "run the same command with --resume" in capsys.readouterr().err
    with part.open("ab") as fh:  # a kill can land after rows that no checkpoint covers
        fh.write(b'{"doc_id": "half a row')
    assert _predict(tiny_model_dir, docs, "-o", out, *opts[:-1], "--resume") == 0
    assert out.read_bytes() == full.read_bytes()
    assert not part.exists() and not journal.exists()
    err = capsys.readouterr().err
    assert "resuming" in err and "documents by the interrupted run)" in err
    if suffix == "csv":
        assert out.read_text().count("doc_id,doc_index") == 1  # one header


def test_resume_refuses_changed_input_and_keeps_the_partial_output(
    tiny_model_dir, tmp_path, monkeypatch, capsys
):
    docs = _docs(tmp_path)
    out = tmp_path / "out.jsonl"
    opts = ["--chunk-size", "8", "--batch-size", "4", "-q"]
    with monkeypatch.context() as patch:
        _interrupt_after(patch, 2)
        assert _predict(tiny_model_dir, docs, "-o", out, *opts) == 130
    assert _predict(tiny_model_dir, docs, "-o", out, *opts, "--chunk-size", "16", "--resume") == 1
    assert "--resume: the options changed since the interrupted run (chunk_size: 8 -> 16)" in (
        capsys.readouterr().err
    )
    with docs.open("a") as fh:
        fh.write(json.dumps({"text": "One more."}) + "\n")
    assert _predict(tiny_model_dir, docs, "-o", out, *opts, "--resume") == 1
    assert "--resume: the input files changed since the interrupted run" in capsys.readouterr().err
    assert (tmp_path / "out.jsonl.part").exists() and (tmp_path / "out.jsonl.resume.json").exists()


def test_resume_without_a_journal_starts_fresh_and_leftovers_are_replaced(
    tiny_model_dir, tmp_path, monkeypatch, capsys
):
    docs = _docs(tmp_path, 10)
    out = tmp_path / "out.jsonl"
    assert _predict(tiny_model_dir, docs, "-o", out, "--resume") == 0
    assert "no interrupted run to resume" in capsys.readouterr().err
    first = out.read_bytes()
    with monkeypatch.context() as patch:
        _interrupt_after(patch, 1)
        assert _predict(tiny_model_dir, docs, "-o", out, "--chunk-size", "64") == 130
    assert out.read_bytes() == first  # an interrupted run leaves the previous output alone
    capsys.readouterr()
    assert _predict(tiny_model_dir, docs, "-o", out) == 0
    assert "replacing the partial output of an earlier interrupted run" in capsys.readouterr().err
    assert out.read_bytes() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs.jsonl", "out.jsonl"]


def test_output_in_the_input_directory_is_not_read_back(tiny_model_dir, tmp_path):
    (tmp_path / "a.jsonl").write_text('{"text": "Only this."}\n')
    out = tmp_path / "labels.jsonl"
    for _ in range(2):  # the second run must not label the first run's output
        assert _predict(tiny_model_dir, tmp_path, "-o", out, "-q") == 0
        assert [r["text"] for r in _rows(out)] == ["Only this."]
