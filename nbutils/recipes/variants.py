"""Train the course GPT and its modern variants briefly on the same stories, and record their losses (notebook 12).

    python -m nbutils.recipes.variants                  # writes nbutils/assets/variants.json (about 20 minutes)
    python -m nbutils.recipes.variants --quick --out F  # a few steps, to check that everything works

The recipe, the same for every variant so that only the architecture differs:

1. the variants: ``baseline`` (GPT-2's choices: LayerNorm, learned positions, GELU), ``+rmsnorm``, ``+rope``,
   ``+swiglu`` (one change each) and ``all three``, all of them the options of ``nbutils.model.GPTConfig``;
2. a small GPT (2 layers, 4 heads, width 64, context 128) and the course tokenizer;
3. data: fresh stories (``nbutils.data.StoryStream``, seed ``2000 + seed``, rows in order): for one seed every
   variant reads the very same rows in the same order, and the seed also sets the initial weights;
4. the course's ``Trainer``: AdamW (decay 0.1 on matrices), 40 warm-up steps, cosine from 2e-3 to 2e-4, clipping at
   1.0, 16 rows of 128 tokens per step, 400 steps (0.8M tokens);
5. every 50 steps the validation loss on 32 fixed rows of other fresh stories (seed 999, the same rows for all).

Two seeds per variant: a difference smaller than the spread between seeds is noise, not a result. The results
file is written after every run, so an interrupted recipe keeps what it finished.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import torch

from nbutils.recipes.report import Progress, versions, write_json

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "assets" / "variants.json"

#: name -> the GPTConfig options of that variant.
VARIANTS: dict[str, dict[str, str]] = {
    "baseline": {},
    "+rmsnorm": {"norm": "rmsnorm"},
    "+rope": {"position": "rope"},
    "+swiglu": {"mlp": "swiglu"},
    "all three": {"norm": "rmsnorm", "position": "rope", "mlp": "swiglu"},
}
SHAPE = {"vocab_size": 1024, "context_length": 128, "n_layer": 2, "n_head": 4, "n_embd": 64}
SEEDS = (0, 1)
VAL_SEED, VAL_ROWS = 999, 32


def validation_rows(tokenizer, rows: int = VAL_ROWS, context: int = SHAPE["context_length"]):
    """The fixed validation batch: ``rows`` rows of fresh stories that no training stream draws."""
    from nbutils.data import StoryStream

    return StoryStream(tokenizer, seed=VAL_SEED, buffer=1).sample(rows, context)


def train_variant(name: str, seed: int, tokenizer, val_batch, steps: int, batch_size: int, eval_every: int,
                  shape: dict | None = None) -> dict:
    """Train one variant from scratch; returns its config, parameter count, loss curve and final loss."""
    from nbutils.data import StoryStream
    from nbutils.model import GPT, GPTConfig
    from nbutils.train import Trainer, TrainConfig

    config = GPTConfig(**(shape or SHAPE), **VARIANTS[name])
    torch.manual_seed(seed)
    model = GPT(config)
    x_val, y_val = val_batch

    @torch.no_grad()
    def val_loss(m) -> float:
        return m(x_val.to(next(m.parameters()).device), y_val.to(next(m.parameters()).device))[1].item()

    train_config = TrainConfig(steps=steps, batch_size=batch_size, lr=2e-3, min_lr=2e-4,
                               warmup_steps=max(1, steps // 10), weight_decay=0.1, grad_clip=1.0,
                               eval_every=eval_every, eval_batches=1, log_every=10, seed=seed, device="cpu")
    trainer = Trainer(model, StoryStream(tokenizer, seed=2000 + seed, buffer=1), None, train_config,
                      evaluate=val_loss)
    curve = [(0, val_loss(model.eval()))]
    model.train()
    for target in range(eval_every, steps + 1, eval_every):
        trainer.train(until=target, progress="off")
        curve.append((target, val_loss(model.eval())))
        model.train()
    return {"variant": name, "seed": seed, "options": VARIANTS[name], "parameters": model.num_parameters(),
            "curve": curve, "final_val_loss": curve[-1][1],
            "final_train_loss": sum(trainer.history.train_loss[-5:]) / len(trainer.history.train_loss[-5:])}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--quick", action="store_true", help="a few tiny steps, to check that everything works")
    args = parser.parse_args(argv)
    from nbutils.pretrain import course_tokenizer

    torch.set_num_threads(1)
    say = Progress()
    steps, eval_every, batch = (4, 2, 2) if args.quick else (args.steps, 50, 16)
    tokenizer = course_tokenizer()
    val_batch = validation_rows(tokenizer)
    record = {"recipe": "python -m nbutils.recipes.variants" + (f" --steps {args.steps}" if args.steps != 400 else ""),
              "shape": SHAPE, "variants": VARIANTS, "seeds": list(SEEDS), "steps": steps, "batch_size": batch,
              "tokens_per_run": steps * batch * SHAPE["context_length"], "val_rows": VAL_ROWS, "val_seed": VAL_SEED,
              "versions": versions(), "runs": []}
    for seed in SEEDS:
        for name in VARIANTS:
            run = train_variant(name, seed, tokenizer, val_batch, steps, batch, eval_every)
            run["elapsed_s"] = round(say.elapsed, 1)
            record["runs"].append(run)
            write_json(args.out, record)
            say(f"{name:10s} seed {seed}: val {run['final_val_loss']:.4f} ({run['parameters']:,} parameters)")
    record["total_s"] = round(say.elapsed, 1)
    write_json(args.out, record)
    say(f"done: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
