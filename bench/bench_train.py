"""Training benchmark: the course's GPT and Trainer against a plain PyTorch reference of the same model.

    python bench/bench_train.py                      # the "baby GPT, characters, CPU" run: 2000 steps
    python bench/bench_train.py --steps 300          # a shorter run
    python bench/bench_train.py --text input.txt     # any UTF-8 text file instead of the toy world
    python bench/bench_train.py --profile 20         # also: where the time goes, 20 steps of each

Run it on an otherwise idle machine. OpenMP's wait policy changes both speeds and their ratio: with the
default, torch's threads spin for a moment between operations; with ``OMP_WAIT_POLICY=PASSIVE`` they go
to sleep at once, so every small operation pays for waking them up. On an idle 2-core machine PASSIVE
makes a step about 1.7x slower, and the reference (whose optimizer runs many small operations per
parameter) loses more than nbutils; on a machine that other programs keep busy PASSIVE is the faster
choice, because spinning threads then steal each other's cores.

Default configuration: n_layer 4, n_head 4, n_embd 128, context 64, batch 12, dropout 0, 2000 steps, AdamW
lr 1e-3 (cosine to 1e-4 after 100 warm-up steps, betas 0.9/0.99, weight decay 0.1 on matrices, gradient clip
1.0), one token per character. The text is the toy world's corpus cut to 1.1 MB (or the file given), 90%
for training and 10% for validation.

Both models start from the *same* weights (the reference loads the nbutils model's initial state) and read
the *same* batches (one seeded generator each). They run in one process, in alternating chunks of steps
(which one goes first alternates too), so that background load hits both alike. Every ``--eval-every``
steps both are scored on the same fixed validation batches.

Reported: median milliseconds per step (over chunks), tokens per second, the ratio nbutils / reference,
the validation losses side by side, time to a target validation loss, and an estimate of the achieved
FLOP/s next to the machine's fp32 matmul speed measured in this process:

    FLOPs per token = 6·N + 12·n_layer·T·C
        N = n_layer·12·C² (+ biases) + V·C: the weights of every matrix product (the LM head counts, the
            embedding lookups do not); forward 2·N, backward 4·N
        12·n_layer·T·C: attention scores q·k and the weighted sum of values, 2·T·C each per layer forward,
            times 3 for forward + backward (causal masking could halve this; we count the full square)
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nbutils.data import get_batch, load_text, train_val_split  # noqa: E402
from nbutils.device import pick_device  # noqa: E402
from nbutils.model import GPT, GPTConfig  # noqa: E402
from nbutils.tokenizers import CharTokenizer  # noqa: E402
from nbutils.train import TrainConfig, Trainer  # noqa: E402


# ------------------------------------------------------------------------------------------- the reference
class RefAttention(nn.Module):
    def __init__(self, c: GPTConfig) -> None:
        super().__init__()
        self.n_head = c.n_head
        self.c_attn = nn.Linear(c.n_embd, 3 * c.n_embd, bias=c.bias)
        self.c_proj = nn.Linear(c.n_embd, c.n_embd, bias=c.bias)
        self.dropout = c.dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = (t.view(B, T, self.n_head, -1).transpose(1, 2) for t in self.c_attn(x).split(C, dim=2))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                           dropout_p=self.dropout if self.training else 0.0)
        return F.dropout(self.c_proj(y.transpose(1, 2).reshape(B, T, C)), self.dropout, self.training)


class RefMLP(nn.Module):
    def __init__(self, c: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(c.n_embd, 4 * c.n_embd, bias=c.bias)
        self.c_proj = nn.Linear(4 * c.n_embd, c.n_embd, bias=c.bias)
        self.dropout = c.dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(self.c_proj(F.gelu(self.c_fc(x))), self.dropout, self.training)


class RefBlock(nn.Module):
    def __init__(self, c: GPTConfig) -> None:
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(c.n_embd, bias=c.bias), nn.LayerNorm(c.n_embd, bias=c.bias)
        self.attn, self.mlp = RefAttention(c), RefMLP(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class RefGPT(nn.Module):
    """nanoGPT-style GPT-2: pre-norm blocks, fused attention, tied embeddings. Parameter names match
    nbutils' GPT so that it can start from the same weights."""

    def __init__(self, c: GPTConfig) -> None:
        super().__init__()
        self.wte, self.wpe = nn.Embedding(c.vocab_size, c.n_embd), nn.Embedding(c.context_length, c.n_embd)
        self.blocks = nn.ModuleList(RefBlock(c) for _ in range(c.n_layer))
        self.ln_f = nn.LayerNorm(c.n_embd, bias=c.bias)
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight
        self.dropout = c.dropout

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        pos = torch.arange(idx.shape[1], device=idx.device)
        x = F.dropout(self.wte(idx) + self.wpe(pos), self.dropout, self.training)
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        loss = None if targets is None else F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))
        return logits, loss


