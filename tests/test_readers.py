"""The readers on every kind of input an archive holds: each case reads right, or fails with a
DataError naming file and line, or (with --skip-bad) is skipped and counted. Never a traceback,
never a record lost without a count."""

from __future__ import annotations

import io
import os
import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claimstance.data import (
    BadRecord,
    DataError,
    ReadStats,
    document_sentences,
    read_documents,
)


def _read(path, **kwargs):
    stats = ReadStats()
    bad: list[BadRecord] = []
    on_bad = bad.append if kwargs.pop("skip", False) else None
    docs = list(read_documents([str(path)], stats=stats, on_bad=on_bad, **kwargs))
    stats.check()
    return docs, stats, bad


# --- whitespace, BOM, line ends ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["e.txt", "e.jsonl", "e.csv"])
def test_empty_files(tmp_path, name):
    (tmp_path / name).write_bytes(b"")
    docs, stats, _ = _read(tmp_path / name)
    # an empty .txt is one empty document (a .txt file is one document); the others hold none
    assert [d.text for d in docs] == ([""] if name.endswith(".txt") else [])
    assert stats.files == 1 and stats.records == len(docs)


def test_blank_lines_are_not_records(tmp_path):
    (tmp_path / "b.jsonl").write_text('\n  \n{"text": "One."}\n\t\n\n{"text": "Two."}\n\n')
    (tmp_path / "b.csv").write_text("\nid,text\n\n1,One.\n   \n2,Two.\n\n")
    (tmp_path / "b.txt").write_text("\nOne.\n \n\nTwo.\n")
    for name, lines in (("b.jsonl", False), ("b.csv", False), ("b.txt", True)):
        docs, stats, _ = _read(tmp_path / name, lines=lines)
        assert [d.text for d in docs] == ["One.", "Two."], name
        assert stats.records == 2


def test_bom_and_crlf(tmp_path):
    bom = b"\xef\xbb\xbf"
    (tmp_path / "a.jsonl").write_bytes(bom + b'{"id": "x", "text": "One."}\r\n{"text": "Two."}\r\n')
    (tmp_path / "a.csv").write_bytes(bom + b'id,text\r\nx,One.\r\ny,"Two,\r\nlines."\r\n')
    (tmp_path / "a.txt").write_bytes(bom + b"One.\r\nTwo.\r\n")
    docs, _, _ = _read(tmp_path / "a.jsonl")
    assert [(d.doc_id, d.text) for d in docs] == [("x", "One."), (f"{tmp_path}/a.jsonl:2", "Two.")]
    docs, _, _ = _read(tmp_path / "a.csv")
    assert [(d.doc_id, d.text, d.source) for d in docs] == [
        ("x", "One.", f"{tmp_path}/a.csv:2"),
        ("y", "Two,\r\nlines.", f"{tmp_path}/a.csv:3"),
    ]
    docs, _, _ = _read(tmp_path / "a.txt", lines=True)
    assert [d.text for d in docs] == ["One.", "Two."]
    [doc], _, _ = _read(tmp_path / "a.txt")
    assert doc.text == "One.\r\nTwo.\r\n"
    assert [s.text for s in document_sentences(doc)] == ["One.", "Two."]


def test_tabs_and_non_breaking_spaces(tmp_path):
    text = "\tThe mayor\u00a0said so.\u00a0\u00a0Talks\tresumed.\u00a0"
    (tmp_path / "t.jsonl").write_text(f'{{"text": "{text}"}}\n'.replace("\t", "\\t"))
    [doc], _, _ = _read(tmp_path / "t.jsonl")
    assert doc.text == text
    sentences = document_sentences(doc)
    assert [s.text for s in sentences] == ["The mayor\u00a0said so.", "Talks\tresumed."]
    assert all(doc.text[s.start : s.end] == s.text for s in sentences)
    [whole] = document_sentences(doc, pre_split=True)
    assert whole.text == text.strip()


# --- invalid UTF-8 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,content,line",
    [
        ("u.jsonl", b'{"text": "ok"}\n{"text": "caf\xe9"}\n', 2),
        ("u.csv", b'id,text\n1,ok\n2,"two\nlines \xff"\n', 4),
        ("u.txt", b"ok\nbroken \xc3 here\n", 2),
    ],
)
def test_invalid_utf8_error_or_replace(tmp_path, name, content, line):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match=rf"u\.{name[2:]}:{line}: bytes that are not valid UTF-8"):
        _read(path)
    docs, stats, _ = _read(path, encoding_errors="replace")
    assert stats.replaced_lines == 1
    assert "\ufffd" in "".join(d.text for d in docs)
    _, stats, bad = _read(path, skip=True)  # strict + --skip-bad: the record is skipped
    assert stats.skipped_lines == {"bad UTF-8": 1}
    assert bad[0].where.endswith(f"{name}:{line}") and b"\n" in content


