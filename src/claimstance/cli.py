"""The `claimstance` command: parse arguments, set up logging, call one library function per
subcommand, and map errors to exit codes (0 ok, 1 data or model error, 2 usage error).

stdout carries only data; logs, progress bars and the run summary go to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from claimstance.backends import BACKENDS, ModelDirError
from claimstance.config import (
    DEFAULT_ENSEMBLE_DIR,
    DEFAULT_MODEL_DIR,
    EvalConfig,
    PredictConfig,
    load_train_config,
)
from claimstance.data import ENCODING_ERRORS, AccountingError, DataError
from claimstance.runner import PredictOptions, usage_problem

logger = logging.getLogger("claimstance")


def _parser() -> argparse.ArgumentParser:
    fmt = argparse.ArgumentDefaultsHelpFormatter
    parser = argparse.ArgumentParser(
        prog="claimstance",
        formatter_class=fmt,
        description="Label each sentence of news text: official_statement, attributed_claim, "
        "pledge, warning or none.",
    )
    verbosity = argparse.ArgumentParser(add_help=False)
    verbosity.add_argument(
        "-v", "--verbose", action="store_true", help="debug logs and full tracebacks"
    )
    verbosity.add_argument(
        "-q", "--quiet", action="store_true", help="warnings and errors only, no progress bars"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    tr = sub.add_parser(
        "train",
        parents=[verbosity],
        formatter_class=fmt,
        help="fine-tune the model on the corpus and write a model dir",
    )
    tr.add_argument("--config", default="train/configs/base.toml", help="TOML experiment file")
    tr.add_argument(
        "--output",
        help=f"model dir to write (default: the config's output_dir, normally {DEFAULT_MODEL_DIR})",
    )
    tr.add_argument("--train-file", help="override the config's train_file")
    tr.add_argument("--dev-file", help="override the config's dev_file")
    tr.add_argument("--epochs", type=float, help="override the config's epochs")
    tr.add_argument("--seed", type=int, help="override the config's seed")
    tr.add_argument("--threads", type=int, help="torch CPU threads (0: one per core)")

    pr = sub.add_parser(
        "predict",
        parents=[verbosity],
        formatter_class=fmt,
        help="label the sentences of documents",
        description="Label every sentence of the INPUT documents. One row per sentence, in "
        "input order; a summary on stderr accounts for every document and skipped line. "
        "Exit status: 0 ok (also when --skip-bad skipped lines: the summary says which), "
        "1 bad data or model, 2 usage.",
        epilog="Each row: doc_id (the record's id, else path:line), doc_index (0-based position "
        "of the document in the run: unique even when ids repeat), record (path:line the "
        "document came from), sentence_index, start, end (document[start:end] == text), text, "
        "label, score, scores, truncated (only when true: labeled from its start), model.",
    )
    pr.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help=".txt (one document), .jsonl (text, optional id), .csv (column text, "
        "optional id), a directory of those (other and unreadable files are reported and "
        "skipped), or - for JSONL on stdin",
    )
    pr.add_argument(
        "-o",
        "--output",
        default="-",
        help="output file (.jsonl or .csv), - for stdout; a file is written as OUTPUT.part "
        "(with a journal OUTPUT.resume.json) and renamed when complete",
    )
    pr.add_argument(
        "--format",
        choices=["jsonl", "csv", "table"],
        help="output format (default: from the output suffix, else jsonl)",
    )
    pr.add_argument("--model", default=DEFAULT_MODEL_DIR, help="model dir")
    pr.add_argument(
        "--sentences",
        action="store_true",
        help="each record (each line of a .txt) is one sentence: do not split",
    )
    pr.add_argument(
        "--encoding-errors",
        choices=list(ENCODING_ERRORS),
        default="strict",
        help="bytes that are not valid UTF-8: strict: an error naming file and line (a "
        "skipped line with --skip-bad); replace: U+FFFD, and the summary counts such lines",
    )
    pr.add_argument(
        "--skip-bad",
        metavar="FILE",
        help="write bad lines (not JSON, no text, wrong CSV field count, invalid UTF-8...) "
        "verbatim to FILE and go on with the rest instead of stopping; the summary counts "
        "them by reason and the exit status stays 0",
    )
    pr.add_argument(
        "--resume",
        action="store_true",
        help="finish an interrupted run (killed at any point) of the same command: the "
        "output is identical, byte for byte, to an uninterrupted run's; without a journal it "
        "starts from the beginning; needs -o FILE and named input files",
    )
    pr.add_argument(
        "--adapt",
        action="store_true",
        help="calibrate the scores for this input instead of the corpus: the model's "
        "accuracy on the first chunk is estimated without labels and the temperature set so "
        "the mean score matches it (at least 100 sentences; labels never change). For text "
        "unlike the corpus, such as real news, where plain scores overstate the accuracy",
    )
    pr.add_argument("--batch-size", type=int, default=64, help="sentences per forward pass")
    pr.add_argument(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help="torch, onnx (float32) or onnx-int8; auto takes the fastest one in the model dir",
    )
    pr.add_argument(
        "--chunk-size",
        type=int,
        default=PredictConfig.chunk_size,
        help="sentences gathered before labeling, sorted by length into batches; the output "
        "is checkpointed after each chunk (at least --batch-size)",
    )
    pr.add_argument(
        "--threads",
        type=int,
        default=0,
        help="CPU threads per forward pass (0: every core this process may use); "
        "run N processes with --threads 1 each to label N files at once",
    )
    pr.set_defaults(subparser=pr)

    ev = sub.add_parser(
        "evaluate",
        parents=[verbosity],
        formatter_class=fmt,
        help="score a model on a labeled JSONL file and write a report",
    )
    ev.add_argument("data", help="JSONL with text and label fields")
    ev.add_argument("--model", default=DEFAULT_MODEL_DIR, help="model dir")
    ev.add_argument(
        "--report-dir",
        help="where to write the report (default: eval/reports/<model>/<data file stem>)",
    )
    ev.add_argument("--batch-size", type=int, default=64, help="sentences per forward pass")
    ev.add_argument("--backend", choices=BACKENDS, default="auto", help="as for predict")

    cp = sub.add_parser(
        "compare",
        parents=[verbosity],
        formatter_class=fmt,
        help="baselines, the model and its ablations on the corpus test split and real news",
    )
    cp.add_argument("--model", default=DEFAULT_MODEL_DIR, help="model dir")
    cp.add_argument("--train-file", default="data/corpus/train.jsonl", help="fits the baselines")
    cp.add_argument("--dev-file", default="data/corpus/dev.jsonl", help="selects their setting")
    cp.add_argument("--test-file", default="data/corpus/test.jsonl")
    cp.add_argument("--realnews", default="../shared/realnews/dev.jsonl", help="skipped if absent")
    cp.add_argument(
        "--probes",
        default="eval/probes/guidelines.jsonl",
        help="the guidelines' example sentences, scored per system (skipped if absent)",
    )
    cp.add_argument("--ablations", default="train/configs/ablations", help="ablation configs")
    cp.add_argument("--out-dir", default="eval/reports/comparison")
    cp.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples")
    cp.add_argument("--backend", choices=BACKENDS, default="auto", help="as for predict")

    ex = sub.add_parser(
        "export",
        parents=[verbosity],
        formatter_class=fmt,
        help="write ONNX float32 and int8 graphs of a model into its dir (make train does this)",
    )
    ex.add_argument("--model", default=DEFAULT_MODEL_DIR, help="model dir")
    ex.add_argument(
        "--no-int8", action="store_true", help="only the float32 graph (no quantized copy)"
    )
    ex.add_argument(
        "--quantize-feed-forward",
        action="store_true",
        help="int8 feed-forward blocks too: about 1.75x faster int8, but about 4%% of labels "
        "on real news differ from float32 (0.7%% without)",
    )

    en = sub.add_parser(
        "ensemble",
        parents=[verbosity],
        formatter_class=fmt,
        help="write an ensemble dir over trained model dirs (seed runs; make ensemble does this)",
    )
    en.add_argument("members", nargs="+", help="two or more trained model dirs")
    en.add_argument("--output", default=DEFAULT_ENSEMBLE_DIR, help="the ensemble dir")
    en.add_argument(
        "--dev-file", default="data/corpus/dev.jsonl", help="fits the ensemble's temperature"
    )
    en.add_argument("--backend", choices=BACKENDS, default="auto", help="as for predict")

    ca = sub.add_parser(
        "calibrate",
        parents=[verbosity],
        formatter_class=fmt,
        help="fit a model (or ensemble) dir's temperature and confidence threshold on a dev file",
        description="Fit the temperature and the confidence threshold (used by --adapt and the "
        "reports' adapted calibration) of a trained model dir or ensemble dir on a labeled dev "
        "file, and store them in the dir. Training and `claimstance ensemble` already do this; "
        "use it for dirs made before the threshold existed. Labels do not change.",
    )
    ca.add_argument("--model", default=DEFAULT_MODEL_DIR, help="model or ensemble dir")
    ca.add_argument("--dev-file", default="data/corpus/dev.jsonl", help="labeled JSONL")

    rs = sub.add_parser(
        "results",
        parents=[verbosity],
        formatter_class=fmt,
        help="print the README results rows from a model's evaluation reports",
    )
    rs.add_argument(
        "--model", default=DEFAULT_MODEL_DIR, help="model dir (its name picks eval/reports/<name>/)"
    )
    rs.add_argument(
        "--ensemble",
        default=DEFAULT_ENSEMBLE_DIR,
        help="ensemble dir whose reports get rows too, when make eval wrote them",
    )
    rs.add_argument("--reports", default="eval/reports", help="folder of reports")

    bc = sub.add_parser(
        "build-corpus",
        parents=[verbosity],
        formatter_class=fmt,
        help="build data/corpus/{train,dev,test}.jsonl from the written rounds",
    )
    bc.add_argument("--raw-dir", default="data/raw", help="folder of written JSONL files")
    bc.add_argument("--out-dir", default="data/corpus", help="where the splits go")

    dr = sub.add_parser(
        "data-report",
        parents=[verbosity],
        formatter_class=fmt,
        help="counts per label, split and domain, with a bar chart",
    )
    dr.add_argument("--corpus-dir", default="data/corpus", help="folder of the splits")
    dr.add_argument("--out-dir", default="data/report", help="where the report goes")
    return parser


def _setup_logging(args: argparse.Namespace) -> None:
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(
        level=level, stream=sys.stderr, format="claimstance: %(message)s", force=True
    )
    # transformers is quietened where it is imported (modeling.py): predicting with an ONNX
    # backend never imports it.


def _progress(args: argparse.Namespace) -> bool:
    return not args.quiet and sys.stderr.isatty()


def _train(args: argparse.Namespace) -> int:
    from claimstance.training import train

    cfg = load_train_config(
        args.config,
        output_dir=args.output,
        train_file=args.train_file,
        dev_file=args.dev_file,
        epochs=args.epochs,
        seed=args.seed,
        threads=args.threads,
        progress=_progress(args),
    )
    train(cfg)
    return 0


def _predict_options(args: argparse.Namespace) -> PredictOptions:
    return PredictOptions(
        inputs=args.inputs,
        model_dir=args.model,
        output=args.output,
        format=args.format,
        pre_split=args.sentences,
        batch_size=args.batch_size,
        chunk_size=args.chunk_size,
        threads=args.threads,
        backend=args.backend,
        encoding_errors=args.encoding_errors,
        skip_bad=args.skip_bad,
        resume=args.resume,
        progress=_progress(args),
        adapt=args.adapt,
    )


def _predict(args: argparse.Namespace) -> int:
    from claimstance.runner import run_predict, summary

    PredictConfig(batch_size=args.batch_size, chunk_size=args.chunk_size)  # checks the values
    report = run_predict(_predict_options(args))
    for level, line in summary(report):
        logger.log(level, line)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from claimstance.evaluation import evaluate

    evaluate(
        EvalConfig(
            data_file=args.data,
            model_dir=args.model,
            report_dir=args.report_dir,
            batch_size=args.batch_size,
            backend=args.backend,
            progress=_progress(args),
        )
    )
    return 0


def _compare(args: argparse.Namespace) -> int:
    from claimstance.comparison import CompareConfig, compare

    compare(
        CompareConfig(
            model_dir=args.model,
            train_file=args.train_file,
            dev_file=args.dev_file,
            test_file=args.test_file,
            realnews_file=args.realnews,
            probes_file=args.probes,
            out_dir=args.out_dir,
            ablations=args.ablations,
            bootstrap=args.bootstrap,
            backend=args.backend,
            progress=_progress(args),
        )
    )
    return 0


def _export(args: argparse.Namespace) -> int:
    from claimstance.export import export

    export(args.model, int8=not args.no_int8, quantize_feed_forward=args.quantize_feed_forward)
    return 0


def _ensemble(args: argparse.Namespace) -> int:
    from claimstance.ensemble import write_ensemble

    write_ensemble(
        args.members, args.output, args.dev_file, backend=args.backend, progress=_progress(args)
    )
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from claimstance.training import recalibrate

    recalibrate(args.model, args.dev_file, progress=_progress(args))
    return 0


def _results(args: argparse.Namespace) -> int:
    from claimstance.comparison import results_table
    from claimstance.evaluation import SUMMARY_HEADER, summary_row

    folder = Path(args.reports) / Path(args.model).name
    ensemble = Path(args.reports) / Path(args.ensemble).name
    found = {
        "corpus test split": folder / "test" / "metrics.json",
        "real news dev set": folder / "realnews-dev" / "metrics.json",
    }
    if ensemble != folder:
        found["ensemble, corpus test split"] = ensemble / "test" / "metrics.json"
        found["ensemble, real news dev set"] = ensemble / "realnews-dev" / "metrics.json"
    present = {name: path for name, path in found.items() if path.is_file()}
    comparison = Path(args.reports) / "comparison" / "metrics.json"
    bench = Path(args.reports) / "bench" / "bench.md"
    if not present and not comparison.is_file():
        raise DataError(f"{folder}: no metrics.json under test/ or realnews-dev/; run `make eval`")
    if present:
        print(SUMMARY_HEADER)
        for name, path in present.items():
            print(summary_row(json.loads(path.read_text()), name))
    if comparison.is_file():
        print()
        print(results_table(json.loads(comparison.read_text())))
    if bench.is_file():
        print()
        print(bench.read_text().rstrip())
    return 0


def _build_corpus(args: argparse.Namespace) -> int:
    from claimstance.corpus import build_corpus

    counts = build_corpus(args.raw_dir, args.out_dir)
    logger.info("wrote %s to %s", counts, args.out_dir)
    return 0


def _data_report(args: argparse.Namespace) -> int:
    from claimstance.corpus import write_data_report

    stats = write_data_report(args.corpus_dir, args.out_dir)
    logger.info(
        "%d sentences, labels %s; report in %s",
        stats["sentences"],
        stats["per_label"],
        args.out_dir,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code instead of exiting, so tests can call it."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        if args.command == "predict":
            problem = usage_problem(_predict_options(args))
            if problem:
                args.subparser.error(problem)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    _setup_logging(args)
    handlers = {
        "train": _train,
        "predict": _predict,
        "evaluate": _evaluate,
        "export": _export,
        "ensemble": _ensemble,
        "calibrate": _calibrate,
        "compare": _compare,
        "results": _results,
        "build-corpus": _build_corpus,
        "data-report": _data_report,
    }
    try:
        return handlers[args.command](args)
    except AccountingError as err:
        logger.error("error: internal accounting check failed, output not written: %s", err)
        return 1
    except (DataError, ModelDirError, ValueError) as err:
        if args.verbose:
            logger.exception("error")
        else:
            logger.error("error: %s", err)
        return 1
    except BrokenPipeError:
        # `claimstance predict ... | head` closed the pipe: not an error of ours.
        return 0
    except KeyboardInterrupt:
        logger.error("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
