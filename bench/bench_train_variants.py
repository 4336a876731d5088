"""Ideas for a faster training step, each measured against the course's step in one process.

    python bench/bench_train_variants.py                         # every variant, 20 rounds of 10 steps
    python bench/bench_train_variants.py --variants nbutils,compile --rounds 30

The model is bench_train.py's configuration (n_layer 4, n_head 4, n_embd 128, context 64, batch 12,
53 token ids, random tokens: only the speed matters here). Each variant builds the same model from the
same seed and runs the same step (batch, forward, backward, clip 1.0, fused AdamW); the variants take
turns in rounds of ``--steps`` steps (the order alternates), and the median round gives milliseconds per
step. The first variant is the baseline of the "speed" column.

    nbutils     the course's GPT and step, unchanged
    sdpa-mask   attention through scaled_dot_product_attention with a stored boolean mask, not is_causal
    sdpa-math   torch's plain "math" attention backend instead of the fused CPU kernel
    hand        attention written out: one baddbmm with a stored -inf mask, softmax, bmm
    flat        every parameter and gradient a view into one flat tensor per weight-decay group, so that
                clipping and AdamW handle 2 tensors instead of 50
    compile     torch.compile of the model (the compile time is spent in the warm-up, not counted)
    autocast    torch.autocast to bfloat16 on the CPU
    matmul-bf16 torch.set_float32_matmul_precision("medium"): float32 matrix products computed with
                bfloat16 inputs where the CPU has the instructions for it (AMX / AVX512-BF16)
"""

from __future__ import annotations

import argparse
import contextlib
import math
import statistics
import sys
import time
import types
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nbutils.model import GPT, GPTConfig  # noqa: E402

CONFIG = GPTConfig(vocab_size=53, context_length=64, n_layer=4, n_head=4, n_embd=128, dropout=0.0, bias=True)
BATCH = 12


# ---------------------------------------------------------------------------------------- attention variants
def _heads(attn: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    B, T, C = x.shape
    q, k, v = attn.c_attn(x).split(C, dim=2)
    return tuple(t.view(B, T, attn.n_head, C // attn.n_head).transpose(1, 2) for t in (q, k, v))


def _merge(attn: nn.Module, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return attn.c_proj(y.transpose(1, 2).reshape(x.shape))


def attention_sdpa_mask(self, x):
    q, k, v = _heads(self, x)
    T = x.shape[1]
    mask = torch.ones(T, T, dtype=torch.bool).tril()  # built once per call: 4 KB
    return _merge(self, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), x)


def attention_sdpa_math(self, x):
    q, k, v = _heads(self, x)
    with torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.MATH):
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    return _merge(self, y, x)


_MASKS: dict[int, torch.Tensor] = {}


def attention_by_hand(self, x):
    q, k, v = _heads(self, x)
    B, H, T, D = q.shape
    if T not in _MASKS:
        _MASKS[T] = torch.full((T, T), float("-inf")).triu(1)
    scores = torch.baddbmm(_MASKS[T].expand(B * H, T, T), q.reshape(B * H, T, D),
                           k.reshape(B * H, T, D).transpose(1, 2), alpha=1 / math.sqrt(D))
    y = torch.softmax(scores, dim=-1) @ v.reshape(B * H, T, D)
    return _merge(self, y.view(B, H, T, D), x)


# ---------------------------------------------------------------------------------------- one variant
class Variant:
    """A model, its optimizer and one training step, built the way ``name`` says."""

    def __init__(self, name: str, data: torch.Tensor, seed: int = 0) -> None:
        self.name, self.data = name, data
        torch.manual_seed(seed)
        self.model = GPT(CONFIG)
        attention = {"sdpa-mask": attention_sdpa_mask, "sdpa-math": attention_sdpa_math,
                     "hand": attention_by_hand}.get(name)
        if attention is not None:
            for block in self.model.blocks:
                block.attn.forward = types.MethodType(attention, block.attn)
        self.forward: Callable = torch.compile(self.model) if name == "compile" else self.model
        self.flat: list[nn.Parameter] = []
        params = list(self.model.parameters())
        groups = [[p for p in params if p.dim() >= 2], [p for p in params if p.dim() < 2]]
        if name == "flat":
            groups = [[self._flatten(group)] for group in groups]
            self.flat = [group[0] for group in groups]
        self.optimizer = torch.optim.AdamW([{"params": groups[0], "weight_decay": 0.1},
                                            {"params": groups[1], "weight_decay": 0.0}],
                                           lr=1e-3, betas=(0.9, 0.99), fused=True)
        self.generator = torch.Generator().manual_seed(seed + 1)

    @staticmethod
    def _flatten(group: list[nn.Parameter]) -> nn.Parameter:
        """One Parameter holding ``group``; each parameter (and its gradient) becomes a view into it."""
        flat = nn.Parameter(torch.cat([p.detach().reshape(-1) for p in group]))
        flat.grad = torch.zeros_like(flat)
        offset = 0
        for p in group:
            n = p.numel()
            p.data = flat.data[offset:offset + n].view_as(p)
            p.grad = flat.grad[offset:offset + n].view_as(p)  # backward adds into these views
            offset += n
        return flat

    def context(self):
        if self.name == "autocast":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def step(self) -> None:
        T = CONFIG.context_length
        starts = torch.randint(len(self.data) - T - 1, (BATCH,), generator=self.generator)
        windows = self.data[starts[:, None] + torch.arange(T + 1)]
        x, y = windows[:, :-1], windows[:, 1:]
        before = torch.get_float32_matmul_precision()
        if self.name == "matmul-bf16":
            torch.set_float32_matmul_precision("medium")
        try:
            with self.context():
                loss = self.forward(x, y)[1]
            if self.flat:
                for flat in self.flat:
                    flat.grad.zero_()
            else:
                self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
        finally:
            torch.set_float32_matmul_precision(before)
        nn.utils.clip_grad_norm_(self.flat or self.model.parameters(), 1.0, foreach=True)
        self.optimizer.step()


VARIANTS = ("nbutils", "sdpa-mask", "sdpa-math", "hand", "flat", "compile", "autocast", "matmul-bf16")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, from {', '.join(VARIANTS)}")
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--steps", type=int, default=10, help="steps per round")
    p.add_argument("--warmup", type=int, default=15, help="untimed steps of each variant first")
    a = p.parse_args(argv)
    names = a.variants.split(",")
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        p.error(f"unknown variant(s) {unknown}; choose from {VARIANTS}")

    data = torch.randint(CONFIG.vocab_size, (200_000,), generator=torch.Generator().manual_seed(0))
    variants = [Variant(name, data) for name in names]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}; {a.rounds} rounds of {a.steps} steps, alternating")
    for variant in variants:
        start = time.perf_counter()
        for _ in range(a.warmup):
            variant.step()
        print(f"  warm-up {variant.name:12s} {time.perf_counter() - start:6.1f} s", flush=True)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(a.rounds):
        for variant in (variants if r % 2 == 0 else variants[::-1]):
            start = time.perf_counter()
            for _ in range(a.steps):
                variant.step()
            times[variant.name].append(1000 * (time.perf_counter() - start) / a.steps)
    base = statistics.median(times[names[0]])
    print(f"\n  {'variant':12s} {'ms/step':>8s}  speed vs {names[0]}")
    for name in names:
        ms = statistics.median(times[name])
        print(f"  {name:12s} {ms:8.2f}  {base / ms:5.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