def test_lone_surrogate_escape_in_json(tmp_path):
    (tmp_path / "s.jsonl").write_text('{"id": "\\udc00", "text": "A \\ud800 b."}\n')
    with pytest.raises(DataError, match=r"s\.jsonl:1: 'text' holds a lone surrogate"):
        _read(tmp_path / "s.jsonl")
    [doc], stats, _ = _read(tmp_path / "s.jsonl", encoding_errors="replace")
    assert doc.text == "A \ufffd b." and doc.doc_id == "\ufffd"
    assert stats.replaced_lines == 2  # once for text, once for id
    doc.text.encode("utf-8")  # writable


# --- bad records: errors naming file and line, or skipped verbatim -----------------------------

BAD_JSONL = b"".join(
    [
        b'{"text": "ok"}\n',
        b"not json\n",
        b'{"id": 3}\n',
        b'{"text": 5}\n',
        b"[1, 2]\n",
        b'{"text": "also ok"}\r\n',
        b"1" * 5000 + b"\n",  # Python refuses to parse integers this long
        b"[" * 5000 + b"\n",  # nested deeper than the parser's recursion limit
    ]
)


def test_bad_jsonl_lines_error_then_skip(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(BAD_JSONL)
    with pytest.raises(DataError, match=r"bad\.jsonl:2: not valid JSON"):
        _read(path)
    docs, stats, bad = _read(path, skip=True)
    assert [d.text for d in docs] == ["ok", "also ok"]
    assert stats.skipped_lines == {"not JSON": 3, "no text": 2, "not a JSON object": 1}
    assert [b.where.rsplit(":", 1)[1] for b in bad] == ["2", "3", "4", "5", "7", "8"]
    assert b"".join(b.raw for b in bad) + b'{"text": "ok"}\n{"text": "also ok"}\r\n' == b"".join(
        sorted(BAD_JSONL.splitlines(keepends=True), key=lambda x: x.startswith(b'{"text": "'))
    )


def test_bad_csv_rows_error_then_skip(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(
        b"id,text,source\n"
        b"1,ok,wire\n"
        b"2,missing source\n"  # a missing field
        b"3,too,many,fields\n"
        b'4,"bad "quote",x\n'
        b'5,"spans\ntwo lines",wire\n'
        b'6,"never closed,x\n7,lost,x\n'
    )
    with pytest.raises(DataError, match=r"bad\.csv:3: expected 3 fields as in the header, got 2"):
        _read(path)
    docs, stats, bad = _read(path, skip=True)
    assert [(d.doc_id, d.text) for d in docs] == [("1", "ok"), ("5", "spans\ntwo lines")]
    assert stats.skipped_lines == {"CSV field count": 2, "CSV syntax": 2}
    assert [b.where.rsplit(":", 1)[1] for b in bad] == ["3", "4", "5", "8"]
    assert bad[-1].raw == b'6,"never closed,x\n7,lost,x\n'  # an unclosed quote runs to the end


def test_csv_without_text_column_is_an_error_or_a_skipped_file(tmp_path):
    path = tmp_path / "nocol.csv"
    path.write_bytes(b"id,body\n1,hello\n")
    with pytest.raises(DataError, match=r"nocol\.csv:1: no 'text' column"):
        _read(path)
    docs, stats, bad = _read(path, skip=True)
    assert docs == [] and stats.skipped_files == {str(path): "no text column"}
    assert stats.files == 0
    assert bad[0].raw == b"id,body\n1,hello\n"  # the whole file, verbatim


def test_whole_txt_with_invalid_utf8_is_skipped_whole(tmp_path):
    path = tmp_path / "doc.txt"
    path.write_bytes(b"Line one.\nLine \xff two.\n")
    docs, stats, bad = _read(path, skip=True)
    assert docs == [] and stats.records == 1 and bad[0].raw == path.read_bytes()


# --- size, truncation, odd text ------------------------------------------------------------------


def test_several_megabytes_on_one_line(tmp_path):
    sentence = "The minister said the bridge would reopen on Monday. " * 60000  # 3.2 MB
    path = tmp_path / "big.jsonl"
    path.write_text(f'{{"id": "big", "text": "{sentence}"}}\n{{"text": "After."}}\n')
    docs, stats, _ = _read(path)
    assert [len(d.text) for d in docs] == [len(sentence), 6]
    assert stats.documents == 2
    (tmp_path / "big.csv").write_text(f'text\n"{sentence}"\n')  # over csv's default field limit
    [doc], _, _ = _read(tmp_path / "big.csv")
    assert doc.text == sentence


@pytest.mark.parametrize(
    "text",
    [
        "1234 5678 -- +++ ... 99%",  # no letters
        "!!! ??? ...",
        "市长说大桥将于周一重新开放。谈判已于周二恢复。",  # Chinese
        "قال رئيس البلدية إن الجسر سيعاد فتحه. استؤنفت المحادثات.",  # Arabic
        "Мэр заявил, что мост откроется. Переговоры возобновились.",  # Cyrillic
        "👍🏽 🚧 🌉",
    ],
)
def test_text_without_letters_or_in_another_script(tmp_path, text):
    path = tmp_path / "x.jsonl"
    path.write_text(f'{{"text": "{text}"}}\n', encoding="utf-8")
    [doc], _, _ = _read(path)
    sentences = document_sentences(doc)
    assert sentences
    assert all(doc.text[s.start : s.end] == s.text for s in sentences)
    covered = "".join(s.text for s in sentences)
    assert [c for c in covered if not c.isspace()] == [c for c in text if not c.isspace()]


# --- ids and directories -------------------------------------------------------------------------


def test_duplicate_ids_are_kept_apart_and_counted(tmp_path):
    (tmp_path / "d.jsonl").write_text('{"id": "a", "text": "One."}\n{"id": "a", "text": "Two."}\n')
    (tmp_path / "d.csv").write_text("id,text\na,Three.\n")
    stats = ReadStats()
    docs = list(read_documents([str(tmp_path / "d.jsonl"), str(tmp_path / "d.csv")], stats=stats))
    assert [(d.doc_id, d.index, d.text) for d in docs] == [
        ("a", 0, "One."),
        ("a", 1, "Two."),
        ("a", 2, "Three."),
    ]
    assert stats.duplicate_ids == 2
    assert len({d.source for d in docs}) == 3


def test_directory_mixing_formats_reports_unknown_and_unreadable(tmp_path):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "b.jsonl").write_text('{"text": "From JSONL."}\n')
    (folder / "a.txt").write_text("From text.")
    (folder / "sub" / "c.csv").write_text("text\nFrom CSV.\n")
    (folder / "notes.md").write_text("not read")
    (folder / "image.PNG").write_bytes(b"\x89PNG")
    (folder / "gone.jsonl").symlink_to(tmp_path / "nowhere.jsonl")  # unreadable: broken link
    os.mkfifo(folder / "pipe.txt")  # not a regular file: reading it would block
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(folder / "s.csv"))
    except OSError:  # paths too long for AF_UNIX on some systems
        pass
    stats = ReadStats()
    docs = list(read_documents([str(folder)], stats=stats))
    sock.close()
    assert [d.text for d in docs] == ["From text.", "From JSONL.", "From CSV."]
    assert stats.files == 3
    reasons = {os.path.basename(p): why for p, why in stats.skipped_files.items()}
    assert reasons["notes.md"] == "unknown suffix '.md'"
    assert reasons["image.PNG"] == "unknown suffix '.png'"
    assert reasons["gone.jsonl"] == "unreadable: a broken link"
    assert reasons["pipe.txt"].startswith("not a regular file")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_in_directory_is_reported(tmp_path):
    (tmp_path / "ok.jsonl").write_text('{"text": "Fine."}\n')
    secret = tmp_path / "secret.jsonl"
    secret.write_text('{"text": "Hidden."}\n')
    secret.chmod(0)
    stats = ReadStats()
    try:
        docs = list(read_documents([str(tmp_path)], stats=stats))
        with pytest.raises(DataError, match="secret.jsonl: unreadable: permission denied"):
            list(read_documents([str(secret)]))
    finally:
        secret.chmod(0o600)
    assert [d.text for d in docs] == ["Fine."]
    assert stats.skipped_files == {str(secret): "unreadable: permission denied"}


