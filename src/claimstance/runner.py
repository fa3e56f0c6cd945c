"""One `claimstance predict` run, end to end: read, label, write, and account for every record.

The run-level promises live here, apart from the readers (data.py) and the model (inference.py):

- Safe output: rows go to `<output>.part`; only a complete run renames it to `<output>`.
- Resume: after each chunk of sentences the `.part` file is flushed and fsynced and a journal,
  `<output>.resume.json`, is replaced atomically with "after N documents the output had B bytes",
  the counts so far, and a fingerprint of inputs, model and options. Chunks always end with a
  whole document and are a deterministic function of the input from its start, so a resumed run
  re-reads the inputs, skips N documents, cuts the `.part` file back to B bytes and goes on with
  the very same chunks: its output is identical, byte for byte, to that of an uninterrupted run.
- `--skip-bad FILE`: bad lines go verbatim to FILE (rewritten from scratch by every run, resumed
  or not, since a resumed run re-reads everything) and are counted by reason.
- Accounting: records read == documents labeled + empty documents + skipped lines, checked
  before the output is renamed, and reported in the end-of-run summary.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from claimstance import __version__
from claimstance.data import (
    AccountingError,
    BadRecord,
    DataError,
    Document,
    PredictionWriter,
    ReadStats,
    list_inputs,
    output_format,
    read_documents,
)
from claimstance.ensemble import is_ensemble_dir, read_members

if TYPE_CHECKING:  # torch is imported only when a run starts: `--help` stays fast
    from claimstance.inference import Classifier, LabelStats

logger = logging.getLogger(__name__)

JOURNAL_VERSION = 1
PART_SUFFIX = ".part"
JOURNAL_SUFFIX = ".resume.json"


@dataclass
class PredictOptions:
    inputs: list[str]
    model_dir: str
    output: str = "-"  # "-" is stdout
    format: str | None = None  # default: from the output suffix, else jsonl
    pre_split: bool = False
    batch_size: int = 64
    chunk_size: int = 4096
    threads: int = 0
    backend: str = "auto"
    encoding_errors: str = "strict"
    skip_bad: str | None = None
    resume: bool = False
    progress: bool = False
    adapt: bool = False  # scores at a temperature adapted to the input (calibration.py)


@dataclass
class RunReport:
    read: ReadStats
    labels: LabelStats
    output: str
    skip_bad: str | None = None
    resumed_documents: int = 0  # documents already labeled by the interrupted run
    skipped_written: int = 0  # records written to the --skip-bad file
    notes: list[str] = field(default_factory=list)
    adapt: bool = False
    dev_temperature: float = 1.0  # the model dir's own temperature
    threshold: float | None = None  # the model dir's confidence threshold (None: none stored)


def usage_problem(opts: PredictOptions) -> str | None:
    """What makes these options unusable together (a usage error, exit 2), or None."""
    if opts.resume:
        if opts.output == "-":
            return "--resume needs an output file (-o FILE.jsonl or FILE.csv), not stdout"
        if opts.format == "table":
            return "--resume does not work with --format table (it writes to stdout)"
        if "-" in opts.inputs:
            return "--resume cannot re-read stdin: name the input files instead of -"
    if opts.skip_bad is not None:
        if opts.skip_bad == "-":
            return "--skip-bad needs a file name (stdout carries the predictions)"
        if opts.output != "-" and os.path.abspath(opts.skip_bad) == os.path.abspath(opts.output):
            return "--skip-bad FILE must differ from the output file"
    return None


def part_path(output: str) -> str:
    return output + PART_SUFFIX


def journal_path(output: str) -> str:
    return output + JOURNAL_SUFFIX


def run_predict(opts: PredictOptions, stdin: IO[Any] | None = None) -> RunReport:
    """Label every sentence of `opts.inputs` into `opts.output`; see the module docstring.

    Raises:
        DataError: bad input (naming file and line), or a --resume that cannot continue.
        ModelDirError: a missing or broken model dir.
        AccountingError: a record went missing (a bug: the output is not renamed).
    """
    problem = usage_problem(opts)
    if problem:
        raise ValueError(problem)
    fmt = output_format(opts.output, opts.format)
    if fmt == "table" and opts.output != "-":
        raise DataError("--format table writes to stdout only; use .jsonl or .csv for files")
    from claimstance.inference import LabelStats, label_documents, load_classifier

    classifier = load_classifier(
        opts.model_dir, batch_size=opts.batch_size, threads=opts.threads, backend=opts.backend
    )
    skip = _SkipFile(opts.skip_bad) if opts.skip_bad else None
    read = ReadStats()
    exclude = [] if opts.output == "-" else [opts.output, part_path(opts.output)]
    exclude += [journal_path(opts.output), journal_path(opts.output) + ".tmp"]
    if skip is not None:
        exclude += [skip.path, skip.tmp]
    docs = read_documents(
        opts.inputs,
        stats=read,
        stdin=stdin,
        lines=opts.pre_split,
        encoding_errors=opts.encoding_errors,
        on_bad=skip.write if skip else None,
        exclude=exclude,
    )
    report = RunReport(
        read,
        LabelStats(),
        opts.output,
        opts.skip_bad,
        adapt=opts.adapt,
        dev_temperature=classifier.temperature,
        threshold=classifier.confidence_threshold,
    )
    ok = False
    try:
        if opts.output == "-":
            writer = PredictionWriter(None, fmt, classifier.labels)
            report.labels = label_documents(
                classifier,
                docs,
                writer,
                pre_split=opts.pre_split,
                chunk_size=opts.chunk_size,
                progress=opts.progress,
                adapt=opts.adapt,
            )
            writer.close()
            _check(report, writer.rows)
        else:
            fingerprint = None if "-" in opts.inputs else _fingerprint(opts, fmt, exclude)
            out = _CheckpointedOutput(opts.output, fmt, classifier.labels, fingerprint)
            if opts.resume:
                out.resume()  # a journal that does not fit is an error that deletes nothing
            else:
                out.start()
            report.labels = out.labels
            report.resumed_documents = out.labels.documents
            try:
                _label_into(out, classifier, docs, opts)
                _check(report, out.written_before + out.writer.rows)
                out.finish()
            except (DataError, AccountingError):
                out.abort(keep=False)
                raise
            except BaseException:
                # Interrupted (Ctrl-C) or failed for a reason outside the data (disk full...):
                # keep the .part file and the journal so that --resume can finish the job.
                out.abort(keep=fingerprint is not None)
                raise
        ok = True
    finally:
        if skip is not None:
            report.skipped_written = skip.count
            skip.close(ok=ok)
    return report


def _label_into(
    out: _CheckpointedOutput,
    classifier: Classifier,
    docs: Iterator[Document],
    opts: PredictOptions,
) -> None:
    from claimstance.inference import label_documents

    done = out.labels.documents
    taken = sum(1 for _ in itertools.islice(docs, done))  # labeled by the interrupted run
    if taken < done:
        raise DataError(
            f"--resume: the inputs now hold {taken} documents, fewer than the {done} already "
            "labeled; rerun without --resume"
        )
    label_documents(
        classifier,
        docs,
        out.writer,
        pre_split=opts.pre_split,
        chunk_size=opts.chunk_size,
        progress=opts.progress,
        stats=out.labels,
        on_chunk=out.checkpoint,
        adapt=opts.adapt,
    )


def _check(report: RunReport, rows_written: int) -> None:
    """documents in == documents accounted for, and one row per sentence labeled."""
    read, labels = report.read, report.labels
    read.check()
    skipped = sum(read.skipped_lines.values())
    if labels.documents != read.documents:
        raise AccountingError(
            f"read {read.documents} documents but labeled {labels.documents}; output not written"
        )
    if labels.documents != labels.labeled_documents + labels.empty_documents:
        raise AccountingError(
            f"{labels.documents} documents != {labels.labeled_documents} labeled "
            f"+ {labels.empty_documents} empty"
        )
    if read.records != labels.labeled_documents + labels.empty_documents + skipped:
        raise AccountingError(f"{read.records} records in, not all accounted for")
    if labels.sentences != rows_written:
        raise AccountingError(f"{labels.sentences} sentences labeled, {rows_written} rows written")


def _fingerprint(opts: PredictOptions, fmt: str, exclude: list[str]) -> dict[str, Any]:
    """What must not change between an interrupted run and its --resume."""
    files: dict[str, Any] = {}
    for path, problem in list_inputs(opts.inputs, exclude):
        if problem is None:
            st = os.stat(path)
            files[os.path.abspath(path)] = [st.st_size, st.st_mtime_ns]
        else:
            files[os.path.abspath(path)] = problem
    model = Path(opts.model_dir)
    dirs = [model]
    if is_ensemble_dir(model):  # an ensemble changes when any member does
        dirs += read_members(model)[0]
    model_files = {
        str(p.relative_to(model)) if d == model else str(p): [
            p.stat().st_size,
            p.stat().st_mtime_ns,
        ]
        for d in dirs
        for p in d.iterdir()
        if p.is_file()
    }
    return {
        "inputs": files,
        "model": {"dir": str(model.resolve()), "files": model_files},
        "options": {
            "version": __version__,
            "model_dir": opts.model_dir,  # written into every row
            "format": fmt,
            "sentences": opts.pre_split,
            "batch_size": opts.batch_size,
            "chunk_size": opts.chunk_size,
            "threads": opts.threads,
            "backend": opts.backend,
            "encoding_errors": opts.encoding_errors,
            "skip_bad": opts.skip_bad is not None,
            # only when set: journals written before the option existed still resume
            **({"adapt": True} if opts.adapt else {}),
        },
    }


class _CheckpointedOutput:
    """`<output>.part` plus its journal `<output>.resume.json`; see the module docstring."""

    def __init__(
        self,
        output: str,
        fmt: str,
        labels: tuple[str, ...],
        fingerprint: dict[str, Any] | None,
    ) -> None:
        self.output = output
        self.part = part_path(output)
        self.journal = journal_path(output)
        self.fmt = fmt
        self.label_names = labels
        self.fingerprint = fingerprint  # None: not resumable (stdin), no journal
        from claimstance.inference import LabelStats

        self.labels = LabelStats()
        self.written_before = 0  # rows in the .part file from the interrupted run
        self._fh: IO[str] | None = None
        self.writer: PredictionWriter

    def start(self) -> None:
        if os.path.exists(self.journal) or os.path.exists(self.part):
            logger.info(
                "%s: replacing the partial output of an earlier interrupted run "
                "(--resume would have continued it)",
                self.output,
            )
        _remove(self.journal)  # first: a journal must never describe another run's .part
        _remove(self.journal + ".tmp")
        directory = os.path.dirname(os.path.abspath(self.output))
        os.makedirs(directory, exist_ok=True)
        self._fh = open(self.part, "w", encoding="utf-8", newline="")
        self.writer = PredictionWriter(None, self.fmt, self.label_names, stream=self._fh)

    def resume(self) -> None:
        state = self._load()
        if state is None:
            self.start()
            return
        from claimstance.inference import LabelStats

        done, size = int(state["documents"]), int(state["bytes"])
        self.labels = LabelStats(**state["labels"])
        self.written_before = self.labels.sentences
        with open(self.part, "r+b") as fh:
            fh.truncate(size)
        logger.info(
            "resuming %s: %d documents (%d sentences) already labeled, going on from there",
            self.output,
            done,
            self.labels.sentences,
        )
        self._fh = open(self.part, "a", encoding="utf-8", newline="")
        self.writer = PredictionWriter(
            None, self.fmt, self.label_names, stream=self._fh, header=False
        )

    def _load(self) -> dict[str, Any] | None:
        if not os.path.exists(self.journal):
            logger.info(
                "--resume: no interrupted run to resume for %s (no %s); "
                "starting from the beginning",
                self.output,
                self.journal,
            )
            return None
        from claimstance.inference import LabelStats

        try:
            with open(self.journal, encoding="utf-8") as fh:
                state = json.load(fh)
            if state.get("version") != JOURNAL_VERSION:
                raise ValueError(f"version {state.get('version')!r}, expected {JOURNAL_VERSION}")
            int(state["documents"]), int(state["bytes"])
            LabelStats(**state["labels"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise DataError(
                f"{self.journal}: unreadable resume journal ({err}); rerun without --resume"
            ) from None
        old = state.get("fingerprint") or {}
        for key, what in (
            ("inputs", "input files"),
            ("model", "model dir"),
            ("options", "options"),
        ):
            if old.get(key) != (self.fingerprint or {}).get(key):
                raise DataError(
                    f"--resume: the {what} changed since the interrupted run "
                    f"({_difference(old.get(key), (self.fingerprint or {}).get(key))}); "
                    "rerun without --resume to start over"
                )
        if not os.path.exists(self.part):
            logger.info("--resume: %s is gone; starting from the beginning", self.part)
            _remove(self.journal)
            return None
        size = os.path.getsize(self.part)
        if size < int(state["bytes"]):
            raise DataError(
                f"{self.part}: {size} bytes, shorter than the {state['bytes']} its journal "
                "records; rerun without --resume"
            )
        return state

    def checkpoint(self, labels: LabelStats) -> None:
        assert self._fh is not None
        if self.fingerprint is None:
            return
        self._fh.flush()
        os.fsync(self._fh.fileno())
        state = {
            "version": JOURNAL_VERSION,
            "documents": labels.documents,
            "bytes": os.fstat(self._fh.fileno()).st_size,
            "labels": dataclasses.asdict(labels),
            "fingerprint": self.fingerprint,
        }
        tmp = self.journal + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(state, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.journal)

    def finish(self) -> None:
        assert self._fh is not None
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        os.replace(self.part, self.output)
        _fsync_dir(self.output)
        _remove(self.journal)
        _remove(self.journal + ".tmp")  # left by a run killed while writing the journal

    def abort(self, keep: bool) -> None:
        if self._fh is not None and not self._fh.closed:
            try:
                self._fh.close()
            except OSError:
                pass
        if keep and os.path.exists(self.journal):
            logger.error(
                "stopped: the output so far is kept in %s; run the same command with --resume "
                "to finish it",
                self.part,
            )
        elif not keep:
            _remove(self.journal)
            _remove(self.journal + ".tmp")
            _remove(self.part)


class _SkipFile:
    """`--skip-bad FILE`: bad records verbatim, one after another, renamed into place at the end."""

    def __init__(self, path: str) -> None:
        self.path = path
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        fd, self.tmp = tempfile.mkstemp(prefix=".claimstance-skipped-", dir=directory)
        self._fh = os.fdopen(fd, "wb")
        self.count = 0

    def write(self, bad: BadRecord) -> None:
        self._fh.write(bad.raw if bad.raw.endswith(b"\n") or not bad.raw else bad.raw + b"\n")
        self.count += 1

    def close(self, ok: bool) -> None:
        self._fh.close()
        if ok:
            os.replace(self.tmp, self.path)
        else:
            _remove(self.tmp)


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _difference(old: Any, new: Any) -> str:
    """What differs between two parts of a fingerprint, in a few words."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return "different"
    if "dir" in new and "files" in new:  # the model dir
        if old.get("dir") != new["dir"]:
            return f"{old.get('dir')} -> {new['dir']}"
        old, new = old.get("files") or {}, new["files"]
        keys = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
        return "changed: " + ", ".join(keys[:5])
    keys = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    if all(k.startswith(os.sep) for k in keys):  # input files, by absolute path
        return "changed: " + ", ".join(keys[:5]) + (" ..." if len(keys) > 5 else "")
    return ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys[:5])


