from __future__ import annotations

import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claimstance.data import (
    DataError,
    Document,
    PredictionWriter,
    ReadStats,
    check_splits,
    document_sentences,
    load_labeled,
    read_documents,
    split_sentences,
)


def test_splitter_handles_abbreviations_quotes_and_line_breaks(fixtures):
    text = (fixtures / "article.txt").read_text()
    spans = split_sentences(text)
    sentences = [text[s:e] for s, e in spans]
    assert sentences[0] == "Bridge closure snarls traffic"
    # "Mr.", "U.S." and a sentence running over a line break stay in one sentence
    assert sentences[1].startswith("WASHINGTON — Mr. Okafor") and sentences[1].endswith(
        'replaced."'
    )
    assert "\n" in sentences[1]
    assert sentences[2] == "Gen. Ruiz arrived at 3 p.m. on Monday."
    assert sentences[3] == '"We will rebuild it," the mayor said.'
    assert sentences[4] == '"Every span, every bolt."'
    assert sentences[5] == "Is anyone surprised?"
    assert len(sentences) == 7


def test_document_sentences_slice_back(fixtures):
    doc = Document("d", (fixtures / "article.txt").read_text(), "x")
    for s in document_sentences(doc):
        assert doc.text[s.start : s.end] == s.text


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("ab .?!\"'\n\tU.S.Mr3")), max_size=120)
    | st.text(max_size=80)
)
def test_sentences_cover_every_non_space_character(text):
    spans = split_sentences(text)
    covered = "".join(text[s:e] for s, e in spans)
    assert [c for c in covered if not c.isspace()] == [c for c in text if not c.isspace()]
    assert all(s < e and not text[s].isspace() and not text[e - 1].isspace() for s, e in spans)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))


def test_pre_split_keeps_the_record_whole_minus_whitespace():
    doc = Document("d", "  One. Two.  ", "x")
    [s] = document_sentences(doc, pre_split=True)
    assert (s.text, s.start, s.end) == ("One. Two.", 2, 11)
    assert document_sentences(Document("e", "   ", "x"), pre_split=True) == []


def test_read_all_input_kinds(tmp_path):
    (tmp_path / "a.txt").write_text("\ufeffOne sentence. Another one.\r\n")
    (tmp_path / "b.jsonl").write_text(
        '{"id": "x1", "text": "Hello there."}\n\n{"text": "No id."}\n'
    )
    (tmp_path / "c.csv").write_text('id,text\nc1,"Quoted, with comma."\n')
    (tmp_path / "notes.md").write_text("skip me")
    stats = ReadStats()
    docs = list(read_documents([str(tmp_path)], stats=stats))
    assert [d.doc_id for d in docs] == [
        str(tmp_path / "a.txt"),
        "x1",
        f"{tmp_path / 'b.jsonl'}:3",
        "c1",
    ]
    assert docs[0].text.startswith("One")  # BOM dropped
    assert stats.files == 3 and stats.documents == 4
    assert stats.skipped_files == {str(tmp_path / "notes.md"): "unknown suffix '.md'"}
    stdin_docs = list(read_documents(["-"], stdin=io.StringIO('{"text": "From stdin."}\n')))
    assert stdin_docs[0].text == "From stdin."


def test_txt_lines_mode_gives_a_document_per_line(tmp_path):
    (tmp_path / "s.txt").write_text("First line.\n\nSecond line.\n")
    docs = list(read_documents([str(tmp_path / "s.txt")], lines=True))
    assert [(d.doc_id.rsplit(":", 1)[1], d.text) for d in docs] == [
        ("1", "First line."),
        ("3", "Second line."),
    ]


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("bad.jsonl", '{"text": "ok"}\nnot json\n', "bad.jsonl:2: not valid JSON"),
        ("bad.jsonl", '{"text": "ok"}\n{"id": 3}\n', "bad.jsonl:2: no 'text' field"),
        ("bad.jsonl", "[1, 2]\n", "bad.jsonl:1: expected a JSON object"),
        ("bad.csv", "id,body\n1,hello\n", "bad.csv:1: no 'text' column"),
        ("bad.csv", "id,text\n1,hello,extra\n", "bad.csv:2: expected 2 fields"),
        ("bad.pdf", "whatever", "unknown suffix '.pdf'"),
    ],
)
def test_read_errors_name_file_and_line(tmp_path, name, content, message):
    (tmp_path / name).write_text(content)
    with pytest.raises(DataError, match=message.replace("[", r"\[").replace(".", r"\.")):
        list(read_documents([str(tmp_path / name)]))


def test_invalid_utf8_names_the_line(tmp_path):
    (tmp_path / "x.txt").write_bytes(b"fine\nbroken \xff here\n")
    with pytest.raises(DataError, match=r"x\.txt:2: bytes that are not valid UTF-8"):
        list(read_documents([str(tmp_path / "x.txt")]))


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        list(read_documents([str(tmp_path / "nope.txt")]))


def test_load_labeled_reports_first_bad_line(fixtures, tmp_path):
    with pytest.raises(DataError, match=r"bad\.jsonl:2: unknown label 'gossip'"):
        load_labeled(fixtures / "bad.jsonl")
    lines = (fixtures / "bad.jsonl").read_text().splitlines()
    (tmp_path / "empty.jsonl").write_text(lines[2] + "\n")
    with pytest.raises(DataError, match=r"empty\.jsonl:1: empty 'text'"):
        load_labeled(tmp_path / "empty.jsonl")
    (tmp_path / "missing.jsonl").write_text(lines[3] + "\n")
    with pytest.raises(DataError, match=r"missing\.jsonl:1: no 'text' field"):
        load_labeled(tmp_path / "missing.jsonl")


def test_check_splits_catches_leaks(fixtures):
    rows = load_labeled(fixtures / "labeled_small.jsonl")
    one = [r for r in rows if r.doc_id == "fx-1"]
    two = [r for r in rows if r.doc_id == "fx-2"]
    check_splits({"train": one, "dev": two})
    with pytest.raises(DataError, match="document 'fx-1' is also in the train split"):
        check_splits({"train": one, "dev": [*two, one[0]]})
    with pytest.raises(DataError, match="duplicate sentence, first seen at"):
        check_splits({"train": [*one, one[0]]})


def test_writer_renames_only_on_success(tmp_path):
    row = {
        "doc_id": "d",
        "sentence_index": 0,
        "start": 0,
        "end": 2,
        "text": "Hi",
        "label": "none",
        "score": 0.9,
        "scores": {
            "official_statement": 0.025,
            "attributed_claim": 0.025,
            "pledge": 0.025,
            "warning": 0.025,
            "none": 0.9,
        },
    }
    out = tmp_path / "out.jsonl"
    writer = PredictionWriter(str(out), "jsonl")
    writer.write(row)
    assert not out.exists()
    writer.close(ok=True)
    assert json.loads(out.read_text()) == row
    failed = PredictionWriter(str(tmp_path / "failed.csv"), "csv")
    failed.write(row)
    failed.close(ok=False)
    assert list(tmp_path.iterdir()) == [out]


def test_load_labeled_keeps_the_optional_id(tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_text(
        '{"id": 7, "text": "Talks resumed.", "label": "none"}\n'
        '{"text": "He vowed to return.", "label": "pledge"}\n'
    )
    assert [ex.id for ex in load_labeled(path)] == ["7", None]