def test_named_unknown_or_unreadable_file_is_an_error(tmp_path):
    (tmp_path / "x.docx").write_text("x")
    with pytest.raises(DataError, match=r"x\.docx: unknown suffix '\.docx'; expected one of"):
        list(read_documents([str(tmp_path / "x.docx")]))
    (tmp_path / "gone.txt").symlink_to(tmp_path / "nowhere")
    with pytest.raises(DataError, match=r"gone\.txt: no such file or directory \(a broken link\)"):
        list(read_documents([str(tmp_path / "gone.txt")]))
    os.mkfifo(tmp_path / "p.jsonl")
    with pytest.raises(DataError, match=r"p\.jsonl: not a regular file"):
        list(read_documents([str(tmp_path / "p.jsonl")]))


def test_stdin_streams_bytes_and_text(tmp_path):
    raw = b'\xef\xbb\xbf{"text": "One."}\r\n\n{"text": "caf\xe9"}\n'
    stream = io.TextIOWrapper(io.BytesIO(raw))
    with pytest.raises(DataError, match=r"<stdin>:3: bytes that are not valid UTF-8"):
        list(read_documents(["-"], stdin=stream))
    stream = io.TextIOWrapper(io.BytesIO(raw))
    docs = list(read_documents(["-"], stdin=stream, encoding_errors="replace"))
    assert [d.text for d in docs] == ["One.", "caf\ufffd"]
    docs = list(read_documents(["-"], stdin=io.StringIO('{"text": "Text stream."}\n')))
    assert [d.text for d in docs] == ["Text stream."]


