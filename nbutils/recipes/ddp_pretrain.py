"""Pretrain the course model on several processes at once (data parallel, ``torch.distributed``), or on one.

    torchrun --standalone --nproc_per_node 2 -m nbutils.recipes.ddp_pretrain --out /tmp/ddp       # 2 CPU processes
    torchrun --standalone --nproc_per_node 2 -m nbutils.recipes.ddp_pretrain --steps 20 --out /tmp/ddp
    python -m nbutils.recipes.ddp_pretrain --steps 20 --out /tmp/one      # the same run on ONE process
    torchrun --nnodes 2 --nproc_per_node 8 --rdzv-backend c10d --rdzv-endpoint HOST:29500 \\
        -m nbutils.recipes.ddp_pretrain --out /shared/run            # 2 machines x 8 GPUs (nccl), on each machine

The run is the course model's (``nbutils.recipes.world_model``: the fresh-story stream, ``GPTConfig`` 4 layers x 4
heads x width 128, context 256, AdamW, warm-up then cosine), trained by the one loop, ``nbutils.train.Trainer``,
on ``nbutils.distributed``: each of the ``WORLD_SIZE`` processes trains on its shard of every global batch of
``--batch-size`` rows, and DDP averages the gradients (all-reduce) in ``backward``. On one process the same
command trains on the whole batch, and the result is the same model up to float rounding (the order of the
sums differs); ``tests/test_distributed.py`` checks that. Rank 0 saves the model (``nbutils.checkpoint``) and
``ddp.json``: the world size, backend, seconds per step and the loss of every step averaged over the processes.
``--tiny`` trains a 1-layer model of width 32 on a context of 64 (for tests).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Sequence

import torch


def main(argv: Sequence[str] | None = None) -> int:
    from nbutils.checkpoint import save_checkpoint
    from nbutils.data import StoryStream
    from nbutils.distributed import ShardedBatches, all_reduce_mean, barrier, cleanup, setup, unwrap, wrap
    from nbutils.model import GPT, GPTConfig
    from nbutils.pretrain import course_tokenizer
    from nbutils.recipes.report import versions, write_json
    from nbutils.train import Trainer, TrainConfig

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=32, help="the GLOBAL batch: rows per step, all processes together")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--context", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    parser.add_argument("--device", default=None, help="cpu, or cuda (default: cuda with nccl when there is one)")
    parser.add_argument("--tiny", action="store_true", help="1 layer, width 32, context 64 (for tests)")
    args = parser.parse_args(argv)
    if args.tiny:
        args.layers, args.heads, args.width, args.context = 1, 2, 32, 64

    torch.set_num_threads(args.threads)
    info = setup(device=args.device)
    try:
        if args.batch_size % info.world_size:
            raise SystemExit(f"--batch-size {args.batch_size} must be divisible by the {info.world_size} processes")
        tokenizer = course_tokenizer()
        config = GPTConfig(vocab_size=tokenizer.vocab_size, context_length=args.context, n_layer=args.layers,
                           n_head=args.heads, n_embd=args.width, dropout=0.0)
        train_config = TrainConfig(steps=args.steps, batch_size=args.batch_size // info.world_size,
                                   context_length=args.context, lr=args.lr, min_lr=args.lr / 10,
                                   warmup_steps=min(100, args.steps // 10), weight_decay=0.1, grad_clip=1.0,
                                   eval_every=10 ** 9, eval_batches=1, log_every=10, seed=args.seed,
                                   device=str(info.device))
        torch.manual_seed(args.seed)
        model = wrap(GPT(config), info)
        batches = ShardedBatches(StoryStream(tokenizer, seed=1000 + args.seed, buffer=1), info)
        trainer = Trainer(model, batches, None, train_config)
        started = time.perf_counter()
        trainer.train(progress=None)
        seconds = time.perf_counter() - started
        losses = all_reduce_mean(torch.tensor(trainer.history.train_loss, device=info.device)).tolist()
        if info.is_main:
            args.out.mkdir(parents=True, exist_ok=True)
            save_checkpoint(args.out, unwrap(trainer.model), tokenizer=tokenizer, train_config=train_config,
                            step=trainer.step)
            write_json(args.out / "ddp.json", {
                "recipe": "nbutils.recipes.ddp_pretrain " + " ".join(sys.argv[1:] if argv is None else argv),
                "world_size": info.world_size, "backend": info.backend, "device": str(info.device),
                "global_batch": args.batch_size, "per_process_batch": train_config.batch_size,
                "steps": trainer.step, "seconds": round(seconds, 2), "s_per_step": round(seconds / max(1, trainer.step), 4),
                "tokens_per_s": round(trainer.step * args.batch_size * args.context / seconds),
                "train_loss": losses, "versions": versions()})
            print(f"{info.world_size} process(es), {info.backend or 'no'} backend: {trainer.step} steps in "
                  f"{seconds:.1f} s, last loss {losses[-1]:.4f}; saved {args.out}", flush=True)
        # Leave together, and only after DDP is gone: a process that tore down its group (or exited) while the
        # other was still saving, with DDP's gloo work still alive, was seen to abort (SIGABRT, 2 runs in 16)
        del trainer, model
        barrier()
    finally:
        cleanup()
    return 0


if __name__ == "__main__":
    status = main()
    # Leave without Python's and C++'s exit-time clean-up: the files are written and the process group is
    # destroyed, yet gloo's threads were seen to abort a worker during that clean-up now and then (SIGABRT,
    # "terminate called without an active exception"), which made torchrun report the whole run as failed.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
