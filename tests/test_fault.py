"""The fault test: `claimstance predict` in a subprocess, killed with SIGKILL at random moments
(during start-up, and when its partial output reaches random sizes), resumed each time with
--resume; the final output must be identical, byte for byte, to an uninterrupted run's.

Set FAULT_SEED to replay a failing run."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import claimstance

SRC = str(Path(claimstance.__file__).resolve().parents[1])
WORDS = (
    "the mayor said bridge will reopen talks resumed on tuesday governor vowed to rebuild "
    "officials warned of floods police"
).split()


def _write_input(path: Path, rng: random.Random, n: int) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            sentences = [
                " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 9))).capitalize() + "."
                for _ in range(rng.randint(0, 3))
            ]
            fh.write(json.dumps({"id": f"d{i % 700}", "text": " ".join(sentences)}) + "\n")


def _command(model: Path, inputs: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "claimstance.cli",
        "predict",
        str(inputs),
        "-o",
        str(out),
        "--model",
        str(model),
        "--chunk-size",
        "16",
        "--batch-size",
        "16",
        "--threads",
        "1",
        "-q",
        *extra,
    ]


def _env() -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _run_and_kill(cmd: list[str], part: Path, after_s: float | None, at_bytes: int | None) -> int:
    """Start `cmd`; SIGKILL it after `after_s` seconds or once `part` holds `at_bytes`."""
    proc = subprocess.Popen(
        cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    start = time.monotonic()
    while proc.poll() is None:
        elapsed = time.monotonic() - start
        size = part.stat().st_size if part.exists() else 0
        if (after_s is not None and elapsed >= after_s) or (
            at_bytes is not None and size >= at_bytes
        ):
            proc.kill()
            break
        if elapsed > 120:
            proc.kill()
            raise AssertionError("predict hung")
        time.sleep(0.002)
    proc.wait()
    return proc.returncode


def test_sigkill_at_random_points_then_resume_gives_identical_output(tiny_model_dir, tmp_path):
    seed = int(os.environ.get("FAULT_SEED", random.randrange(2**32)))
    rng = random.Random(seed)
    inputs = tmp_path / "archive.jsonl"
    _write_input(inputs, rng, 1000)
    full, out = tmp_path / "full.jsonl", tmp_path / "out.jsonl"
    part = Path(str(out) + ".part")

    # The uninterrupted run goes alongside the first (interrupted) run, to save wall time.
    baseline = subprocess.Popen(
        _command(tiny_model_dir, inputs, full), env=_env(), stderr=subprocess.PIPE, text=True
    )
    # Kill 1: at a random moment of start-up or reading, most likely before any checkpoint.
    kills = [_run_and_kill(_command(tiny_model_dir, inputs, out), part, rng.uniform(0, 3), None)]
    assert baseline.wait() == 0, baseline.stderr.read() if baseline.stderr else ""
    size = full.stat().st_size
    # Kills 2-4: when the partial output reaches random sizes, each run resuming the last.
    for fraction in sorted(rng.uniform(0.05, 0.95) for _ in range(3)):
        cmd = _command(tiny_model_dir, inputs, out, "--resume")
        kills.append(_run_and_kill(cmd, part, None, int(size * fraction)))
        assert not out.exists() or out.read_bytes() == full.read_bytes(), f"seed {seed}"
    final = subprocess.run(
        _command(tiny_model_dir, inputs, out, "--resume"),
        env=_env(),
        capture_output=True,
        text=True,
    )
    assert final.returncode == 0, final.stderr
    assert out.read_bytes() == full.read_bytes(), f"seed {seed}, kills {kills}"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "archive.jsonl",
        "full.jsonl",
        "out.jsonl",
    ]
    assert -9 in kills, f"no run was killed (seed {seed}): make the input larger"
