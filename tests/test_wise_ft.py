"""eval/wise_ft.py: mixing fine-tuned and pretrained weights."""

import importlib.util
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("wise_ft", ROOT / "eval" / "wise_ft.py")
wise_ft = importlib.util.module_from_spec(spec)
spec.loader.exec_module(wise_ft)


def test_interpolate_mixes_shared_weights_and_keeps_the_head():
    finetuned = {
        "bert.encoder.w": torch.full((2,), 4.0),
        "classifier.weight": torch.full((2,), 9.0),
        "bert.embeddings.position_ids": torch.arange(2),
    }
    pretrained = {"encoder.w": torch.full((2,), 2.0), "embeddings.position_ids": torch.arange(2)}
    mixed, count = wise_ft.interpolate(finetuned, pretrained, 0.25)
    assert count == 1  # the integer position ids are not mixed, the head has no base weight
    assert torch.equal(mixed["bert.encoder.w"], torch.full((2,), 0.25 * 4.0 + 0.75 * 2.0))
    assert torch.equal(mixed["classifier.weight"], finetuned["classifier.weight"])
    same, _ = wise_ft.interpolate(finetuned, pretrained, 1.0)
    assert all(torch.equal(same[k], v) for k, v in finetuned.items())
    kept, count = wise_ft.interpolate(finetuned, pretrained, 0.25, keep=("encoder",))
    assert count == 0 and torch.equal(kept["bert.encoder.w"], finetuned["bert.encoder.w"])
    _, none = wise_ft.interpolate(finetuned, {"encoder.w": torch.zeros(3)}, 0.5)
    assert none == 0  # a shape mismatch is not mixed
