"""Train the course model that knows its world, and record when it starts to.

    python -m nbutils.recipes.world_model                    # writes nbutils/assets/world_model/
    python -m nbutils.recipes.world_model --out /tmp/wm --seed 1
    python -m nbutils.recipes.world_model --quick --out DIR  # a few steps, to check that everything works

The recipe:

1. data: an endless stream of fresh stories (``nbutils.data.StoryStream``, seeded ``1000 + seed``), so no story is
   read twice; every training row starts at a story's beginning (``SEP + story + SEP + story ...``, the story
   that does not fit is cut), so every story is seen from its first sentence, as the entropy floor assumes;
2. the course tokenizer (``nbutils.pretrain.course_tokenizer``, byte-level BPE with 1024 ids);
3. the model: ``GPTConfig(vocab_size=1024, context_length=256, n_layer=4, n_head=4, n_embd=128)``;
4. the course's ``Trainer``: AdamW (decay 0.1 on matrices), 100 warm-up steps, cosine from 2e-3 to 2e-4,
   clipping at 1.0, batches of 32 rows of 256 tokens (8,192 tokens per step), 3,000 steps (24.6M tokens);
5. at 24 points of training (densest between 9M and 21M tokens, where the answers were seen to jump) the
   model is scored by ``nbutils.evaluate.evaluate_world`` on 600 held-out stories (the 215 validation
   stories of ``default_corpus()`` and 385 stories of ``generate_corpus(7)``): loss from each story's start
   against the exact entropy floor of the same stories, and greedy answers to every "Where is X?" (answerable /
   not, by distance, by how the fact was stated). The record is written to ``record.json`` after every point;
   the model at every point is kept in ``snapshots/`` (a few of them ship, chosen after the run).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Sequence

import torch

from nbutils.recipes.report import Progress, versions, write_json

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "assets" / "world_model"
STEPS = 3000
EVAL_STEPS = (0, 125, 250, 500, 750, 1000, *range(1100, 2600, 100), 2750, 3000)


def eval_stories():
    """The held-out stories every point of the record is scored on (none of them is in the training stream)."""
    from nbutils.world import default_corpus, generate_corpus

    return list(default_corpus(0).val_stories) + list(generate_corpus(7, n_stories=385, val_fraction=0.0).stories)


def _evaluation_fields(report, floor: float) -> dict:
    """The fields of a record point that come from ``evaluate_world``."""
    return {"val_loss": report.loss_per_token, "gap": report.loss_per_token - floor,
            "answerable": report.answerable, "answerable_accuracy": report.answerable_accuracy,
            "unanswerable": report.unanswerable, "unanswerable_accuracy": report.unanswerable_accuracy,
            "by_distance": report.by_distance, "by_kind": report.by_kind, "by_pronoun": report.by_pronoun,
            "by_answer": report.by_answer, "failures": report.failures[:5]}


#: How many of the evaluation stories the slower measures use (the KL of unanswerable answers, the loss by kind
#: of word, whose truth walks the generator for every word).
DETAIL_STORIES = 200


def detail_fields(model, tokenizer, stories, truths) -> dict:
    """The slower measures of a record point, on ``stories`` (the first ``DETAIL_STORIES``): the KL of the
    unanswerable questions' answers against the world's draw, and the loss by kind of word against the truth."""
    from nbutils.evaluate import unanswerable_kl, word_kind_losses

    return {"unanswerable_kl": unanswerable_kl(model, tokenizer, stories),
            "word_kinds": word_kind_losses(model, tokenizer, stories, truths),
            "detail_stories": len(stories)}


def rescore(out: Path) -> int:
    """Score every snapshot of a finished run again (the evaluation may have improved since) and rewrite
    the evaluation fields of ``out/record.json``, adding the slower measures (:func:`detail_fields`); the
    training fields (step, tokens, losses) stay."""
    import json

    from nbutils.checkpoint import load_checkpoint
    from nbutils.evaluate import evaluate_world, token_truth

    say = Progress()
    record = json.loads((out / "record.json").read_text())
    stories = eval_stories()
    floor = record["evaluation"]["floor_per_token"]
    truths = None
    for point in record["points"]:
        folder = out / "snapshots" / f"step_{point['step']:05d}"
        if point["step"] == record["points"][-1]["step"] and not folder.is_dir() and (out / "model.safetensors").exists():
            folder = out
        if not folder.is_dir():
            say(f"step {point['step']}: no snapshot, left as it was")
            continue
        checkpoint = load_checkpoint(folder)
        if truths is None:
            truths = [token_truth(story, checkpoint.tokenizer) for story in stories[:DETAIL_STORIES]]
            say(f"the truth of {len(truths)} stories, token by token")
        report = evaluate_world(checkpoint.model, checkpoint.tokenizer, stories)
        point.update(_evaluation_fields(report, floor))
        point.update(detail_fields(checkpoint.model, checkpoint.tokenizer, stories[:DETAIL_STORIES], truths))
        say(f"step {point['step']:5d}: answerable {report.answerable_accuracy:.1%} "
            f"(places {report.by_answer.get('place', [0, 0])}, holders {report.by_answer.get('holder', [0, 0])}), "
            f"unanswerable KL {point['unanswerable_kl']['mean_kl']:.3f}")
        write_json(out / "record.json", record)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--context", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--buffer", type=int, default=16,
                        help="stories waiting to be packed into rows (1: in order, the last one of a row cut)")
    parser.add_argument("--quick", action="store_true", help="a few tiny steps and a small evaluation")
    parser.add_argument("--rescore", action="store_true",
                        help="train nothing: score the snapshots in --out again with today's nbutils.evaluate and "
                             "rewrite the evaluation fields of its record.json")
    args = parser.parse_args(argv)
    if args.rescore:
        return rescore(args.out)

    from nbutils.checkpoint import save_checkpoint
    from nbutils.data import StoryStream
    from nbutils.evaluate import encode_story, evaluate_world
    from nbutils.model import GPT, GPTConfig
    from nbutils.pretrain import course_tokenizer
    from nbutils.train import Trainer, TrainConfig

    say = Progress()
    steps = 6 if args.quick else args.steps
    eval_steps = sorted({0, 3, 6} if args.quick else {s for s in EVAL_STEPS if s <= steps} | {steps})
    tokenizer = course_tokenizer()
    stories = eval_stories()[:20 if args.quick else None]
    encoded = [encode_story(s, tokenizer) for s in stories]
    n_floor_tokens = sum(len(e.ids) - e.first for e in encoded)
    floor = sum(s.nll for s in stories) / n_floor_tokens
    too_long = sum(len(e.ids) - 1 > args.context for e in encoded)
    say(f"{len(stories)} evaluation stories, floor {floor:.4f} nats/token, {too_long} longer than {args.context} tokens")

    config = GPTConfig(vocab_size=tokenizer.vocab_size, context_length=args.context, n_layer=args.layers,
                       n_head=args.heads, n_embd=args.width, dropout=0.0)
    train_config = TrainConfig(steps=steps, batch_size=2 if args.quick else args.batch_size, lr=args.lr,
                               min_lr=args.lr / 10, warmup_steps=min(100, steps // 10), weight_decay=0.1,
                               grad_clip=1.0, eval_every=10 ** 9, eval_batches=1, log_every=1, seed=args.seed,
                               device="auto")
    torch.manual_seed(args.seed)
    model = GPT(config)
    stream = StoryStream(tokenizer, seed=1000 + args.seed, buffer=args.buffer)
    trainer = Trainer(model, stream, None, train_config)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    changed = [f"--{name.replace('_', '-')} {value}" for name, value in vars(args).items()
               if name not in ("out", "quick", "rescore") and value != parser.get_default(name)]
    record = {"recipe": " ".join(["python -m nbutils.recipes.world_model", *changed]),
              "model_config": config.__dict__, "train_config": train_config.to_dict(), "versions": versions(),
              "evaluation": {"stories": len(stories), "floor_per_token": floor, "tokens": n_floor_tokens,
                             "stories_longer_than_context": too_long},
              "points": []}

    def evaluate(step: int) -> None:
        started = time.perf_counter()
        report = evaluate_world(trainer.model, tokenizer, stories)
        recent = trainer.history.train_loss[-50:]
        point = {"step": step, "tokens": step * train_config.batch_size * args.context,
                 "stories_read": stream.stories_used, "elapsed_s": round(say.elapsed, 1),
                 "train_loss": sum(recent) / len(recent) if recent else None,
                 **_evaluation_fields(report, floor), "extra": {}}
        record["points"].append(point)
        record["tokens_cut"], record["tokens_repeated"] = stream.tokens_cut, stream.tokens_repeated
        write_json(out / "record.json", record)
        save_checkpoint(out / "snapshots" / f"step_{step:05d}", trainer.model, tokenizer=tokenizer)
        say(f"step {step:5d}  tokens {point['tokens'] / 1e6:5.1f}M  val {report.loss_per_token:.4f} "
            f"(gap {report.loss_per_token - floor:.3f})  answerable {report.answerable_accuracy:.1%} of "
            f"{report.answerable}  unanswerable {report.unanswerable_accuracy:.1%}  "
            f"(eval {time.perf_counter() - started:.0f} s)")

    evaluate(0)
    for target in eval_steps[1:]:
        trainer.train(until=target, progress="off")
        evaluate(target)
    save_checkpoint(out, trainer.model, tokenizer=tokenizer, history=trainer.history, train_config=train_config,
                    step=trainer.step)
    record["total_s"] = round(say.elapsed, 1)
    write_json(out / "record.json", record)
    say(f"done: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
