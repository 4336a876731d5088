"""Data-parallel training: 2 CPU processes (torchrun, gloo) train the same model as 1 process on the global batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from nbutils.distributed import DistInfo, ShardedBatches, all_reduce_mean, average_gradients, setup, unwrap, wrap

ROOT = Path(__file__).resolve().parents[1]
TORCHRUN = Path(sys.executable).with_name("torchrun")


class Counting:
    """A batch source whose rows are numbered 0, 1, 2, ... in the order they are drawn."""

    def __init__(self) -> None:
        self.next = 0

    def sample(self, batch_size, context_length, generator=None, device=None):
        rows = torch.arange(self.next, self.next + batch_size)[:, None].repeat(1, context_length + 1)
        self.next += batch_size
        return rows[:, :-1], rows[:, 1:]


def test_shards_of_the_global_batch_are_disjoint_and_cover_it():
    shards = [ShardedBatches(Counting(), DistInfo(rank=r, world_size=3)).sample(2, 4) for r in range(3)]
    firsts = [x[:, 0].tolist() for x, _ in shards]
    assert firsts == [[0, 1], [2, 3], [4, 5]]  # each rank keeps its rows of the same global batch of 6
    with pytest.raises(TypeError):
        ShardedBatches([1, 2, 3], DistInfo())


def test_one_process_needs_no_group(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    info = setup()
    assert (info.rank, info.world_size, info.backend, info.is_main) == (0, 1, None, True)
    model = torch.nn.Linear(2, 2)
    assert wrap(model, info) is model and unwrap(model) is model
    tensor = torch.tensor([1.0, 3.0])
    assert all_reduce_mean(tensor) is tensor
    average_gradients(model)  # nothing to average on one process: no error


def _run(command, out: Path) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command + ["--tiny", "--steps", "4", "--batch-size", "8", "--out", str(out)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads((out / "ddp.json").read_text())


@pytest.mark.skipif(not TORCHRUN.exists(), reason="torchrun is not installed next to this Python")
def test_two_processes_train_the_same_model_as_one(tmp_path):
    recipe = ["-m", "nbutils.recipes.ddp_pretrain"]
    two = _run([str(TORCHRUN), "--standalone", "--nproc_per_node", "2"] + recipe, tmp_path / "two")
    one = _run([sys.executable] + recipe, tmp_path / "one")
    assert (two["world_size"], two["backend"], two["per_process_batch"]) == (2, "gloo", 4)
    assert (one["world_size"], one["per_process_batch"]) == (1, 8)
    # the loss of every step, averaged over the two shards, is the loss of the whole batch
    assert two["train_loss"] == pytest.approx(one["train_loss"], abs=1e-5)
    a, b = load_file(tmp_path / "two" / "model.safetensors"), load_file(tmp_path / "one" / "model.safetensors")
    assert a.keys() == b.keys()
    first = load_file(tmp_path / "one" / "model.safetensors")
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-5  # the same weights, up to float rounding
    assert any(v.abs().max() > 0.01 for v in first.values())  # and they are real trained weights