class RefTrainer:
    """The training loop as nanoGPT writes it: AdamW (decay on matrices; fused only on CUDA, as nanoGPT
    does), warm-up + cosine schedule, clip 1.0, zero_grad(set_to_none=True), loss.item() every 10 steps."""

    def __init__(self, model: RefGPT, train_ids: torch.Tensor, a: argparse.Namespace, device: torch.device):
        self.model, self.train_ids, self.a, self.device = model.to(device), train_ids, a, device
        params = list(model.parameters())
        groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": a.weight_decay},
                  {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
        extra = {"fused": True} if device.type == "cuda" else {}
        self.optimizer = torch.optim.AdamW(groups, lr=a.lr, betas=(0.9, 0.99), **extra)
        self.generator = torch.Generator().manual_seed(a.seed)
        self.step = 0
        self.last_loss = float("nan")

    def lr(self, it: int) -> float:
        a = self.a
        if it < a.warmup:
            return a.lr * (it + 1) / a.warmup
        ratio = min(1.0, (it - a.warmup) / max(1, a.steps - a.warmup))
        return a.min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (a.lr - a.min_lr)

    def train(self, until: int) -> None:
        self.model.train()
        while self.step < until:
            for group in self.optimizer.param_groups:
                group["lr"] = self.lr(self.step)
            x, y = get_batch(self.train_ids, self.a.batch, self.a.context, generator=self.generator,
                             device=self.device)
            _, loss = self.model(x, y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            self.step += 1
            if self.step % 10 == 0:
                self.last_loss = loss.item()

    @torch.no_grad()
    def evaluate(self, batches) -> float:
        self.model.eval()
        loss = torch.stack([self.model(x, y)[1] for x, y in batches]).mean().item()
        self.model.train()
        return loss


# ------------------------------------------------------------------------------------------- helpers
def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def matmul_peak(device: torch.device, sizes=(512, 1024, 2048), repeats: int = 20) -> tuple[float, int]:
    """The best fp32 GFLOP/s of one square torch.matmul, over a few sizes; returns (GFLOP/s, size)."""
    best = (0.0, 0)
    for n in sizes:
        a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
        torch.matmul(a, b)
        synchronize(device)
        for _ in range(repeats):
            start = time.perf_counter()
            torch.matmul(a, b)
            synchronize(device)
            rate = 2 * n ** 3 / (time.perf_counter() - start) / 1e9
            best = max(best, (rate, n))
    return best


def matmul_shapes(c: GPTConfig, tokens: int) -> list[tuple[int, int, int, int]]:
    """The matrix products of one training step as (M, K, N, how many): every Linear layer's forward
    x @ W.T, its input gradient g @ W and its weight gradient g.T @ x (attention's own products left out)."""
    C, V = c.n_embd, c.vocab_size
    layers = [(C, 3 * C), (C, C), (C, 4 * C), (4 * C, C)]  # c_attn, attention c_proj, c_fc, MLP c_proj
    shapes = []
    for k, n in layers:
        shapes += [(tokens, k, n, c.n_layer), (tokens, n, k, c.n_layer), (n, tokens, k, c.n_layer)]
    return shapes + [(tokens, C, V, 1), (tokens, V, C, 1), (V, tokens, C, 1)]  # the LM head


def matmuls_alone(device: torch.device, shapes: list[tuple[int, int, int, int]], repeats: int = 30) -> tuple[float, float]:
    """Milliseconds and GFLOP/s of the step's matrix products run alone, one after the other, with warm
    caches: what the matmuls of a step could cost at best on this machine at the model's own sizes."""
    operands = [(torch.randn(m, k, device=device), torch.randn(k, n, device=device), count)
                for m, k, n, count in shapes]
    flops = sum(2 * a.shape[0] * a.shape[1] * b.shape[1] * count for a, b, count in operands)
    best = float("inf")
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        for a, b, count in operands:
            for _ in range(count):
                torch.matmul(a, b)
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return 1000 * best, flops / best / 1e9


def phases(model: nn.Module, optimizer: torch.optim.Optimizer, train_ids: torch.Tensor, a: argparse.Namespace,
           device: torch.device, steps: int, fused_clip: bool) -> dict[str, float]:
    """Milliseconds per step of each phase of a training step (batch, forward, backward, clip, optimizer),
    timed with the clock around each phase (torch's profiler slows small operations down unevenly)."""
    generator = torch.Generator().manual_seed(a.seed + 2)
    spent = dict.fromkeys(("batch", "forward", "backward", "clip", "optimizer"), 0.0)
    model.train()
    for _ in range(steps):
        marks = [time.perf_counter()]
        x, y = get_batch(train_ids, a.batch, a.context, generator=generator, device=device)
        marks.append(time.perf_counter())
        loss = model(x, y)[1]
        synchronize(device)
        marks.append(time.perf_counter())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        synchronize(device)
        marks.append(time.perf_counter())
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0, foreach=True if fused_clip else None)
        synchronize(device)
        marks.append(time.perf_counter())
        optimizer.step()
        synchronize(device)
        marks.append(time.perf_counter())
        for name, begin, end in zip(spent, marks, marks[1:]):
            spent[name] += 1000 * (end - begin) / steps
    return spent


def load_average() -> str:
    """The machine's 1-minute load average next to its CPU count (other programs slow both models alike)."""
    try:
        return f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    except (AttributeError, OSError):
        return "load average unknown"


def flops_per_token(c: GPTConfig) -> tuple[float, int]:
    """6·N + 12·n_layer·T·C, with N the weights used in matrix products (see the module docstring)."""
    C, L = c.n_embd, c.n_layer
    per_layer = 3 * C * C + C * C + 4 * C * C + 4 * C * C  # c_attn, attention c_proj, c_fc, mlp c_proj
    if c.bias:
        per_layer += 3 * C + C + 4 * C + C
    n_matmul = L * per_layer + c.vocab_size * C
    return 6 * n_matmul + 12 * L * c.context_length * C, n_matmul


def corpus_text(a: argparse.Namespace) -> tuple[str, str]:
    if a.text:
        text = load_text(a.text)
        return text[: a.bytes] if a.bytes else text, f"{a.text}"
    from nbutils.world import default_corpus

    text = default_corpus(0).text_of("all")
    return text[: a.bytes], "the toy world's corpus (nbutils.world, seed 0)"


def profile(trainer: Trainer, ref: RefTrainer, steps: int, a: argparse.Namespace, device: torch.device,
            config: GPTConfig) -> None:
    """Where the time of a step goes: phases timed with the clock, the matmuls alone, then torch's profiler."""
    from torch.profiler import ProfilerActivity, profile as torch_profile

    print(f"\n--- where the time goes: {steps} steps of each, phases timed separately (ms per step) ---")
    rows = {}
    for name, model, optimizer, fused in (("nbutils", trainer.model, trainer.optimizer, True),
                                          ("reference", ref.model, ref.optimizer, False)):
        phases(model, optimizer, trainer.train_data, a, device, 5, fused)  # warm-up
        rows[name] = phases(model, optimizer, trainer.train_data, a, device, steps, fused)
    print(f"  {'phase':10s} {'nbutils':>9s} {'reference':>10s}")
    for phase in rows["nbutils"]:
        print(f"  {phase:10s} {rows['nbutils'][phase]:9.2f} {rows['reference'][phase]:10.2f}")
    print(f"  {'total':10s} {sum(rows['nbutils'].values()):9.2f} {sum(rows['reference'].values()):10.2f}")
    alone_ms, alone_rate = matmuls_alone(device, matmul_shapes(config, a.batch * a.context))
    print(f"  the step's {4 * config.n_layer + 1} Linear layers' matmuls (forward, input and weight "
          f"gradients) run alone with warm caches: {alone_ms:.2f} ms per step ({alone_rate:.0f} GFLOP/s)")
    for name, model_run in (("nbutils", lambda: trainer.train(until=trainer.step + steps, progress="off")),
                            ("reference", lambda: ref.train(ref.step + steps))):
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            model_run()
        print(f"\n--- torch profiler: {name}, {steps} steps (the profiler's own overhead inflates small operations) ---")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=14, max_name_column_width=48))


