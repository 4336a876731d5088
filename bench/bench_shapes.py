"""Training throughput of the world model's shape next to the old course model's, in one run.

    python bench/bench_shapes.py                 # 40 timed steps of each setting, in chunks of 5
    python bench/bench_shapes.py --steps 80 --chunk 10 --threads 2

Three settings of the course's ``Trainer`` (AdamW, clipping, the schedule), all GPT 4 layers x 4 heads x
width 128 with the course's 1024-id BPE tokenizer, batches of 32 rows:

- ``world``        the world model's recipe (``python -m nbutils.recipes.world_model``): context 256, every row
                   packed from fresh stories by ``nbutils.data.StoryStream`` (stories generated and tokenized
                   while training);
- ``world-ids``    the same model and shape, but batches of random windows cut from a tensor of token ids
                   (``nbutils.data.get_batch`` on the encoded corpus): what the shape costs without the stream;
- ``course``       the old course model's recipe (``python -m nbutils.recipes.pretrain``): context 128, random
                   windows of the encoded corpus, the plain reference.

The three take turns in chunks of steps (the order rotates), so background load hits them alike. Reported:
median milliseconds per step over the chunks, tokens per second (32 x context per step), the ratio of each to
``course``, and how much of a ``world`` step goes to making its batch (``StoryStream.sample`` timed alone).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nbutils.data import StoryStream, encode_corpus  # noqa: E402
from nbutils.model import GPT, GPTConfig  # noqa: E402
from nbutils.pretrain import course_tokenizer  # noqa: E402
from nbutils.train import TrainConfig, Trainer  # noqa: E402
from nbutils.world import default_corpus  # noqa: E402

SETTINGS = {"world": (256, "stream"), "world-ids": (256, "ids"), "course": (128, "ids")}


def make_trainer(context: int, source: str, train_ids: torch.Tensor, tokenizer, steps: int, batch: int) -> Trainer:
    """A Trainer of the course's 4 x 128 GPT at ``context``, on ``StoryStream`` ("stream") or ``train_ids``."""
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, context_length=context, n_layer=4, n_head=4, n_embd=128))
    config = TrainConfig(steps=steps, batch_size=batch, lr=2e-3, min_lr=2e-4, warmup_steps=10, weight_decay=0.1,
                         grad_clip=1.0, eval_every=10 ** 9, eval_batches=1, log_every=1, seed=0, device="cpu")
    data = StoryStream(tokenizer, seed=1000) if source == "stream" else train_ids
    return Trainer(model, data, None, config)


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=40, help="timed steps of each setting (default 40)")
    p.add_argument("--chunk", type=int, default=5, help="steps per timed chunk (default 5)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps of each setting first (default 3)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's choice)")
    a = p.parse_args(argv)
    if a.steps < a.chunk or a.chunk < 1:
        p.error("--steps must be at least --chunk, and --chunk at least 1")
    if a.threads:
        torch.set_num_threads(a.threads)
    tokenizer = course_tokenizer()
    train_ids = encode_corpus(default_corpus(0).train_text, tokenizer)
    total = a.warmup + a.steps
    trainers = {name: make_trainer(ctx, src, train_ids, tokenizer, total, a.batch)
                for name, (ctx, src) in SETTINGS.items()}
    print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(default)')}; load average before: {load_average()}")
    for trainer in trainers.values():  # warm-up: first steps allocate memory, build caches
        trainer.train(until=a.warmup, progress=None)
    chunk_ms: dict[str, list[float]] = {name: [] for name in trainers}
    names = list(trainers)
    for k in range(a.steps // a.chunk):
        order = names[k % len(names):] + names[:k % len(names)]
        for name in order:
            trainer = trainers[name]
            start = time.perf_counter()
            trainer.train(until=trainer.step + a.chunk, progress=None)
            chunk_ms[name].append((time.perf_counter() - start) * 1000 / a.chunk)
    # the cost of the stream's batches alone (stories generated, tokenized and packed)
    stream = StoryStream(tokenizer, seed=2000)
    stream.sample(a.batch, 256)
    start = time.perf_counter()
    for _ in range(10):
        stream.sample(a.batch, 256)
    stream_ms = (time.perf_counter() - start) * 100
    ids_ms_start = time.perf_counter()
    from nbutils.data import get_batch
    g = torch.Generator().manual_seed(0)
    for _ in range(10):
        get_batch(train_ids, a.batch, 256, generator=g)
    ids_ms = (time.perf_counter() - ids_ms_start) * 100

    base = None
    print(f"\n{a.steps} timed steps each, chunks of {a.chunk}, batch {a.batch}; load average after: {load_average()}")
    print(f"{'setting':<11}{'context':>8}{'batches':>9}{'ms/step':>10}{'tokens/s':>10}{'vs course':>11}"
          f"{'final loss':>12}")
    rates = {}
    for name, (ctx, src) in SETTINGS.items():
        ms = statistics.median(chunk_ms[name])
        rates[name] = a.batch * ctx / (ms / 1000)
    base = rates["course"]
    for name, (ctx, src) in SETTINGS.items():
        ms = statistics.median(chunk_ms[name])
        loss = trainers[name].history.train_loss[-1]
        print(f"{name:<11}{ctx:>8}{'stream' if src == 'stream' else 'ids':>9}{ms:>10.1f}{rates[name]:>10,.0f}"
              f"{rates[name] / base:>10.2f}x{loss:>12.3f}")
    print(f"batch making alone, 32 x 257 tokens: StoryStream.sample {stream_ms:.1f} ms, get_batch {ids_ms:.2f} ms "
          f"({stream_ms / statistics.median(chunk_ms['world']):.1%} of a world step)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
