"""A scaling sweep on a CPU: models of four sizes trained on up to four token budgets, scored against the truth.

    python -m nbutils.recipes.scaling                      # writes nbutils/assets/scaling/sweep.json (1 thread, ~1 hour)
    python -m nbutils.recipes.scaling --quick --out DIR    # two tiny runs, to check that everything works
    python -m nbutils.recipes.scaling --bench              # this CPU's matmul peak and training speed: bench.json
    python -m nbutils.recipes.scaling --fit                # fit the law to the stored runs (with bootstrap intervals)

Every run of the ladder (``LADDER``: ``SIZES`` x ``BUDGETS``, the largest size on fewer budgets) is the course recipe (``nbutils.recipes.world_model``) made small:

1. data: the fresh-story stream (``nbutils.data.StoryStream``, seed 1000, ``buffer=1``: rows start at a story's
   beginning, the story that does not fit is cut), the same stream for every run, so a smaller budget reads a
   prefix of the stories a larger one reads;
2. the course tokenizer and ``GPTConfig(vocab_size=1024, context_length=256, ...)`` with the run's depth, width
   and heads; the model's initial weights are seeded the same way for every budget of one size;
3. the one training loop (``nbutils.train.Trainer``): AdamW, warm-up, **a cosine schedule over the run's own
   budget**, batches of 8 rows of 256 tokens (2,048 tokens per step). Each budget is a separate run: a
   shorter run's schedule has decayed to its minimum by its end, as a compute-optimal run's would. (Taking the
   smaller budgets as checkpoints of the longest run would be cheaper, but their learning rate would still be
   high there, and the law would be fitted to half-finished runs.)
4. scoring: ``nbutils.evaluate.evaluate_world`` on the first ``EVAL_STORIES`` held-out stories of
   ``nbutils.recipes.world_model.eval_stories()`` (none of them is in the stream): loss per token read from each
   story's start, against the exact entropy floor of the same stories; greedy answers to "Where is X?".

``N`` is the number of **non-embedding** parameters (the blocks: attention and MLP matrices, biases,
LayerNorms; Kaplan et al. 2020 count the same), ``n_params_total`` adds the token and position embeddings
(the output head is tied to the token embedding). ``D`` is the number of training tokens. The record is written
after every run (atomically), so a crash loses nothing; a run already in the record is skipped when the
command is run again.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Sequence

import torch

from nbutils.recipes.report import Progress, versions, write_json

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "assets" / "scaling" / "sweep.json"
#: (layers, heads, width) of the ladder: about 25k, 100k, 336k and 793k non-embedding parameters.
SIZES = ((2, 2, 32), (2, 2, 64), (3, 3, 96), (4, 4, 128))
#: Training tokens of each run.
BUDGETS = (250_000, 500_000, 1_000_000, 2_000_000)
#: The runs, cheapest first, so that a sweep cut short still holds a grid: every size on the smaller budgets;
#: the largest size (the slowest by far on a CPU) only on 250k and 500k tokens, then on 1M at the very end.
LADDER = tuple([(*size, budget) for budget in BUDGETS for size in SIZES if size != SIZES[-1] or budget <= 500_000]
               + [(*SIZES[-1], 1_000_000)])
BATCH, CONTEXT, LR = 8, 256, 2e-3
EVAL_STORIES = 200
STREAM_SEED = 1000


def floor_per_token(stories, tokenizer) -> tuple[float, int]:
    """The exact entropy floor of ``stories`` per token, counted over the tokens ``evaluate_world`` scores."""
    from nbutils.evaluate import encode_story

    encoded = [encode_story(s, tokenizer) for s in stories]
    tokens = sum(len(e.ids) - e.first for e in encoded)
    return sum(s.nll for s in stories) / tokens, tokens


def non_embedding_params(model: torch.nn.Module) -> int:
    """Parameters of the blocks and the final LayerNorm: everything but the token and position embeddings."""
    return sum(p.numel() for name, p in model.named_parameters() if not name.startswith(("wte", "wpe")))


def run_one(layers: int, heads: int, width: int, tokens: int, tokenizer, stories, floor: float,
            threads: int = 1, save: Path | None = None) -> dict:
    """Train one model of the ladder on ``tokens`` fresh tokens and score it; returns its record entry."""
    from nbutils.checkpoint import save_checkpoint
    from nbutils.data import StoryStream
    from nbutils.evaluate import evaluate_world
    from nbutils.model import GPT, GPTConfig
    from nbutils.train import Trainer, TrainConfig

    torch.set_num_threads(threads)
    steps = max(1, round(tokens / (BATCH * CONTEXT)))
    config = GPTConfig(vocab_size=tokenizer.vocab_size, context_length=CONTEXT, n_layer=layers, n_head=heads,
                       n_embd=width, dropout=0.0)
    train_config = TrainConfig(steps=steps, batch_size=BATCH, lr=LR, min_lr=LR / 10,
                               warmup_steps=min(100, steps // 10), weight_decay=0.1, grad_clip=1.0,
                               eval_every=10 ** 9, eval_batches=1, log_every=50, seed=0, device="cpu")
    torch.manual_seed(0)
    model = GPT(config)
    stream = StoryStream(tokenizer, seed=STREAM_SEED, buffer=1)
    trainer = Trainer(model, stream, None, train_config)
    started = time.perf_counter()
    trainer.train(progress=None)
    train_s = time.perf_counter() - started
    started = time.perf_counter()
    report = evaluate_world(trainer.model, tokenizer, stories)
    eval_s = time.perf_counter() - started
    if save is not None:
        save_checkpoint(save, trainer.model, tokenizer=tokenizer)
    recent = trainer.history.train_loss[-20:]
    return {"name": f"L{layers}_d{width}_D{tokens // 1000}k", "n_layer": layers, "n_head": heads, "n_embd": width,
            "N": non_embedding_params(trainer.model), "n_params_total": sum(p.numel() for p in trainer.model.parameters()),
            "tokens": trainer.history.tokens_seen[-1], "steps": steps, "train_s": round(train_s, 1),
            "tokens_per_s": round(trainer.history.tokens_seen[-1] / train_s), "eval_s": round(eval_s, 1),
            "threads": threads, "train_loss_last20": sum(recent) / len(recent),
            "val_loss": report.loss_per_token, "gap": report.loss_per_token - floor,
            "answerable": [report.answerable_right, report.answerable],
            "unanswerable": [report.unanswerable_right, report.unanswerable],
            "by_answer": report.by_answer, "stories_read": stream.stories_used}


def _quantiles(values, low: float = 2.5, high: float = 97.5) -> list[float]:
    import numpy as np

    return [float(np.percentile(values, low)), float(np.percentile(values, high))]


def fit_record(record: dict, samples: int = 200, seed: int = 0) -> dict:
    """The law fitted to the sweep's runs, twice (E free; E fixed to the floor), with bootstrap intervals (runs
    resampled with replacement, ``samples`` times) for the exponents, E, and the compute-optimal tokens per
    parameter at the sweep's largest compute."""
    from nbutils.scaling import bootstrap_fits, compute_optimal, fit_law

    runs = record["runs"]
    N, D, L = [r["N"] for r in runs], [r["tokens"] for r in runs], [r["val_loss"] for r in runs]
    C = max(6 * n * d for n, d in zip(N, D))
    floor = record["floor_per_token"]
    result = {"runs": len(runs), "C_max": C, "bootstrap_samples": samples, "seed": seed}
    for name, E in (("free", None), ("fixed", floor)):
        law = fit_law(N, D, L, E=E)
        n_opt, d_opt = compute_optimal(law, C)
        laws = bootstrap_fits(N, D, L, E=E, samples=samples, seed=seed)
        ratios = [compute_optimal(f, C)[1] / compute_optimal(f, C)[0] for f in laws]
        result[name] = {"law": law.to_dict(), "tokens_per_param_at_C_max": d_opt / n_opt,
                        "N_opt_at_C_max": n_opt, "fits": len(laws),
                        "interval_95": {"E": _quantiles([f.E for f in laws]), "alpha": _quantiles([f.alpha for f in laws]),
                                        "beta": _quantiles([f.beta for f in laws]), "tokens_per_param": _quantiles(ratios)},
                        "bootstrap": [[f.E, f.alpha, f.beta, r] for f, r in zip(laws, ratios)]}
    return result