# ------------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--text", help="a UTF-8 text file (default: the toy world's corpus)")
    p.add_argument("--bytes", type=int, default=1_100_000, help="cut the text to this many characters (0: all)")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--n-layer", type=int, default=4)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--n-embd", type=int, default=128)
    p.add_argument("--context", type=int, default=64)
    p.add_argument("--batch", type=int, default=12)
    p.add_argument("--no-bias", action="store_true", help="Linear and LayerNorm without biases")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--min-lr", type=float, default=1e-4)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--eval-batches", type=int, default=50)
    p.add_argument("--chunk", type=int, default=25, help="steps per timed chunk (the two models alternate)")
    p.add_argument("--target-loss", type=float, help="default: the reference's final val loss + 0.02")
    p.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's choice)")
    p.add_argument("--device", default="auto")
    p.add_argument("--peak-sizes", default="512,1024,2048", help="square matmul sizes for the fp32 peak")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--profile", type=int, default=0, metavar="STEPS", help="profile this many steps of each")
    a = p.parse_args(argv)

    if a.threads:
        torch.set_num_threads(a.threads)
    device = pick_device(None if a.device == "auto" else a.device)
    text, source = corpus_text(a)
    tokenizer = CharTokenizer.train(text)
    ids = torch.tensor(tokenizer.encode(text), dtype=torch.long)
    train_ids, val_ids = train_val_split(ids, 0.9)
    config = GPTConfig(vocab_size=tokenizer.vocab_size, context_length=a.context, n_layer=a.n_layer,
                       n_head=a.n_head, n_embd=a.n_embd, dropout=0.0, bias=not a.no_bias)

    peak_sizes = tuple(int(n) for n in a.peak_sizes.split(","))
    peak, peak_n = matmul_peak(device, peak_sizes)
    per_token, n_matmul = flops_per_token(config)
    tokens_per_step = a.batch * a.context
    print(f"device {device}, {torch.get_num_threads()} threads, torch {torch.__version__}; {load_average()}")
    print(f"text: {source}, {len(text):,} characters, vocabulary {tokenizer.vocab_size}; "
          f"{len(train_ids):,} train / {len(val_ids):,} val tokens")
    print(f"model: n_layer {a.n_layer}, n_head {a.n_head}, n_embd {a.n_embd}, context {a.context}, "
          f"bias {config.bias}; batch {a.batch} ({tokens_per_step} tokens/step), {a.steps} steps, lr {a.lr}")
    print(f"fp32 matmul peak (best square torch.matmul, {peak_n}x{peak_n}): {peak:.1f} GFLOP/s "
          f"(measured again after training; the larger is used)")
    print(f"FLOPs/token = 6·N + 12·n_layer·T·C = 6·{n_matmul:,} + 12·{a.n_layer}·{a.context}·{a.n_embd} "
          f"= {per_token / 1e6:.2f} MFLOP")

    torch.manual_seed(a.seed)
    model = GPT(config)
    reference = RefGPT(config)
    reference.load_state_dict(model.state_dict())  # the same initial weights
    trainer = Trainer(model, train_ids, None, TrainConfig(
        steps=a.steps, batch_size=a.batch, lr=a.lr, min_lr=a.min_lr, warmup_steps=a.warmup,
        weight_decay=a.weight_decay, grad_clip=1.0, beta1=0.9, beta2=0.99, seed=a.seed,
        device=str(device)))
    ref = RefTrainer(reference, train_ids, a, device)
    eval_generator = torch.Generator().manual_seed(a.seed + 1)
    eval_batches = [get_batch(val_ids, a.batch, a.context, generator=eval_generator, device=device)
                    for _ in range(a.eval_batches)]

    runners = {"nbutils": lambda until: trainer.train(until=until, progress="off"), "reference": ref.train}
    chunk_ms: dict[str, list[float]] = {name: [] for name in runners}
    train_seconds = {name: 0.0 for name in runners}
    evals: list[tuple[int, float, float, float, float]] = []  # step, nb loss, ref loss, nb seconds, ref seconds

    def evaluate(step: int) -> None:
        nb_loss, ref_loss = trainer.evaluate(eval_batches), ref.evaluate(eval_batches)
        evals.append((step, nb_loss, ref_loss, train_seconds["nbutils"], train_seconds["reference"]))
        print(f"  step {step:5d}  val loss nbutils {nb_loss:.4f}  reference {ref_loss:.4f}  "
              f"diff {nb_loss - ref_loss:+.4f}  {'ok' if abs(nb_loss - ref_loss) <= 0.03 else 'DIFFERENT'}",
              flush=True)

    print("\ntraining (alternating chunks of", a.chunk, "steps):")
    evaluate(0)
    done = 0
    while done < a.steps:
        next_eval = (done // a.eval_every + 1) * a.eval_every
        until = min(a.steps, done + a.chunk, next_eval)
        order = list(runners) if (done // a.chunk) % 2 == 0 else list(runners)[::-1]
        for name in order:
            synchronize(device)
            start = time.perf_counter()
            runners[name](until)
            synchronize(device)
            seconds = time.perf_counter() - start
            train_seconds[name] += seconds
            chunk_ms[name].append(1000 * seconds / (until - done))
        done = until
        if done % a.eval_every == 0 or done == a.steps:
            evaluate(done)

    peak = max(peak, matmul_peak(device, peak_sizes)[0])
    print(f"\nat the end: {load_average()}")
    nb_ms, ref_ms = statistics.median(chunk_ms["nbutils"]), statistics.median(chunk_ms["reference"])
    print("\nresults")
    for name, ms in (("nbutils", nb_ms), ("reference", ref_ms)):
        tokens_s = tokens_per_step / ms * 1000
        achieved = per_token * tokens_s / 1e9
        mean_ms = 1000 * train_seconds[name] / a.steps
        print(f"  {name:9s}  median {ms:6.2f} ms/step (mean {mean_ms:6.2f})  {tokens_s:9,.0f} tokens/s  "
              f"~{achieved:6.1f} GFLOP/s = {100 * achieved / peak:4.1f}% of the matmul peak")
    print(f"  speed ratio nbutils / reference (tokens per second): {ref_ms / nb_ms:.3f}")
    final = evals[-1]
    print(f"  final val loss after {final[0]} steps: nbutils {final[1]:.4f}, reference {final[2]:.4f} "
          f"(diff {final[1] - final[2]:+.4f})")
    worst = max(abs(e[1] - e[2]) for e in evals)
    print(f"  largest val-loss difference at equal steps: {worst:.4f} "
          f"({'within' if worst <= 0.03 else 'OUTSIDE'} ±0.03)")
    target = a.target_loss if a.target_loss is not None else final[2] + 0.02
    for index, name in ((1, "nbutils"), (2, "reference")):
        hit = next((e for e in evals if e[index] <= target), None)
        if hit is None:
            print(f"  time to val loss <= {target:.3f}: {name} did not reach it")
        else:
            print(f"  time to val loss <= {target:.3f}: {name} {hit[index + 2]:.1f} s of training (step {hit[0]})")
    if a.profile:
        profile(trainer, ref, a.profile, a, device, config)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