# --- property-based: any bytes read or fail with a DataError ------------------------------------

FRAGMENTS = [
    b'{"text": "',
    b'", "id": ',
    b'"}',
    b"}",
    b"\n",
    b"\r\n",
    b",",
    b'"',
    b"text",
    b"id,text\n",
    b"\xef\xbb\xbf",
    b"\xff",
    b"\xc3",
    b"\\ud800",
    b"[",
    b"1",
    b" ",
    b"\x00",
    b"The mayor said so. ",
    "é".encode(),
]
any_bytes = st.binary(max_size=300) | st.lists(st.sampled_from(FRAGMENTS), max_size=40).map(
    b"".join
)


def _read_bytes(tmp_path, name, data, **kwargs):
    path = tmp_path / name
    path.write_bytes(data)
    stats = ReadStats()
    bad: list[BadRecord] = []
    on_bad = bad.append if kwargs.pop("skip", False) else None
    docs = list(read_documents([str(path)], stats=stats, on_bad=on_bad, **kwargs))
    stats.check()
    return docs, stats, bad


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=any_bytes, name=st.sampled_from(["r.jsonl", "r.csv", "r.txt"]), lines=st.booleans())
def test_any_bytes_read_or_fail_with_a_data_error(tmp_path, data, name, lines):
    try:
        docs, _, _ = _read_bytes(tmp_path, name, data, lines=lines)
    except DataError as err:
        assert str(err).startswith(str(tmp_path / name))
        return
    for doc in docs:
        doc.text.encode("utf-8")
        for s in document_sentences(doc, pre_split=lines):
            assert doc.text[s.start : s.end] == s.text


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=any_bytes, name=st.sampled_from(["r.jsonl", "r.csv", "r.txt"]), lines=st.booleans())
def test_any_bytes_with_replace_and_skip_bad_never_fail(tmp_path, data, name, lines):
    docs, stats, bad = _read_bytes(
        tmp_path, name, data, lines=lines, encoding_errors="replace", skip=True
    )
    assert stats.records == len(docs) + len(bad) - len(stats.skipped_files)
    for doc in docs:
        doc.text.encode("utf-8")  # no lone surrogates, nothing that cannot be written
        sentences = document_sentences(doc, pre_split=lines)
        assert all(doc.text[s.start : s.end] == s.text for s in sentences)
        covered = "".join(s.text for s in sentences)
        if not lines:
            assert [c for c in covered if not c.isspace()] == [
                c for c in doc.text if not c.isspace()
            ]


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=st.lists(st.text(max_size=40), max_size=8))
def test_jsonl_of_any_text_round_trips(tmp_path, lines):
    import json

    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in lines), encoding="utf-8")
    try:
        docs = list(read_documents([str(path)]))
    except DataError as err:
        assert "lone surrogate" in str(err)
        return
    assert [d.text for d in docs] == lines
