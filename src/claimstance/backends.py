"""Reading a model dir without torch, and the runtimes that turn word-piece ids into logits.

A model dir can be run three ways (`--backend`): `torch` (model.safetensors through
transformers), `onnx` (model.onnx, float32, through ONNX Runtime) and `onnx-int8` (model.int8.onnx,
dynamically quantized weights). `auto` takes the fastest one present and up to date. Nothing in
this module imports torch or transformers, so the ONNX path starts fast and stays small in memory.

Tokenization is the `tokenizers` library on the dir's tokenizer.json: the same Rust tokenizer
transformers' fast tokenizer wraps, so training and every backend see identical ids.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from claimstance.labels import LABELS, LabelMismatchError, check_labels
from claimstance.provenance import sha256_file

logger = logging.getLogger(__name__)

META_FILE = "claimstance.json"
TOKENIZER_FILE = "tokenizer.json"
WEIGHTS_FILE = "model.safetensors"
# Files every backend needs; each backend's own weights are checked when it is chosen.
REQUIRED_FILES = ("config.json", TOKENIZER_FILE, META_FILE)
BACKEND_FILES = {"torch": WEIGHTS_FILE, "onnx": "model.onnx", "onnx-int8": "model.int8.onnx"}
BACKENDS = ("auto", *BACKEND_FILES)
FASTEST_FIRST = ("onnx-int8", "onnx", "torch")  # measured by `make bench`

# (input_ids, attention_mask), both int64 of shape (batch, width) -> float32 logits (batch, 5)
Runner = Callable[[np.ndarray, np.ndarray], np.ndarray]


class ModelDirError(ValueError):
    """A model dir that is missing, incomplete, stale or for other labels."""


@dataclass
class ModelDir:
    """A checked model dir: where it is and what its claimstance.json says."""

    path: Path
    meta: dict[str, Any] = field(default_factory=dict)
    labels: tuple[str, ...] = LABELS  # from config.json's id2label, checked against LABELS

    @property
    def max_length(self) -> int:
        return int(self.meta.get("max_length", 128))

    @property
    def temperature(self) -> float:
        return float(self.meta.get("temperature", 1.0))

    @property
    def confidence_threshold(self) -> float | None:
        """The dev confidence threshold that estimates accuracy on new text (calibration.py);
        None in a dir calibrated before it existed (`claimstance calibrate` adds it)."""
        value = self.meta.get("confidence_threshold")
        return None if value is None else float(value)

    def available(self) -> list[str]:
        """The backends this dir can run, fastest first. An ONNX file exported from other
        weights than the dir's model.safetensors (the model was retrained) does not count."""
        found = []
        weights_sha = None
        exported = self.meta.get("onnx", {})
        for backend in FASTEST_FIRST:
            if not (self.path / BACKEND_FILES[backend]).is_file():
                continue
            if backend != "torch" and (self.path / WEIGHTS_FILE).is_file():
                weights_sha = weights_sha or sha256_file(self.path / WEIGHTS_FILE)
                if exported.get("source_sha256") != weights_sha:
                    logger.warning(
                        "%s: %s was exported from other weights than model.safetensors; "
                        "ignoring it (run `claimstance export --model %s`)",
                        self.path,
                        BACKEND_FILES[backend],
                        self.path,
                    )
                    continue
            found.append(backend)
        return found

    def resolve(self, requested: str) -> str:
        """The backend to use for `requested` (one of BACKENDS).

        Raises:
            ModelDirError: the requested backend's file is missing or stale.
        """
        if requested not in BACKENDS:
            raise ModelDirError(f"unknown backend {requested!r}; expected one of {list(BACKENDS)}")
        available = self.available()
        if requested == "auto":
            if not available:
                raise ModelDirError(
                    f"{self.path}: incomplete model dir, missing ['{WEIGHTS_FILE}'] "
                    "(and no ONNX export)"
                )
            return available[0]
        if requested not in available:
            name = BACKEND_FILES[requested]
            hint = (
                f"run `claimstance export --model {self.path}`"
                if requested != "torch"
                else "train one with `make train`"
            )
            raise ModelDirError(
                f"{self.path}: incomplete model dir, missing ['{name}'] (or out of date); {hint}"
            )
        return requested


def open_model_dir(model_dir: str | Path) -> ModelDir:
    """Check a model dir's common files and labels (no weights are read).

    Raises:
        ModelDirError: a missing dir or file, unreadable JSON, or labels other than LABELS.
    """
    path = Path(model_dir)
    if not path.is_dir():
        raise ModelDirError(
            f"{path}: no model dir here; train one with `make train` or pass --model DIR"
        )
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        raise ModelDirError(f"{path}: incomplete model dir, missing {missing}")
    try:
        meta = json.loads((path / META_FILE).read_text())
        config = json.loads((path / "config.json").read_text())
        check_labels(config.get("id2label", {}), where=f"{path}/config.json")
        if "labels" in meta and list(meta["labels"]) != list(LABELS):
            raise LabelMismatchError(
                f"{path}/{META_FILE} has labels {meta['labels']}, expected {list(LABELS)} "
                "in that order"
            )
    except json.JSONDecodeError as err:
        raise ModelDirError(f"{path}: unreadable JSON ({err})") from None
    except LabelMismatchError as err:
        raise ModelDirError(str(err)) from None
    id2label = {int(k): v for k, v in config["id2label"].items()}
    return ModelDir(path=path, meta=meta, labels=tuple(id2label[i] for i in range(len(LABELS))))