def bench(steps: int = 12, threads: int = 1) -> dict:
    """This CPU's speed: the best float32 matrix product (its "peak"), and the course model's training speed
    (the fastest of ``steps`` single steps of the one loop, batches of ``BATCH`` rows of ``CONTEXT`` tokens) as
    tokens/s and as a share of that peak (like an MFU). The fastest of many repeats is the machine's speed when
    the other jobs sharing it let it run; the slower ones measured them."""
    from nbutils.data import StoryStream
    from nbutils.model import GPT, GPTConfig
    from nbutils.pretrain import course_tokenizer
    from nbutils.scaling import matmul_flops_per_s, training_flops_per_token
    from nbutils.train import Trainer, TrainConfig

    torch.set_num_threads(threads)
    peaks = {str(n): matmul_flops_per_s(n, repeats=20) for n in (256, 512, 1024)}
    tokenizer = course_tokenizer()
    config = GPTConfig(vocab_size=tokenizer.vocab_size, context_length=CONTEXT, n_layer=4, n_head=4, n_embd=128)
    trainer = Trainer(GPT(config), StoryStream(tokenizer, seed=STREAM_SEED, buffer=1), None,
                      TrainConfig(steps=10 ** 6, batch_size=BATCH, eval_every=10 ** 9, eval_batches=1, log_every=1,
                                  device="cpu"))
    trainer.train(until=2)
    times = []
    for step in range(3, 3 + steps):
        started = time.perf_counter()
        trainer.train(until=step)
        times.append(time.perf_counter() - started)
    tokens_per_s = BATCH * CONTEXT / min(times)
    flops_per_s = tokens_per_s * training_flops_per_token(config)
    peak = max(peaks.values())
    return {"threads": threads, "matmul_flops_per_s": peaks, "peak_flops_per_s": peak,
            "course_model": {"config": "4 layers x 4 heads x width 128, context 256", "batch_rows": BATCH,
                             "step_s": sorted(round(t, 4) for t in times), "tokens_per_s": round(tokens_per_s),
                             "training_flops_per_token": training_flops_per_token(config),
                             "flops_per_s": flops_per_s, "share_of_peak": flops_per_s / peak},
            "versions": versions()}