# ---------------------------------------------------------------------------------------------
# The end-of-run summary


def summary(report: RunReport) -> list[tuple[int, str]]:
    """(log level, line) pairs for stderr: what was read, skipped, replaced and written."""
    read, labels = report.read, report.labels
    skipped = sum(read.skipped_lines.values())
    reasons = ", ".join(f"{n} {why}" for why, n in sorted(read.skipped_lines.items()))
    lines = [
        (
            logging.WARNING if skipped else logging.INFO,
            f"read {_n(read.files, 'file')}: {_n(read.documents, 'document')} "
            f"({labels.labeled_documents} labeled, {labels.empty_documents} empty), "
            f"{_n(skipped, 'line')} skipped" + (f" ({reasons})" if reasons else ""),
        )
    ]
    problems = []
    if read.replaced_lines:
        problems.append(
            f"{_n(read.replaced_lines, 'line')} with invalid UTF-8 (or a lone surrogate) "
            "replaced by U+FFFD"
        )
    if read.duplicate_ids:
        problems.append(
            f"{_n(read.duplicate_ids, 'duplicate id')} (kept apart: see doc_index and record)"
        )
    if read.skipped_files:
        listed = "; ".join(f"{p} ({why})" for p, why in list(read.skipped_files.items())[:5])
        more = len(read.skipped_files) - 5
        problems.append(
            f"{_n(len(read.skipped_files), 'file')} skipped: {listed}"
            + (f" and {more} more" if more > 0 else "")
        )
    if report.skip_bad and (skipped or report.skipped_written):
        problems.append(
            f"{_n(report.skipped_written, 'bad record')} written verbatim to {report.skip_bad}"
        )
    lines += [(logging.WARNING, line) for line in problems]
    written = (
        f"wrote {_n(labels.sentences, 'sentence')}"
        + (f" to {report.output}" if report.output != "-" else "")
        + (f" ({labels.truncated} truncated)" if labels.truncated else "")
        + (
            f" (those of the first {report.resumed_documents} documents by the interrupted run)"
            if report.resumed_documents
            else ""
        )
    )
    lines.append((logging.INFO, f"{written}; labels {{{_labels(labels)}}}"))
    if report.adapt:
        lines.append(_adaptation(report))
    return lines


def _adaptation(report: RunReport) -> tuple[int, str]:
    from claimstance.calibration import MIN_SENTENCES

    labels = report.labels
    if labels.adapted_from and labels.temperature is not None:
        return (
            logging.INFO,
            f"scores adapted to this input: temperature {report.dev_temperature:.2f} -> "
            f"{labels.temperature:.2f}, from the first {_n(labels.adapted_from, 'sentence')}, "
            f"whose accuracy is estimated at {labels.estimated_accuracy:.2f} without labels "
            "(labels unchanged)",
        )
    if report.threshold is None:
        why = "the model dir stores no confidence threshold; run `claimstance calibrate`"
    else:
        why = f"fewer than {MIN_SENTENCES} sentences to estimate from"
    return (logging.WARNING, f"--adapt: scores keep the dev temperature ({why})")


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _labels(labels: LabelStats) -> str:
    return ", ".join(f"'{k}': {v}" for k, v in labels.labels.items() if v)
