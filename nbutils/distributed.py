"""Training on more than one process: data parallelism with ``torch.distributed`` (DDP), launched by ``torchrun``.

**Data parallelism.** Every process holds a full copy of the model. At every step each one reads its own
share of the global batch (``ShardedBatches``), computes its loss and its gradients, and then all processes
*all-reduce* their gradients: each ends up with the average of everyone's. Since the loss of the global batch
is the mean of the shards' losses (shards of equal size), that average is exactly the gradient a single
process would have computed on the whole global batch. Every process then makes the same AdamW update on the
same weights, so the copies stay identical without ever being sent. ``torch.nn.parallel.DistributedDataParallel``
does the all-reduce during ``loss.backward()``, bucket by bucket, while the rest of the backward pass runs.

**Launching.** ``torchrun --nproc_per_node 2 -m nbutils.recipes.ddp_pretrain`` starts 2 processes and gives each
the environment variables ``RANK`` (0, 1, ...), ``WORLD_SIZE`` (2), ``LOCAL_RANK`` (its number on this machine)
and where to meet (``MASTER_ADDR``, ``MASTER_PORT``). :func:`setup` reads them and joins the group, with the
``gloo`` backend on CPUs and ``nccl`` on NVIDIA GPUs (one GPU per process: ``cuda:LOCAL_RANK``). Without
``torchrun`` (no ``WORLD_SIZE``) it is one process, and everything here does nothing special: the same code
trains on one process or on many.

    >>> info = setup()                                      # doctest: +SKIP
    >>> model = wrap(GPT(config), info)                     # DDP on 2+ processes, the model itself on one
    >>> trainer = Trainer(model, ShardedBatches(StoryStream(tok), info), None, train_config)   # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from nbutils.validate import require_int

__all__ = ["DistInfo", "setup", "barrier", "cleanup", "wrap", "unwrap", "ShardedBatches", "all_reduce_mean", "average_gradients"]


@dataclass(frozen=True)
class DistInfo:
    """Who this process is: its ``rank`` among ``world_size`` processes, its ``local_rank`` on this machine,
    the ``backend`` of the group (None for a single process) and the ``device`` it computes on."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that prints and saves."""
        return self.rank == 0


def setup(backend: str | None = None, device: str | None = None) -> DistInfo:
    """Join the process group ``torchrun`` prepared (read from the environment), or stay one process.

    ``backend``: "gloo" (CPUs) or "nccl" (NVIDIA GPUs); default: nccl when CUDA is there and ``device`` is not
    "cpu", else gloo. Each process computes on ``cuda:LOCAL_RANK`` with nccl, on the CPU with gloo."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        chosen = torch.device(device) if device else torch.device("cpu")
        return DistInfo(device=chosen)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and device != "cpu"
    backend = backend or ("nccl" if use_cuda else "gloo")
    if backend == "nccl":
        chosen = torch.device("cuda", local_rank)
        torch.cuda.set_device(chosen)
    else:
        chosen = torch.device("cpu")
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return DistInfo(rank=rank, world_size=world_size, local_rank=local_rank, backend=backend, device=chosen)


def barrier() -> None:
    """Wait until every process has got here (with one process there is nothing to wait for)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def cleanup() -> None:
    """Leave the process group (call once at the end of every process)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def wrap(model: torch.nn.Module, info: DistInfo) -> torch.nn.Module:
    """The model, on ``info.device``, wrapped in ``DistributedDataParallel`` when there are several processes
    (which first copies rank 0's weights to every process, so all start equal)."""
    model = model.to(info.device)
    if info.world_size == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[info.device.index] if info.device.type == "cuda" else None)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside a DDP wrapper (what is saved and evaluated), or the model itself."""
    return getattr(model, "module", model)


class ShardedBatches:
    """A batch source for ``Trainer`` that gives each process its shard of the global batch.

    ``sample(batch_size, ...)`` asks the wrapped ``source`` (e.g. ``nbutils.data.StoryStream``, seeded the same
    in every process) for the global batch of ``batch_size * world_size`` rows and keeps rows
    ``rank * batch_size`` to ``(rank + 1) * batch_size``. Every process so draws the same global batch (the
    stream costs little next to the model) and the shards together are exactly what one process would train on.
    ``TrainConfig.batch_size`` is then the batch of ONE process.
    """

    def __init__(self, source: Any, info: DistInfo) -> None:
        if not callable(getattr(source, "sample", None)):
            raise TypeError("source must be a batch source with sample(batch_size, context_length, generator, device)")
        self.source, self.info = source, info

    def sample(self, batch_size: int, context_length: int, generator: torch.Generator | None = None,
               device: torch.device | str | None = None) -> tuple[torch.Tensor, ...]:
        require_int("batch_size", batch_size)
        batch = self.source.sample(batch_size * self.info.world_size, context_length, generator=generator)
        start = self.info.rank * batch_size
        return tuple(t[start:start + batch_size].to(device) if device is not None else t[start:start + batch_size]
                     for t in batch)


def all_reduce_mean(tensor: torch.Tensor) -> torch.Tensor:
    """The mean of ``tensor`` over all processes (a new tensor; the tensor itself on a single process)."""
    if not (dist.is_available() and dist.is_initialized()):
        return tensor
    out = tensor.detach().clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out / dist.get_world_size()


def average_gradients(model: torch.nn.Module) -> None:
    """By hand, what DDP does during ``backward``: replace every gradient by its mean over the processes
    (one all-reduce per parameter; DDP groups them into buckets and overlaps them with the backward pass)."""
    if not (dist.is_available() and dist.is_initialized()):
        return
    world = dist.get_world_size()
    for parameter in model.parameters():
        if parameter.grad is not None:
            dist.all_reduce(parameter.grad, op=dist.ReduceOp.SUM)
            parameter.grad /= world
