"""Training: TrainConfig -> a complete, self-describing model dir.

datasets + Trainer wiring, then the steps that make the dir trustworthy: temperature scaling
fitted on the dev split, dev metrics measured with the same Classifier users get, provenance and
a model card.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from datasets import Dataset, disable_progress_bars
from scipy.optimize import minimize_scalar
from scipy.special import logsumexp
from transformers import DataCollatorWithPadding, Trainer, TrainingArguments
from transformers.utils import logging as hf_logging

from claimstance import modeling, provenance
from claimstance.calibration import confidence_threshold
from claimstance.config import TrainConfig
from claimstance.data import LabeledExample, check_splits, load_labeled
from claimstance.evaluation import compute_metrics, expected_calibration_error
from claimstance.inference import load_classifier, softmax
from claimstance.labels import LABELS, label2id
from claimstance.modelcard import write_model_card

logger = logging.getLogger(__name__)


def use_bf16(setting: str) -> bool:
    """Whether to train under bf16 autocast: 'on', 'off', or 'auto' (native bf16 hardware only:
    emulated bf16 on an older CPU is slower than float32)."""
    if setting != "auto":
        return setting == "on"
    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def training_arguments(cfg: TrainConfig, checkpoint_dir: str) -> TrainingArguments:
    """The one mapping of TrainConfig onto TrainingArguments: only the knobs we use."""
    return TrainingArguments(
        output_dir=checkpoint_dir,
        num_train_epochs=cfg.epochs,
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=64,
        learning_rate=cfg.learning_rate,
        weight_decay=cfg.weight_decay,
        warmup_steps=cfg.warmup_ratio,  # a float in [0, 1) is a ratio of all steps
        label_smoothing_factor=cfg.label_smoothing,
        train_sampling_strategy="group_by_length" if cfg.group_by_length else "random",
        eval_strategy="epoch",
        save_strategy="epoch",
        save_total_limit=1,
        save_only_model=True,
        load_best_model_at_end=True,  # keep the epoch with the best dev macro-F1
        metric_for_best_model="macro_f1",
        logging_strategy="epoch",
        seed=cfg.seed,
        data_seed=cfg.seed,
        report_to="none",
        disable_tqdm=not cfg.progress,
        dataloader_num_workers=0,
        use_cpu=not torch.cuda.is_available(),
        bf16=use_bf16(cfg.bf16),
    )


def rdrop_loss(
    first: torch.Tensor,
    second: torch.Tensor,
    labels: torch.Tensor,
    alpha: float,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """R-Drop (Liang et al., 2021): the mean cross-entropy of two forward passes of one batch
    under different dropout masks, plus alpha times the symmetric KL divergence between their
    predicted distributions. It penalises predictions that depend on which units dropout kept,
    which the train-time sweep found to transfer best to real news."""
    ce = 0.5 * (
        F.cross_entropy(first, labels, label_smoothing=label_smoothing)
        + F.cross_entropy(second, labels, label_smoothing=label_smoothing)
    )
    p, q = F.log_softmax(first.float(), -1), F.log_softmax(second.float(), -1)
    kl = 0.5 * (
        F.kl_div(p, q, log_target=True, reduction="batchmean")
        + F.kl_div(q, p, log_target=True, reduction="batchmean")
    )
    return ce + alpha * kl


class RDropTrainer(Trainer):
    """A Trainer whose training loss is `rdrop_loss`: the batch goes through the model twice
    (stacked, one forward call). Evaluation and prediction are the plain Trainer's."""

    loss_is_scaled_for_ga = False  # a per-batch mean, as the default loss

    def __init__(self, *args: Any, rdrop: float, label_smoothing: float = 0.0, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.rdrop = rdrop
        self.smoothing = label_smoothing

    def compute_loss(  # type: ignore[override]
        self,
        model: torch.nn.Module,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: Any = None,
    ) -> Any:
        if not model.training:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        labels = inputs["labels"]
        doubled = {k: torch.cat([v, v]) for k, v in inputs.items() if k != "labels"}
        outputs = model(**doubled)
        first, second = outputs.logits.chunk(2)
        loss = rdrop_loss(first, second, labels, self.rdrop, self.smoothing)
        return (loss, outputs) if return_outputs else loss


def _dataset(examples: list[LabeledExample], tokenizer: Any, max_length: int) -> Dataset:
    ids = label2id()
    ds = Dataset.from_dict(
        {"text": [ex.text for ex in examples], "label": [ids[ex.label] for ex in examples]}
    )
    return ds.map(
        lambda batch: {"input_ids": modeling.encode(tokenizer, batch["text"], max_length)[0]},
        batched=True,
        remove_columns=["text"],
    )


def _selection_metric(eval_pred: Any) -> dict[str, float]:
    # Only for choosing the best epoch; reported figures come from the Classifier below.
    logits, gold = eval_pred
    pred = np.asarray(logits).argmax(-1)
    m = compute_metrics([LABELS[g] for g in gold], [LABELS[p] for p in pred])
    return {"macro_f1": m["macro_f1"], "accuracy": m["accuracy"]}


def fit_temperature(logits: np.ndarray, gold_ids: list[int]) -> float:
    """The temperature T minimising the dev negative log-likelihood of softmax(logits / T)."""
    gold = np.asarray(gold_ids)

    def nll(log_t: float) -> float:
        z = logits / math.exp(log_t)
        return float(np.mean(logsumexp(z, axis=1) - z[np.arange(len(gold)), gold]))

    result = minimize_scalar(nll, bounds=(math.log(0.05), math.log(20.0)), method="bounded")
    return float(math.exp(result.x))


def dev_calibration(logits: np.ndarray, dev_ex: list[LabeledExample]) -> dict[str, Any]:
    """Fit the temperature on the dev split; its metrics after calibration, with the temperature
    and the ECE before it (a model's or an ensemble's metrics.json)."""
    gold_ids = [LABELS.index(ex.label) for ex in dev_ex]
    temperature = fit_temperature(logits, gold_ids)
    probs = softmax(logits / temperature)
    metrics = compute_metrics(
        [ex.label for ex in dev_ex], [LABELS[i] for i in probs.argmax(1)], probs
    )
    metrics["ece_uncalibrated"] = expected_calibration_error(softmax(logits), gold_ids)
    metrics["temperature"] = temperature
    metrics["confidence_threshold"] = confidence_threshold(probs, gold_ids)
    metrics["split"] = "dev"
    return metrics


def _store_calibration(model_dir: Path, metrics: dict[str, Any]) -> None:
    """Write dev_calibration's fit into claimstance.json and the metrics into metrics.json."""
    fitted = {k: metrics[k] for k in ("temperature", "confidence_threshold")}
    modeling.write_meta(model_dir, fitted)
    (model_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")


def recalibrate(model_dir: str | Path, dev_file: str, progress: bool = False) -> dict[str, Any]:
    """Fit a trained model dir's (or an ensemble dir's) temperature and confidence threshold on
    `dev_file` again and store them: for dirs trained before the threshold existed, or to
    calibrate on another dev split. Labels do not change; metrics.json is rewritten.

    Raises:
        ModelDirError: not a model or ensemble dir.
        DataError: dev_file is missing or malformed.
    """
    from claimstance.ensemble import is_ensemble_dir

    dev_ex = load_labeled(dev_file)
    # A model dir: torch, as training fits it; an ensemble: the backend its members share.
    backend = "auto" if is_ensemble_dir(model_dir) else "torch"
    classifier = load_classifier(str(model_dir), progress=progress, backend=backend)
    old = classifier.temperature  # logits are raw: the stored temperature plays no part
    metrics = dev_calibration(classifier.logits([ex.text for ex in dev_ex])[0], dev_ex)
    metrics["data"] = dev_file
    _store_calibration(Path(model_dir), metrics)
    record = Path(model_dir) / "train_config.json"
    if not is_ensemble_dir(model_dir) and record.is_file():  # the model card quotes the metrics
        write_model_card(Path(model_dir), json.loads(record.read_text()), metrics)
    logger.info(
        "%s: temperature %.3f -> %.3f, confidence threshold %.4f (dev macro-F1 %.3f, ECE %.3f)",
        model_dir,
        old,
        metrics["temperature"],
        metrics["confidence_threshold"],
        metrics["macro_f1"],
        metrics["ece"],
    )
    return metrics


def train(cfg: TrainConfig) -> Path:
    """Fine-tune the base model on cfg.train_file, select on cfg.dev_file, write the model dir.

    Returns:
        The model dir.

    Raises:
        DataError: bad training data (before any training starts).
        ModelDirError: the base model cannot be found.
    """
    started = time.time()
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    if not cfg.progress:
        hf_logging.disable_progress_bar()
        disable_progress_bars()
    train_ex = load_labeled(cfg.train_file)
    dev_ex = load_labeled(cfg.dev_file)
    splits = {"train": train_ex, "dev": dev_ex}
    if cfg.test_file and Path(cfg.test_file).exists():
        splits["test"] = load_labeled(cfg.test_file)  # only checked: it must not leak into training
    check_splits(splits)
    if cfg.max_train_rows:
        train_ex = train_ex[: cfg.max_train_rows]
    if cfg.max_dev_rows:
        dev_ex = dev_ex[: cfg.max_dev_rows]
    restyled: dict[str, int] = {}
    written = train_ex  # the split as written: what train_config.json describes
    if cfg.augment > 0:
        from claimstance.augment import restyle_examples

        train_ex, counts = restyle_examples(train_ex, cfg.augment, cfg.seed)
        restyled = dict(counts.most_common())
        logger.info("added %d restyled training sentences: %s", counts["sentences"], restyled)
    for name, exs in (("train", train_ex), ("dev", dev_ex)):
        logger.info("%s: %d sentences %s", name, len(exs), dict(Counter(ex.label for ex in exs)))
    logger.info("config: %s", json.dumps(cfg.to_dict()))
    logger.info(
        "device: %s, torch threads: %d, bf16 autocast: %s",
        "cuda" if torch.cuda.is_available() else "cpu",
        torch.get_num_threads(),
        use_bf16(cfg.bf16),
    )

    model, tokenizer = modeling.build_model(cfg.base_model, cfg.seed)
    trainable = modeling.freeze(model, cfg.freeze_layers)
    if cfg.freeze_layers:
        logger.info(
            "embeddings and %d layers frozen: %d trainable parameters", cfg.freeze_layers, trainable
        )
    out = Path(cfg.output_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        trainer_class: Any = Trainer
        extra: dict[str, Any] = {}
        if cfg.rdrop > 0:
            trainer_class = RDropTrainer
            extra = {"rdrop": cfg.rdrop, "label_smoothing": cfg.label_smoothing}
        trainer = trainer_class(
            model=model,
            args=training_arguments(cfg, str(staging / "checkpoints")),
            train_dataset=_dataset(train_ex, tokenizer, cfg.max_length),
            eval_dataset=_dataset(dev_ex, tokenizer, cfg.max_length),
            data_collator=DataCollatorWithPadding(tokenizer),
            processing_class=tokenizer,
            compute_metrics=_selection_metric,
            **extra,
        )
        trainer.train()
        train_seconds = time.time() - started
        model_dir = staging / "model"
        model.cpu()  # the Trainer loaded the best epoch's weights into this same object
        modeling.save(model, tokenizer, model_dir, cfg.max_length)
        shutil.rmtree(staging / "checkpoints", ignore_errors=True)
        _calibrate_and_describe(
            cfg, model_dir, written, dev_ex, train_seconds, trainer.state.best_metric, restyled
        )
        if out.exists():
            shutil.rmtree(out)
        model_dir.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if cfg.export_onnx:
        from claimstance.export import export

        export(out)
    logger.info("model dir written to %s in %.0f s", out, time.time() - started)
    return out


def _calibrate_and_describe(
    cfg: TrainConfig,
    model_dir: Path,
    train_ex: list[LabeledExample],
    dev_ex: list[LabeledExample],
    train_seconds: float,
    best_selection_f1: float | None,
    restyled: dict[str, int] | None = None,
) -> None:
    classifier = load_classifier(str(model_dir), backend="torch", progress=cfg.progress)
    metrics = dev_calibration(classifier.logits([ex.text for ex in dev_ex])[0], dev_ex)
    temperature = metrics["temperature"]
    _store_calibration(model_dir, metrics)
    info = {
        "config": cfg.to_dict(),
        "data": {
            name: {
                "path": path,
                "sha256": provenance.sha256_file(path),
                "rows": len(exs),
                "labels": dict(Counter(ex.label for ex in exs)),
                "documents": len({ex.doc_id for ex in exs}),
            }
            for name, path, exs in (
                ("train", cfg.train_file, train_ex),
                ("dev", cfg.dev_file, dev_ex),
            )
        },
        "restyled": restyled or {},
        "base_model": str(modeling.resolve_base_model(cfg.base_model)),
        "train_seconds": round(train_seconds, 1),
        "torch_threads": torch.get_num_threads(),
        "best_dev_macro_f1_during_training": best_selection_f1,
        "git_commit": provenance.git_commit(),
        "versions": provenance.versions(),
        "seed": cfg.seed,
    }
    (model_dir / "train_config.json").write_text(json.dumps(info, indent=2) + "\n")
    write_model_card(model_dir, info, metrics)
    logger.info(
        "dev macro-F1 %.3f, ECE %.3f (uncalibrated %.3f, temperature %.2f)",
        metrics["macro_f1"],
        metrics["ece"],
        metrics["ece_uncalibrated"],
        temperature,
    )