# ---------------------------------------------------------------------------------------------
# Tokenization


def load_tokenizer(model_dir: str | Path) -> Tokenizer:
    """The dir's tokenizer.json with truncation and padding off (encode() cuts and pads)."""
    path = Path(model_dir) / TOKENIZER_FILE
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as err:  # tokenizers raises plain Exception on a bad file
        raise ModelDirError(f"{path}: cannot read the tokenizer ({err})") from None
    return _plain(tokenizer)


def _plain(tokenizer: Tokenizer) -> Tokenizer:
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def encode(
    tokenizer: Tokenizer, texts: list[str], max_length: int
) -> tuple[list[list[int]], list[bool]]:
    """The one tokenizer call: training and every backend use it, so they cannot drift apart.

    Returns the word-piece ids of each text, cut to `max_length` the way the tokenizer's own
    truncation does (keep the start, end with [SEP]), and whether each text was cut.
    """
    if not texts:
        return [], []
    ids = [enc.ids for enc in tokenizer.encode_batch(texts, add_special_tokens=True)]
    truncated = [len(seq) > max_length for seq in ids]
    sep = tokenizer.token_to_id("[SEP]")
    if sep is None:
        raise ModelDirError("the tokenizer has no [SEP] token")
    cut = [
        seq[: max_length - 1] + [sep] if t else seq for seq, t in zip(ids, truncated, strict=True)
    ]
    return cut, truncated


def pad_batch(batch: list[list[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Pad id lists to the longest member: int64 input_ids and attention_mask arrays."""
    width = max((len(seq) for seq in batch), default=0)
    input_ids = np.full((len(batch), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(batch), width), dtype=np.int64)
    for row, seq in enumerate(batch):
        input_ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1
    return input_ids, mask


def pad_id(tokenizer: Tokenizer) -> int:
    found = tokenizer.token_to_id("[PAD]")
    return 0 if found is None else found


# ---------------------------------------------------------------------------------------------
# Runtimes


def cpu_threads(threads: int) -> int:
    """Threads for one forward pass: `threads` if set, else every core this process may use."""
    if threads > 0:
        return threads
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def onnx_runner(path: str | Path, threads: int = 0) -> Runner:
    """An ONNX Runtime session on the CPU: all graph optimisations, `threads` intra-op threads
    (one pass uses every core; batches run one after another, so inter-op threads stay at 1)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = cpu_threads(threads)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: ORT's notices are not for users
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as err:  # ORT raises its own exception types for bad files
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelDirError(f"{path}: cannot load the ONNX model ({first})") from None
    names = {i.name for i in session.get_inputs()}

    def run(input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        feed = {"input_ids": input_ids, "attention_mask": attention_mask}
        if "token_type_ids" in names:
            feed["token_type_ids"] = np.zeros_like(input_ids)
        return np.asarray(session.run(["logits"], feed)[0], dtype=np.float32)

    return run


def torch_runner(model_dir: str | Path, threads: int = 0) -> Runner:
    """model.safetensors through transformers under torch.inference_mode()."""
    import torch

    from claimstance import modeling

    if threads > 0:
        torch.set_num_threads(threads)
    return model_runner(modeling.load(model_dir).model)


def model_runner(model: Any) -> Runner:
    """A loaded transformers classifier as a Runner (torch.inference_mode, float32 logits); the
    model is called as it is at each batch, so its weights may change between calls."""
    import torch

    def run(input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out = model(
                input_ids=torch.from_numpy(input_ids),
                attention_mask=torch.from_numpy(attention_mask),
            )
        return out.logits.float().numpy()

    return run


def make_runner(model: ModelDir, backend: str, threads: int = 0) -> Runner:
    """The runner for a resolved backend ('torch', 'onnx' or 'onnx-int8')."""
    if backend == "torch":
        return torch_runner(model.path, threads)
    return onnx_runner(model.path / BACKEND_FILES[backend], threads)


def write_meta(out_dir: str | Path, updates: dict[str, Any]) -> None:
    """Merge `updates` into the model dir's claimstance.json (written whole, then renamed)."""
    path = Path(out_dir) / META_FILE
    meta = json.loads(path.read_text()) if path.exists() else {}
    meta.update(updates)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(meta, indent=2) + "\n")
    tmp.replace(path)
