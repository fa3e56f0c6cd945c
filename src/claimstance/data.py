"""Everything about files and text: reading documents and labeled data, splitting sentences with
character offsets, and writing predictions. No torch here, so data checks stay fast.

The one rule every reader keeps: a `Sentence` always slices back out of its document,
`doc.text[s.start:s.end] == s.text`, and errors name the file and line that caused them.
"""

from __future__ import annotations

import codecs
import csv
import json
import logging
import os
import re
import stat
import sys
import tempfile
import textwrap
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from syntok import segmenter

from claimstance.labels import LABELS

logger = logging.getLogger(__name__)

DOCUMENT_SUFFIXES = (".txt", ".jsonl", ".csv")
OUTPUT_FORMATS = ("jsonl", "csv", "table")  # table: aligned text for people


class DataError(ValueError):
    """Input that cannot be read as promised: the message names file, line and what was expected."""


@dataclass(frozen=True)
class Document:
    doc_id: str
    text: str
    source: str  # "path:line" (or "path" for a whole file), for messages
    index: int = 0  # 0-based position among the documents of a run: unique when ids repeat


@dataclass(frozen=True)
class Sentence:
    doc_id: str
    index: int
    start: int
    end: int
    text: str
    doc_index: int = 0  # the document's position in the run (Document.index)
    record: str = ""  # where the document came from, "path:line" (Document.source)


@dataclass(frozen=True)
class LabeledExample:
    text: str
    label: str
    doc_id: str | None
    source: str  # "path:line"
    domain: str | None = None
    note: str | None = None
    id: str | None = None  # the row's optional `id` (the real-news set has one)


@dataclass
class ReadStats:
    """What a run read: reported at the end so that nothing is lost silently.

    Every record met (a non-blank JSONL line, a CSV data row, a non-blank line of a .txt in
    `--sentences` mode, a whole .txt file) is either a document or a skipped line:
    `records == documents + sum(skipped_lines.values())`.
    """

    files: int = 0
    records: int = 0
    documents: int = 0
    skipped_lines: Counter[str] = field(default_factory=Counter)  # reason -> count
    replaced_lines: int = 0  # lines whose invalid UTF-8 was replaced (--encoding-errors replace)
    duplicate_ids: int = 0
    skipped_files: dict[str, str] = field(default_factory=dict)  # path -> reason

    def check(self) -> None:
        """Fail loudly if a record went missing between reading and this count."""
        skipped = sum(self.skipped_lines.values())
        if self.records != self.documents + skipped:
            raise AccountingError(
                f"read {self.records} records but accounted for {self.documents} documents "
                f"+ {skipped} skipped lines"
            )


class AccountingError(RuntimeError):
    """Documents in != documents accounted for: a bug, never a data problem."""


@dataclass(frozen=True)
class BadRecord:
    """A record that could not be read: what `on_bad` gets under `--skip-bad`."""

    where: str  # "path:line"
    reason: str  # short, for the summary: "not JSON", "no text", "bad UTF-8", ...
    message: str  # the full message, as a DataError would say it
    raw: bytes  # the record's bytes, verbatim


