"""Everything about files and text: reading documents and labeled data, splitting sentences with
character offsets, and writing predictions. No torch here, so data checks stay fast.

The one rule every reader keeps: a `Sentence` always slices back out of its document,
`doc.text[s.start:s.end] == s.text`, and errors name the file and line that caused them.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import sys
import tempfile
import textwrap
from collections.abc import Iterable, Iterator
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


@dataclass(frozen=True)
class Sentence:
    doc_id: str
    index: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class LabeledExample:
    text: str
    label: str
    doc_id: str | None
    source: str  # "path:line"
    domain: str | None = None
    note: str | None = None


@dataclass
class ReadStats:
    """What a run read: reported at the end so that nothing is lost silently."""

    files: int = 0
    documents: int = 0
    skipped_files: list[str] = field(default_factory=list)
    duplicate_ids: int = 0


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
    return [Sentence(doc.doc_id, i, s, e, doc.text[s:e]) for i, (s, e) in enumerate(spans)]


# ---------------------------------------------------------------------------------------------
# Reading documents for prediction


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


def _jsonl_records(text: str, name: str) -> Iterator[tuple[int, dict[str, Any]]]:
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


def _documents_from_jsonl(text: str, name: str) -> Iterator[Document]:
    for lineno, record in _jsonl_records(text, name):
        where = f"{name}:{lineno}"
        body = _text_field(record, where)
        doc_id = record.get("id")
        yield Document(str(doc_id) if doc_id is not None else where, body, where)


def _documents_from_csv(text: str, name: str) -> Iterator[Document]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if reader.fieldnames is None:
        return
    if "text" not in reader.fieldnames:
        raise DataError(f"{name}:1: no 'text' column (columns: {reader.fieldnames})")
    for row in reader:
        where = f"{name}:{reader.line_num}"
        if row.get("text") is None or None in row:
            raise DataError(
                f"{where}: expected {len(reader.fieldnames)} fields, got a different count"
            )
        doc_id = row.get("id")
        yield Document(doc_id if doc_id else where, row["text"], where)


def _documents_from_file(path: Path, name: str, lines: bool) -> Iterator[Document]:
    suffix = path.suffix.lower()
    if suffix not in DOCUMENT_SUFFIXES:
        raise DataError(
            f"{path}: unknown suffix {suffix!r}; expected one of {list(DOCUMENT_SUFFIXES)}"
        )
    text = _read_text(path)
    if suffix == ".txt" and lines:
        for lineno, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                yield Document(f"{name}:{lineno}", line, f"{name}:{lineno}")
    elif suffix == ".txt":
        if text.strip():
            yield Document(name, text, name)
    elif suffix == ".jsonl":
        yield from _documents_from_jsonl(text, name)
    else:
        yield from _documents_from_csv(text, name)


def read_documents(
    inputs: Iterable[str],
    stats: ReadStats | None = None,
    stdin: IO[str] | None = None,
    lines: bool = False,
) -> Iterator[Document]:
    """Read documents from files, directories and `-` (JSONL on stdin), lazily and in order.

    Args:
        inputs: paths; a directory contributes its .txt/.jsonl/.csv files in sorted order,
            and other files in it are reported and skipped.
        stats: filled with what was read.
        stdin: stream for `-` (default sys.stdin).
        lines: a .txt file holds one sentence a line (`--sentences`), each its own document.

    Raises:
        DataError: a missing file, an unknown suffix, a malformed line (naming file and line).
    """
    stats = stats if stats is not None else ReadStats()
    seen_ids: set[str] = set()
    for item in inputs:
        if item == "-":
            stats.files += 1
            docs: Iterator[Document] = _documents_from_jsonl((stdin or sys.stdin).read(), "<stdin>")
            yield from _count(docs, stats, seen_ids)
            continue
        path = Path(item)
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                if child.suffix.lower() not in DOCUMENT_SUFFIXES:
                    logger.warning("%s: skipped, unknown suffix %r", child, child.suffix)
                    stats.skipped_files.append(str(child))
                    continue
                stats.files += 1
                yield from _count(_documents_from_file(child, str(child), lines), stats, seen_ids)
        elif not path.exists():
            raise DataError(f"{path}: no such file or directory")
        else:
            stats.files += 1
            yield from _count(_documents_from_file(path, str(path), lines), stats, seen_ids)


def _count(docs: Iterator[Document], stats: ReadStats, seen: set[str]) -> Iterator[Document]:
    for doc in docs:
        stats.documents += 1
        if doc.doc_id in seen:
            stats.duplicate_ids += 1
            logger.warning(
                "%s: duplicate id %r (kept as a separate document)", doc.source, doc.doc_id
            )
        seen.add(doc.doc_id)
        yield doc


# ---------------------------------------------------------------------------------------------
# Labeled data for training and evaluation


def load_labeled(path: str | Path) -> list[LabeledExample]:
    """Read and validate labeled JSONL (`text`, `label`; optional `doc_id`, `domain`, `note`).

    Raises:
        DataError: on the first bad line, naming file:line, the bad value and what is allowed.
    """
    path = Path(path)
    if path.suffix.lower() != ".jsonl":
        raise DataError(f"{path}: expected a .jsonl file of labeled sentences")
    text = _read_text(path)
    examples = []
    for lineno, record in _jsonl_records(text, str(path)):
        where = f"{path}:{lineno}"
        body = _text_field(record, where)
        if not body.strip():
            raise DataError(f"{where}: empty 'text'")
        label = record.get("label")
        if label not in LABELS:
            raise DataError(f"{where}: unknown label {label!r}; expected one of {list(LABELS)}")
        doc_id = record.get("doc_id")
        examples.append(
            LabeledExample(
                text=body,
                label=label,
                doc_id=str(doc_id) if doc_id is not None else None,
                source=where,
                domain=record.get("domain"),
                note=record.get("note"),
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


class PredictionWriter:
    """Writes prediction rows as JSONL or CSV to stdout or to a file.

    A file is written to a temporary name beside it and renamed on `close(ok=True)`, so a crash
    never leaves a truncated file that looks complete.
    """

    def __init__(self, path: str | None, fmt: str, labels: tuple[str, ...] = LABELS) -> None:
        self.path = path if path and path != "-" else None
        self.fmt = fmt
        self.labels = labels
        self.rows = 0
        self._tmp: str | None = None
        if self.path:
            directory = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(directory, exist_ok=True)
            fd, self._tmp = tempfile.mkstemp(prefix=".claimstance-", dir=directory)
            self._fh: IO[str] = os.fdopen(fd, "w", encoding="utf-8", newline="")
        else:
            self._fh = sys.stdout
        self._csv: Any = None
        if fmt == "csv":
            self._csv = csv.writer(self._fh, lineterminator="\n")
            self._csv.writerow(
                ["doc_id", "sentence_index", "start", "end", "text", "label", "score"]
                + [f"score_{label}" for label in labels]
                + ["truncated", "model"]
            )

    def write(self, row: dict[str, Any]) -> None:
        if self.fmt == "table":
            if row["sentence_index"] == 0:
                self._fh.write(f"\n== {row['doc_id']}\n")
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
                [
                    row["doc_id"],
                    row["sentence_index"],
                    row["start"],
                    row["end"],
                    row["text"],
                    row["label"],
                    f"{row['score']:.6f}",
                ]
                + [f"{row['scores'][label]:.6f}" for label in self.labels]
                + [str(row.get("truncated", False)).lower(), row.get("model", "")]
            )
        else:
            self._fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        self.rows += 1

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