def main(argv: Sequence[str] | None = None) -> int:
    import json

    from nbutils.pretrain import course_tokenizer
    from nbutils.recipes.world_model import eval_stories

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--save", type=Path, default=None, help="also keep every run's model in SAVE/<name>")
    parser.add_argument("--quick", action="store_true", help="two tiny runs on 20 stories")
    parser.add_argument("--bench", action="store_true", help="train nothing: measure this CPU's matmul peak and the "
                        "course model's training speed into bench.json beside --out")
    parser.add_argument("--fit", action="store_true", help="train nothing: fit the law to the runs in --out "
                        "(E free, E fixed to the floor; bootstrap intervals) and store it there")
    args = parser.parse_args(argv)
    if args.fit:
        record = json.loads(args.out.read_text())
        record["fit"] = fit_record(record)
        write_json(args.out, record)
        for name in ("free", "fixed"):
            print(name, json.dumps({k: v for k, v in record["fit"][name].items() if k != "bootstrap"}))
        return 0
    if args.bench:
        result = bench(threads=args.threads)
        write_json(args.out.parent / "bench.json", result)
        print(json.dumps({k: v for k, v in result.items() if k != "versions"}, indent=1))
        return 0
    say = Progress()
    tokenizer = course_tokenizer()
    stories = eval_stories()[:20 if args.quick else EVAL_STORIES]
    floor, floor_tokens = floor_per_token(stories, tokenizer)
    ladder = ([(1, 1, 16, 8 * BATCH * CONTEXT), (1, 1, 32, 8 * BATCH * CONTEXT)] if args.quick else
              LADDER)
    out = args.out
    record = json.loads(out.read_text()) if out.exists() else {}
    if record.get("floor_per_token") != floor:
        record = {}
    record.update({"recipe": "python -m nbutils.recipes.scaling" + (" --quick" if args.quick else ""),
                   "versions": versions(), "batch_rows": BATCH, "context_length": CONTEXT, "lr": LR,
                   "min_lr": LR / 10, "schedule": "warm-up min(100, steps/10), cosine to min_lr over each run's own steps",
                   "stream_seed": STREAM_SEED, "eval_stories": len(stories), "floor_per_token": floor,
                   "floor_tokens": floor_tokens, "N_counts": "non-embedding parameters (all but wte, wpe)"})
    record.setdefault("runs", [])
    done = {run["name"] for run in record["runs"]}
    say(f"{len(stories)} evaluation stories, floor {floor:.4f} nats/token; {len(ladder)} runs, {len(done)} done")
    for layers, heads, width, tokens in ladder:
        name = f"L{layers}_d{width}_D{tokens // 1000}k"
        if name in done:
            continue
        save = args.save / name if args.save else None
        run = run_one(layers, heads, width, tokens, tokenizer, stories, floor, args.threads, save)
        record["runs"].append(run)
        record["total_train_s"] = round(sum(r["train_s"] + r["eval_s"] for r in record["runs"]), 1)
        out.parent.mkdir(parents=True, exist_ok=True)
        write_json(out, record)
        right, total = run["answerable"]
        say(f"{name}: N {run['N']:,}  D {run['tokens']:,}  val {run['val_loss']:.4f} (gap {run['gap']:.3f})  "
            f"answers {right}/{total}  {run['tokens_per_s']:,} tok/s  train {run['train_s']:.0f} s")
    say(f"done: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