# ---------------------------------------------------------------------------------------------
# Sentence splitting


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Split a document into sentences and return their (start, end) character offsets.

    syntok finds the sentence starts (it handles "U.S.", "Gen.", "3 p.m." and quotes). Each
    sentence then runs to the start of the next one, minus trailing whitespace, so the sentences
    cover every non-space character of the document exactly once, whatever syntok's tokens do.
    """
    starts: list[int] = []
    for paragraph in segmenter.analyze(text):
        for sentence in paragraph:
            if sentence:
                starts.append(sentence[0].offset)
    spans = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(text)
        while start < end and text[start].isspace():  # syntok and Python differ on \x1c-\x1f
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append((start, end))
    return spans


def document_sentences(doc: Document, pre_split: bool = False) -> list[Sentence]:
    """The sentences of one document.

    Args:
        doc: the document.
        pre_split: the document is one sentence already (`--sentences`): keep it whole, minus the
            surrounding whitespace.
    """
    if pre_split:
        stripped = doc.text.strip()
        start = len(doc.text) - len(doc.text.lstrip())
        spans = [(start, start + len(stripped))] if stripped else []
    else:
        spans = split_sentences(doc.text)
    return [
        Sentence(doc.doc_id, i, s, e, doc.text[s:e], doc.index, doc.source)
        for i, (s, e) in enumerate(spans)
    ]


# ---------------------------------------------------------------------------------------------
# Reading documents for prediction
#
# Files are read as bytes, a line at a time, and each line decoded on its own, so memory stays
# flat on inputs of any size and every error names its line. Only a whole .txt document is read
# at once (it is one document). Each parser yields `_Record`s, good or bad; `read_documents`
# turns the good ones into Documents and either raises on a bad one (naming file and line) or
# hands it to `on_bad` (`--skip-bad`) and counts it, so that nothing is lost silently.

ENCODING_ERRORS = ("strict", "replace")
_CSV_FIELD_LIMIT = 2**31 - 1  # the default (128 KiB) would fail on a long article in one cell
_SURROGATES = re.compile("[\ud800-\udfff]")
_WARN_LIMIT = 20  # per kind of problem; more are logged at debug level (-v)


class _Bad(Exception):
    """One record that cannot be read."""

    def __init__(self, reason: str, message: str, lineno: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.lineno = lineno  # the line at fault, when it is not the record's first line


class _BadFile(_Bad):
    """A file that cannot be read at all (a CSV without a usable header)."""


@dataclass
class _Record:
    where: str
    raw: bytes  # verbatim, for --skip-bad
    doc_id: str = ""
    text: str = ""
    bad: _Bad | None = None


@dataclass(frozen=True)
class _Options:
    lines: bool
    errors: str


def _utf8_message(raw: bytes, err: UnicodeDecodeError) -> str:
    return (
        f"bytes that are not valid UTF-8 ({raw[err.start : err.start + 4]!r}); "
        "expected UTF-8 text (or --encoding-errors replace)"
    )


def _decode_line(raw: bytes, lineno: int, opts: _Options, stats: ReadStats) -> str:
    """One line as text: a leading BOM dropped on line 1, invalid UTF-8 an error or replaced."""
    if lineno == 1 and raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        if opts.errors != "replace":
            raise _Bad("bad UTF-8", _utf8_message(raw, err)) from None
        stats.replaced_lines += 1
        return raw.decode("utf-8", "replace")


def _valid_unicode(value: str, what: str, opts: _Options, stats: ReadStats) -> str:
    """JSON escapes can make lone surrogates, which no UTF-8 output can hold."""
    found = _SURROGATES.search(value)
    if found is None:
        return value
    if opts.errors != "replace":
        raise _Bad(
            "lone surrogate",
            f"{what} holds a lone surrogate {found.group()!r}, which is not valid Unicode "
            "(or --encoding-errors replace)",
        )
    stats.replaced_lines += 1
    return _SURROGATES.sub("\ufffd", value)


def _jsonl_records(lines: Iterable[bytes], name: str, opts: _Options, stats: ReadStats):
    # Lines end at b"\n" only: JSON strings may hold U+2028 and other line separators.
    for lineno, raw in enumerate(lines, start=1):
        where = f"{name}:{lineno}"
        try:
            line = _decode_line(raw, lineno, opts, stats)
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as err:
                raise _Bad(
                    "not JSON", f"not valid JSON ({err.msg}); expected one object a line"
                ) from None
            except RecursionError:
                raise _Bad(
                    "not JSON", "not valid JSON (nested too deeply); expected one object a line"
                ) from None
            except ValueError:  # Python reads integers of at most 4300 digits
                raise _Bad(
                    "not JSON", "not valid JSON (a number too long); expected one object a line"
                ) from None
            if not isinstance(value, dict):
                raise _Bad(
                    "not a JSON object", f"expected a JSON object, got {type(value).__name__}"
                )
            text = value.get("text")
            if not isinstance(text, str):
                got = "no 'text' field" if text is None else f"'text' of type {type(text).__name__}"
                raise _Bad("no text", f"{got}; expected a string field 'text'")
            text = _valid_unicode(text, "'text'", opts, stats)
            doc_id = value.get("id")
            doc_id = where if doc_id is None else _valid_unicode(str(doc_id), "'id'", opts, stats)
        except _Bad as bad:
            yield _Record(where, raw, bad=bad)
            continue
        yield _Record(where, raw, doc_id, text)


def _csv_records(lines: Iterable[bytes], name: str, opts: _Options, stats: ReadStats):
    csv.field_size_limit(_CSV_FIELD_LIMIT)
    pending: list[bytes] = []  # raw lines of the record being parsed
    invalid: list[_Bad] = []  # its lines with invalid UTF-8 (strict mode)
    lineno = 0

    def feed() -> Iterator[str]:
        nonlocal lineno
        for raw in lines:
            lineno += 1
            pending.append(raw)
            try:
                yield _decode_line(raw, lineno, opts, stats)
            except _Bad as bad:  # keep the CSV structure, fail the record that holds the line
                bad.lineno = lineno
                invalid.append(bad)
                yield raw.decode("utf-8", "replace")

    reader = csv.reader(feed(), strict=True)
    header: list[str] | None = None
    text_col = id_col = -1
    while True:
        error = None
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            row, error = [], f"not valid CSV ({err})"
        first = lineno - len(pending) + 1
        where = f"{name}:{first}"
        raw = b"".join(pending)
        pending.clear()
        bad: _Bad | None = invalid[0] if invalid else None
        invalid.clear()
        if error is not None:
            bad = _Bad("CSV syntax", error)
        elif bad is None and _blank_row(row):
            continue
        if header is None:
            if bad is None and "text" not in row:
                bad = _Bad("no text column", f"no 'text' column (columns: {row})")
            if bad is not None:
                raise _BadFile(bad.reason, bad.message, bad.lineno or first)
            header = row
            text_col = row.index("text")
            id_col = row.index("id") if "id" in row else -1
            continue
        if bad is None and len(row) != len(header):
            bad = _Bad(
                "CSV field count",
                f"expected {len(header)} fields as in the header, got {len(row)}",
            )
        if bad is not None:
            yield _Record(f"{name}:{bad.lineno or first}", raw, bad=bad)
            continue
        doc_id = row[id_col] if id_col >= 0 and row[id_col] else where
        yield _Record(where, raw, doc_id, row[text_col])


def _blank_row(row: list[str]) -> bool:
    return not row or (len(row) == 1 and not row[0].strip())


def _txt_line_records(lines: Iterable[bytes], name: str, opts: _Options, stats: ReadStats):
    for lineno, raw in enumerate(lines, start=1):
        where = f"{name}:{lineno}"
        try:
            line = _decode_line(raw, lineno, opts, stats)
        except _Bad as bad:
            yield _Record(where, raw, bad=bad)
            continue
        line = line.removesuffix("\n").removesuffix("\r")
        if line.strip():
            yield _Record(where, raw, where, line)


def _txt_document(raw: bytes, name: str, opts: _Options, stats: ReadStats) -> _Record:
    body = raw[len(codecs.BOM_UTF8) :] if raw.startswith(codecs.BOM_UTF8) else raw
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        line = body[: err.start].count(b"\n") + 1
        if opts.errors != "replace":
            return _Record(f"{name}:{line}", raw, bad=_Bad("bad UTF-8", _utf8_message(body, err)))
        text = body.decode("utf-8", "replace")
        stats.replaced_lines += sum(not _is_utf8(part) for part in body.split(b"\n"))
    return _Record(name, raw, name, text)


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _os_reason(err: OSError) -> str:
    if isinstance(err, PermissionError):
        return "permission denied"
    if isinstance(err, IsADirectoryError):
        return "is a directory"
    if isinstance(err, FileNotFoundError):
        return "no such file"
    return err.strerror or type(err).__name__


def list_inputs(
    inputs: Iterable[str], exclude: Iterable[str] = ()
) -> Iterator[tuple[str, str | None]]:
    """The files a run reads, in order, as (path, problem): problem None for a file to read,
    else why a file found in a directory is skipped. `-` stands for stdin.

    Raises:
        DataError: an input named on the command line is missing, unreadable or of an unknown
            suffix (inside a directory such files are skipped and reported instead).
    """
    skip = {os.path.abspath(p) for p in exclude}
    for item in inputs:
        if item == "-":
            yield item, None
            continue
        path = Path(item)
        if path.is_dir():
            yield from _walk(path, skip)
            continue
        if not path.exists():
            broken = " (a broken link)" if path.is_symlink() else ""
            raise DataError(f"{path}: no such file or directory{broken}")
        problem = _file_problem(path)
        if problem and problem.startswith("unknown suffix"):
            problem += f"; expected one of {list(DOCUMENT_SUFFIXES)}"
        if problem:
            raise DataError(f"{path}: {problem}")
        yield str(path), None


def _file_problem(path: Path) -> str | None:
    suffix = path.suffix.lower()
    if suffix not in DOCUMENT_SUFFIXES:
        return f"unknown suffix {suffix!r}"
    try:
        mode = os.stat(path).st_mode
    except OSError as err:
        broken = isinstance(err, FileNotFoundError) and os.path.islink(path)
        return "unreadable: a broken link" if broken else f"unreadable: {_os_reason(err)}"
    if not stat.S_ISREG(mode):
        return "not a regular file (a pipe or device: pipe it to - on stdin instead)"
    if not os.access(path, os.R_OK):
        return "unreadable: permission denied"
    return None


def _walk(root: Path, skip: set[str]) -> Iterator[tuple[str, str | None]]:
    found: list[tuple[Path, str | None]] = []

    def onerror(err: OSError) -> None:
        if os.path.abspath(err.filename) == os.path.abspath(root):
            raise DataError(f"{root}: unreadable directory: {_os_reason(err)}")
        found.append((Path(err.filename), f"unreadable directory: {_os_reason(err)}"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=onerror):
        for name in dirnames:
            if os.path.islink(os.path.join(dirpath, name)):
                found.append((Path(dirpath, name), "a link to a directory, not followed"))
        for name in filenames:
            path = Path(dirpath, name)
            if os.path.abspath(path) in skip:
                logger.debug("%s: not read, it is written by this run", path)
                continue
            found.append((path, _file_problem(path)))
    for path, problem in sorted(found):
        yield str(path), problem


def _binary_lines(stream: IO[Any]) -> Iterator[bytes]:
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        yield from buffer
        return
    for line in stream:  # a text stream without a buffer (io.StringIO in tests)
        yield line if isinstance(line, bytes) else line.encode("utf-8", "surrogateescape")


def read_documents(
    inputs: Iterable[str],
    stats: ReadStats | None = None,
    stdin: IO[Any] | None = None,
    lines: bool = False,
    encoding_errors: str = "strict",
    on_bad: Callable[[BadRecord], None] | None = None,
    exclude: Iterable[str] = (),
) -> Iterator[Document]:
    """Read documents from files, directories and `-` (JSONL on stdin), lazily and in order.

    Args:
        inputs: paths; a directory contributes its .txt/.jsonl/.csv files in sorted order,
            and other or unreadable files in it are reported and skipped.
        stats: filled with what was read.
        stdin: stream for `-` (default sys.stdin).
        lines: a .txt file holds one sentence a line (`--sentences`), each its own document.
        encoding_errors: "strict" (invalid UTF-8 is a bad line) or "replace" (U+FFFD, counted
            in stats.replaced_lines).
        on_bad: without it a bad line raises DataError; with it (`--skip-bad`) each bad line
            (or a CSV file whose header is unusable, whole) is passed to it, counted in
            stats.skipped_lines (stats.skipped_files) and skipped.
        exclude: paths never read from a directory (the run's own output files).

    Raises:
        DataError: a missing file, an unknown suffix, a malformed line (naming file and line).
    """
    if encoding_errors not in ENCODING_ERRORS:
        raise ValueError(f"encoding_errors must be one of {ENCODING_ERRORS}")
    stats = stats if stats is not None else ReadStats()
    opts = _Options(lines=lines, errors=encoding_errors)
    seen: set[str] = set()
    for item, problem in list_inputs(inputs, exclude):
        if problem is not None:
            logger.warning("%s: skipped, %s", item, problem)
            stats.skipped_files[item] = problem
            continue
        if item == "-":
            records = _jsonl_records(_binary_lines(stdin or sys.stdin), "<stdin>", opts, stats)
            yield from _documents(records, "<stdin>", stats, seen, on_bad)
            stats.files += 1
            continue
        try:
            fh = open(item, "rb")
        except OSError as err:
            raise DataError(f"{item}: cannot open: {_os_reason(err)}") from None
        with fh:
            yield from _read_file(fh, item, opts, stats, seen, on_bad)


def _read_file(
    fh: IO[bytes],
    name: str,
    opts: _Options,
    stats: ReadStats,
    seen: set[str],
    on_bad: Callable[[BadRecord], None] | None,
) -> Iterator[Document]:
    suffix = Path(name).suffix.lower()
    try:
        if suffix == ".txt" and not opts.lines:
            records: Iterable[_Record] = [_txt_document(fh.read(), name, opts, stats)]
        elif suffix == ".txt":
            records = _txt_line_records(fh, name, opts, stats)
        elif suffix == ".jsonl":
            records = _jsonl_records(fh, name, opts, stats)
        else:
            records = _csv_records(fh, name, opts, stats)
        yield from _documents(records, name, stats, seen, on_bad)
        stats.files += 1
    except _BadFile as bad:
        message = f"{name}:{bad.lineno}: {bad.message}"
        if on_bad is None:
            raise DataError(message) from None
        logger.warning("%s (the whole file is skipped)", message)
        stats.skipped_files[name] = bad.reason
        fh.seek(0)
        on_bad(BadRecord(f"{name}:{bad.lineno}", bad.reason, message, fh.read()))
    except OSError as err:
        raise DataError(f"{name}: cannot read: {_os_reason(err)}") from None


def _documents(
    records: Iterable[_Record],
    name: str,
    stats: ReadStats,
    seen: set[str],
    on_bad: Callable[[BadRecord], None] | None,
) -> Iterator[Document]:
    for rec in records:
        stats.records += 1
        if rec.bad is not None:
            message = f"{rec.where}: {rec.bad.message}"
            if on_bad is None:
                raise DataError(message)
            stats.skipped_lines[rec.bad.reason] += 1
            _warn(sum(stats.skipped_lines.values()), "skipped lines", "%s (skipped)", message)
            on_bad(BadRecord(rec.where, rec.bad.reason, message, rec.raw))
            continue
        doc = Document(rec.doc_id, rec.text, rec.where, index=stats.documents)
        stats.documents += 1
        if doc.doc_id in seen:
            stats.duplicate_ids += 1
            _warn(
                stats.duplicate_ids,
                "duplicate ids",
                "%s: duplicate id %r (kept as a separate document: see doc_index)",
                doc.source,
                doc.doc_id,
            )
        seen.add(doc.doc_id)
        yield doc


def _warn(count: int, what: str, fmt: str, *args: Any) -> None:
    if count <= _WARN_LIMIT:
        logger.warning(fmt, *args)
    else:
        if count == _WARN_LIMIT + 1:
            logger.warning("more %s are not shown (-v shows them); the summary counts them", what)
        logger.debug(fmt, *args)


# ---------------------------------------------------------------------------------------------
# Reading labeled data (small files, read whole)


def _decode(raw: bytes, path: str) -> str:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise DataError(
            f"{path}:{line}: bytes that are not valid UTF-8 ({raw[err.start : err.start + 4]!r}); "
            "expected UTF-8 text"
        ) from None
    return text


def _read_text(path: Path) -> str:
    try:
        return _decode(path.read_bytes(), str(path))
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, expected a file") from None
    except PermissionError:
        raise DataError(f"{path}: permission denied") from None


def _labeled_records(text: str, name: str) -> Iterator[tuple[int, dict[str, Any]]]:
    # split("\n"), not splitlines(): JSON strings may hold U+2028 and other line separators.
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(
                f"{name}:{lineno}: not valid JSON ({err.msg}); expected one object a line"
            ) from None
        if not isinstance(record, dict):
            raise DataError(f"{name}:{lineno}: expected a JSON object, got {type(record).__name__}")
        yield lineno, record


def _text_field(record: dict[str, Any], where: str) -> str:
    text = record.get("text")
    if not isinstance(text, str):
        got = "no 'text' field" if text is None else f"'text' of type {type(text).__name__}"
        raise DataError(f"{where}: {got}; expected a string field 'text'")
    return text


# ---------------------------------------------------------------------------------------------
# Labeled data for training and evaluation


def load_labeled(path: str | Path) -> list[LabeledExample]:
    """Read and validate labeled JSONL (`text`, `label`; optional `doc_id`, `domain`, `note`,
    `id`).

    Raises:
        DataError: on the first bad line, naming file:line, the bad value and what is allowed.
    """
    path = Path(path)
    if path.suffix.lower() != ".jsonl":
        raise DataError(f"{path}: expected a .jsonl file of labeled sentences")
    text = _read_text(path)
    examples = []
    for lineno, record in _labeled_records(text, str(path)):
        where = f"{path}:{lineno}"
        body = _text_field(record, where)
        if not body.strip():
            raise DataError(f"{where}: empty 'text'")
        label = record.get("label")
        if label not in LABELS:
            raise DataError(f"{where}: unknown label {label!r}; expected one of {list(LABELS)}")
        doc_id, row_id = record.get("doc_id"), record.get("id")
        examples.append(
            LabeledExample(
                text=body,
                label=label,
                doc_id=str(doc_id) if doc_id is not None else None,
                source=where,
                domain=record.get("domain"),
                note=record.get("note"),
                id=str(row_id) if row_id is not None else None,
            )
        )
    return examples


def check_splits(splits: dict[str, list[LabeledExample]]) -> None:
    """Fail before training when splits share a document or a sentence, or repeat a sentence.

    Raises:
        DataError: naming both places.
    """
    doc_home: dict[str, tuple[str, str]] = {}
    text_home: dict[str, str] = {}
    for split, examples in splits.items():
        for ex in examples:
            if ex.doc_id is not None:
                other = doc_home.setdefault(ex.doc_id, (split, ex.source))
                if other[0] != split:
                    raise DataError(
                        f"{ex.source}: document {ex.doc_id!r} is also in the {other[0]} split "
                        f"({other[1]}); a document must stay in one split"
                    )
            key = normalise(ex.text)
            if key in text_home:
                raise DataError(f"{ex.source}: duplicate sentence, first seen at {text_home[key]}")
            text_home[key] = ex.source


def normalise(text: str) -> str:
    """Lower-case text with runs of non-word characters collapsed: the key for duplicate checks."""
    out = []
    space = False
    for ch in text.lower():
        if ch.isalnum():
            out.append(ch)
            space = False
        elif not space:
            out.append(" ")
            space = True
    return "".join(out).strip()


# ---------------------------------------------------------------------------------------------
# Writing predictions


def output_format(path: str | None, override: str | None) -> str:
    """The output format: `override`, else the suffix of `path`, else JSONL."""
    if override:
        if override not in OUTPUT_FORMATS:
            raise DataError(f"unknown format {override!r}; expected one of {list(OUTPUT_FORMATS)}")
        return override
    if path and path != "-":
        suffix = Path(path).suffix.lower().lstrip(".")
        if suffix not in ("jsonl", "csv"):
            raise DataError(
                f"{path}: unknown output suffix {suffix!r}; expected .jsonl or .csv (or --format)"
            )
        return suffix
    return "jsonl"


CSV_FIELDS = ("doc_id", "doc_index", "record", "sentence_index", "start", "end", "text", "label")


class PredictionWriter:
    """Writes prediction rows as JSONL, CSV or a table to stdout, a file or a given stream.

    A file is written to a temporary name beside it and renamed on `close(ok=True)`, so a crash
    never leaves a truncated file that looks complete. With `stream`, the caller owns the file
    (the resumable runner in runner.py) and `header=False` leaves out the CSV header when
    appending to a file that has one.
    """

    def __init__(
        self,
        path: str | None,
        fmt: str,
        labels: tuple[str, ...] = LABELS,
        stream: IO[str] | None = None,
        header: bool = True,
    ) -> None:
        self.path = path if path and path != "-" and stream is None else None
        self.fmt = fmt
        self.labels = labels
        self.rows = 0
        self._tmp: str | None = None
        if stream is not None:
            self._fh: IO[str] = stream
        elif self.path:
            directory = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(directory, exist_ok=True)
            fd, self._tmp = tempfile.mkstemp(prefix=".claimstance-", dir=directory)
            self._fh = os.fdopen(fd, "w", encoding="utf-8", newline="")
        else:
            self._fh = sys.stdout
        self._csv: Any = None
        if fmt == "csv":
            self._csv = csv.writer(self._fh, lineterminator="\n")
            if header:
                self._csv.writerow(
                    [*CSV_FIELDS, "score"]
                    + [f"score_{label}" for label in labels]
                    + ["truncated", "model"]
                )

    def write(self, row: dict[str, Any]) -> None:
        if self.fmt == "table":
            if row["sentence_index"] == 0:
                record = row.get("record")
                where = f"  ({record})" if record and record != row["doc_id"] else ""
                self._fh.write(f"\n== {row['doc_id']}{where}\n")
            prefix = f"{row['sentence_index']:>3}  {row['label']:<18}  {row['score']:.2f}  "
            self._fh.write(
                textwrap.fill(
                    row["text"],
                    width=110,
                    initial_indent=prefix,
                    subsequent_indent=" " * len(prefix),
                )
                + "\n"
            )
        elif self._csv is not None:
            self._csv.writerow(
                [row.get(name, "") for name in CSV_FIELDS]
                + [f"{row['score']:.6f}"]
                + [f"{row['scores'][label]:.6f}" for label in self.labels]
                + [str(row.get("truncated", False)).lower(), row.get("model", "")]
            )
        else:
            self._fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        self.rows += 1

    def flush(self) -> None:
        self._fh.flush()

    def close(self, ok: bool = True) -> None:
        if self.path is None:
            self._fh.flush()
            return
        self._fh.close()
        assert self._tmp is not None  # set together with self.path
        if ok:
            os.replace(self._tmp, self.path)
        else:
            os.unlink(self._tmp)
