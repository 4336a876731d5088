"""Train the course model that knows its world, and record when it starts to.

    python -m nbutils.recipes.world_model                    # writes nbutils/assets/world_model/
    python -m nbutils.recipes.world_model --out /tmp/wm --seed 1
    python -m nbutils.recipes.world_model --quick --out DIR  # a few steps, to check that everything works
    python -m nbutils.recipes.world_model --rescore --out RUN  # score RUN's snapshots again, with the slow measures
    python -m nbutils.recipes.world_model --ship RUN         # copy RUN (model, record, 3 snapshots) to the assets
                                                             # (a --resume run ships merged with the run it resumed)
    python -m nbutils.recipes.world_model --resume nbutils/assets/world_model --steps 1500 --lr 1e-3 --seed 5 --out DIR
                                       # train a finished model further, on stories it has never read

The recipe:

1. data: an endless stream of fresh stories (``nbutils.data.StoryStream``, seeded ``1000 + seed``), so no story is
   read twice; every training row starts at a story's beginning (``SEP + story + SEP + story ...``, the story
   that does not fit is cut), so every story is seen from its first sentence, as the entropy floor assumes;
2. the course tokenizer (``nbutils.pretrain.course_tokenizer``, byte-level BPE with 1024 ids);
3. the model: ``GPTConfig(vocab_size=1024, context_length=256, n_layer=4, n_head=4, n_embd=128)``;
4. the course's ``Trainer``: AdamW (decay 0.1 on matrices), 100 warm-up steps, cosine from 2e-3 to 2e-4,
   clipping at 1.0, batches of 32 rows of 256 tokens (8,192 tokens per step), 3,000 steps (24.6M tokens);
5. at 24 points of training (densest between 9M and 21M tokens, where the answers were seen to jump; a longer run
   adds one every 250 steps after 3,000) the model is scored by ``nbutils.evaluate.evaluate_world`` on 600 held-out
   stories (the 215 validation stories of ``default_corpus()`` and 385 stories of ``generate_corpus(7)``): loss from
   each story's start against the exact entropy floor of the same stories, and greedy answers to every "Where is X?"
   (answerable / not, by distance, by how the fact was stated). The record is written to ``record.json`` after every
   point; the model at every point is kept in ``snapshots/`` (a few of them ship, chosen after the run).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Sequence

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


def jump_snapshots(points: list[dict]) -> list[int]:
    """The steps of the three snapshots to ship: the points just before and just after the largest rise of
    answerable accuracy between two neighbouring points (the jump), and an early point at about half the
    step before the jump."""
    steps = [p["step"] for p in points]
    rises = [(points[i + 1]["answerable_accuracy"] - points[i]["answerable_accuracy"], i) for i in range(len(points) - 1)]
    _, i = max(rises)
    early = min(steps[1:i + 1], key=lambda s: abs(s - steps[i] / 2)) if i >= 1 else steps[0]
    return sorted({early, steps[i], steps[i + 1]})


def _threads(run: dict) -> str:
    """How many torch threads a run used, from its recorded versions."""
    threads = str(run.get("versions", {}).get("threads", "?"))
    return f"{threads} torch thread{'' if threads == '1' else 's'}"


def _percent(right_total: list[int] | None) -> str:
    return f"{right_total[0] / right_total[1]:.0%}" if right_total and right_total[1] else "-"


def render_readme(record: dict, shipped: list[int]) -> str:
    """The asset's README, written from its record (so every number in it is the record's)."""
    config, train, ev = record["model_config"], record["train_config"], record["evaluation"]
    points = record["points"]
    last = points[-1]
    tokens_per_step = train["batch_size"] * config["context_length"]
    stages = record.get("stages") or []
    made = (f"Made in {len(stages)} stages on this project's 2-core CPU, {record.get('total_s', 0) / 60:.0f} minutes "
            "in all: " + ", then ".join(f"`{stage['recipe']}`" for stage in stages) + " (each stage below says its "
            "threads and time)" if stages else
            f"Made by `{record['recipe']}` on this project's 2-core CPU ({_threads(record)}) in "
            f"{record.get('total_s', 0) / 60:.0f} minutes")
    lines = [
        "# The course model that knows its world (`world_model`)", "",
        made + ("; then `python -m nbutils.recipes.world_model --rescore --out RUN` added the slower measures (the KL "
                f"of unanswerable answers and the loss by kind of word, on the first {DETAIL_STORIES} evaluation "
                "stories)" if "word_kinds" in last else "") + "; `--ship RUN` copied it here.",
        "Load it with `nbutils.pretrain.load_course_model(path=<this folder>)` (or a folder under `snapshots/`).", "",
        f"- Model: GPT, {config['n_layer']} layers, {config['n_head']} heads, width {config['n_embd']}, context "
        f"{config['context_length']} tokens, the course's BPE tokenizer ({config['vocab_size']} ids).",
        f"- Data: fresh stories streamed from the generator (`nbutils.data.StoryStream`, seed " + (
            " then ".join(str(1000 + stage["train_config"]["seed"]) for stage in record["stages"])
            if record.get("stages") else f"{1000 + train['seed']}") +
        f") into rows of {config['context_length'] + 1} tokens that start at a story's "
        f"beginning: {last['stories_read']:,} stories, none read twice; " + (
            f"packed first-fit: {record.get('tokens_cut', 0) / 1e6:.1f}M tokens of stories longer than a row were "
            f"cut, {record['tokens_repeated'] / 1e6:.1f}M tokens are repeated story openings that fill the end of a row."
            if record.get("tokens_repeated") else
            f"stories in order, the one that does not fit cut ({record.get('tokens_cut', 0) / 1e6:.1f}M tokens of cut "
            "tails were never trained on)."),
        f"- Training: {train['steps']:,} steps of {train['batch_size']} rows ({tokens_per_step:,} tokens per step, "
        f"{train['steps'] * tokens_per_step / 1e6:.1f}M tokens), AdamW (weight decay {train['weight_decay']} on "
        f"matrices), " + (f"{train['warmup_steps']} warm-up steps, cosine from {train['lr']:g} to {train['min_lr']:g}, "
        if not record.get("stages") else f"in {len(record['stages'])} stages (each its own warm-up and cosine), ") +
        f"gradient clipping {train['grad_clip']}." + ("".join(
            f" Stage {k + 1}: {stage['train_config']['steps']:,} steps, cosine from {stage['train_config']['lr']:g} "
            f"to {stage['train_config']['min_lr']:g}, stream seed {1000 + stage['train_config']['seed']}"
            f"{' (a new warm-up, from the model of step ' + str(stage['resumed_from']['step']) + ')' if 'resumed_from' in stage else ''}"
            f", {_threads(stage)}, {stage['total_s'] / 60:.0f} minutes." for k, stage in enumerate(stages))),
        f"- Evaluation (`nbutils.evaluate.evaluate_world`): {ev['stories']} held-out stories (the validation stories "
        f"of `default_corpus()` and stories of `generate_corpus(7)`), each read from its beginning; "
        f"{ev['stories_longer_than_context']} are longer than the context and are read in windows overlapping by "
        f"half a context. Their entropy floor is {ev['floor_per_token']:.4f} nats/token. {last['answerable']} "
        f"answerable \"Where is X?\" questions (places and children holding things); greedy answers are graded "
        "without generating: right when the model's most likely token is the true one at every token of the answer.",
        "",
        "`record.json` holds every point below (with answers by distance, by how the fact was stated, by kind of "
        f"answer, and the first failures); `snapshots/` ships the model at steps {', '.join(map(str, shipped))} "
        "(early, just before the largest jump of the answers, just after it).", "",
        "| step | tokens | val loss | gap to floor | answerable right | places | holders | unanswerable KL |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for p in points:
        kl = p.get("unanswerable_kl", {}).get("mean_kl")
        lines.append(f"| {p['step']} | {p['tokens'] / 1e6:.1f}M | {p['val_loss']:.3f} | {p['gap']:.3f} | "
                     f"{p['answerable_accuracy']:.0%} | {_percent(p['by_answer'].get('place'))} | "
                     f"{_percent(p['by_answer'].get('holder'))} | {'-' if kl is None else f'{kl:.3f}'} |")
    _, i = max((points[k + 1]["answerable_accuracy"] - points[k]["answerable_accuracy"], k) for k in range(len(points) - 1))
    before, after = points[i], points[i + 1]
    lines += ["", f"Read: the answers rise most between steps {before['step']} and {after['step']} "
              f"({before['tokens'] / 1e6:.1f}M to {after['tokens'] / 1e6:.1f}M tokens), from "
              f"{before['answerable_accuracy']:.0%} to {after['answerable_accuracy']:.0%} right, while the validation "
              f"loss moves by {before['val_loss'] - after['val_loss']:.3f} nats/token. At the end, answers whose truth "
              f"is a place are right {_percent(last['by_answer'].get('place'))} of the time, answers whose truth is "
              f"the child holding the object {_percent(last['by_answer'].get('holder'))}."]
    if last.get("unanswerable_kl"):
        u = last["unanswerable_kl"]
        lines += [f"For the {u['questions']} unanswerable questions of the first {last.get('detail_stories')} stories "
                  f"the model's answers are {u['mean_kl']:.3f} nats (mean KL) from the world's own spread over the "
                  f"entity's usual places, and it gives {u['mean_mass']:.1%} of its probability to well-formed answers."]
    kinds = last.get("word_kinds")
    if kinds:
        lines += ["", f"Where the final gap to the floor sits (first {last.get('detail_stories')} evaluation stories, "
                  "`nbutils.evaluate.word_kind_losses`):", "",
                  "| kind of word | tokens | model nats/token | truth nats/token | gap nats/token |", "|---|---|---|---|---|"]
        for kind, row in kinds.items():
            if row["tokens"]:
                lines.append(f"| {kind} | {row['tokens']:,} | {row['model_nats'] / row['tokens']:.3f} | "
                             f"{row['true_nats'] / row['tokens']:.3f} | {row['gap_per_token']:.3f} |")
    lines += ["", "`sweep/` holds the records of the other runs of the sweep (same evaluation), for comparison."]
    return "\n".join(lines) + "\n"


def tokens_read_before(checkpoint: Any, folder: Path, batch_size: int, context: int) -> int:
    """How many training tokens the model in ``folder`` (loaded as ``checkpoint``, at ``checkpoint.step``) has read.

    From the folder's ``record.json`` when its last point is that step (a run of this recipe, even one with several
    batch sizes), else from the checkpoint's own training config (steps x rows x context), else ``batch_size`` rows
    per step as the continuation will use."""
    import json

    step = checkpoint.step or 0
    record_file = Path(folder) / "record.json"
    if record_file.is_file():
        points = json.loads(record_file.read_text()).get("points") or []
        if points and points[-1].get("step") == step and "tokens" in points[-1]:
            return int(points[-1]["tokens"])
    rows = (checkpoint.train_config or {}).get("batch_size") or batch_size
    return step * rows * context


def merge_stages(base: dict, more: dict) -> dict:
    """One record for a two-stage run: ``base`` (a finished run) and ``more`` (a ``--resume`` of its final model).

    The points are the base's up to the step the continuation started from, then the continuation's (its first
    point, the resumed model scored again, replaces the base's last); ``stages`` keeps both recipes and training
    configs, ``train_config`` is the continuation's with ``steps`` the total, and ``total_s`` adds both times; the
    continuation's points count stories read and seconds from the start of the first stage; its first point (the
    base's final model) keeps the base's slower measures (:func:`detail_fields`) when it has none of its own."""
    start = more["resumed_from"]["step"]
    if base["points"][-1]["step"] != start:
        raise ValueError(f"the continuation starts at step {start}, the base run ends at {base['points'][-1]['step']}")
    # the continuation's first point scores the base's final model again, on the same stories: it keeps the slower
    # measures that a --rescore of the base added to that model, which the continuation does not compute
    detail = {k: base["points"][-1][k] for k in ("unanswerable_kl", "word_kinds", "detail_stories")
              if k in base["points"][-1] and k not in more["points"][0]}
    read_before = base["points"][-1]["stories_read"]  # the continuation counts its stories (and seconds) from zero
    stages = base.get("stages") or [{"recipe": base["recipe"], "train_config": base["train_config"],
                                    "total_s": base["total_s"], "versions": base.get("versions", {})}]
    stages = [*stages, {"recipe": more["recipe"], "train_config": more["train_config"], "total_s": more["total_s"],
                        "versions": more.get("versions", {}), "resumed_from": more["resumed_from"]}]
    merged = {**more, "recipe": " && ".join(stage["recipe"] for stage in stages), "stages": stages,
              "train_config": {**more["train_config"], "steps": start + more["train_config"]["steps"]},
              "points": [p for p in base["points"] if p["step"] < start] + [
                  {**p, **(detail if k == 0 else {}), "stories_read": read_before + p["stories_read"],
                   "elapsed_s": round(base["total_s"] + p["elapsed_s"], 1)}
                  for k, p in enumerate(more["points"])],
              "total_s": round(sum(stage["total_s"] for stage in stages), 1)}
    merged.pop("resumed_from", None)
    return merged


def ship(run: Path, out: Path = DEFAULT_OUT) -> int:
    """Copy a finished run into the assets: the final model, its record, three snapshots, a README from the record.

    A continuation (``--resume``) ships as one two-stage run: its record is merged with the record of the model it
    resumed (:func:`merge_stages`), and the snapshots that model's folder ships stay."""
    import json
    import shutil
    import tempfile

    record = json.loads((run / "record.json").read_text())
    if "total_s" not in record:
        raise SystemExit(f"{run} is not a finished run (its record has no total_s)")
    sources = [run / "snapshots"]
    if "resumed_from" in record:
        base = Path(record["resumed_from"]["model"])
        record = merge_stages(json.loads((base / "record.json").read_text()), record)
        sources.append(base / "snapshots")
        # the base's shipped snapshots stay (they bracket its jump, which the notebooks look inside); without them,
        # the three around the merged record's largest jump
        kept = sorted(int(f.name.split("_")[1]) for f in (base / "snapshots").glob("step_*"))
        shipped = kept or jump_snapshots(record["points"])
        folders = {}
        for step in shipped:
            found = [src / f"step_{step:05d}" for src in sources if (src / f"step_{step:05d}").is_dir()]
            if not found:
                raise SystemExit(f"no snapshot of step {step} in {' or '.join(map(str, sources))}")
            folders[step] = found[0]
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:  # the base may be `out` itself: copy before replacing
            for step, folder in folders.items():
                shutil.copytree(folder, Path(tmp) / folder.name)
            for name in ("model.safetensors", "checkpoint.json", "tokenizer.json"):
                shutil.copy2(run / name, out / name)
            shutil.rmtree(out / "snapshots", ignore_errors=True)
            shutil.copytree(tmp, out / "snapshots")
        record["shipped_snapshots"] = shipped
        write_json(out / "record.json", record)
        (out / "README.md").write_text(render_readme(record, shipped))
        print(f"shipped {run} (continuing {base}) to {out} (snapshots {shipped})")
        return 0
    if run.resolve() == out.resolve():  # already here: keep its snapshots, write the record's README again
        shipped = sorted(int(folder.name.split("_")[1]) for folder in (out / "snapshots").iterdir())
        (out / "README.md").write_text(render_readme(record, shipped))
        print(f"rewrote {out / 'README.md'} (snapshots {shipped})")
        return 0
    shipped = jump_snapshots(record["points"])
    out.mkdir(parents=True, exist_ok=True)
    for name in ("model.safetensors", "checkpoint.json", "tokenizer.json"):
        shutil.copy2(run / name, out / name)
    if (out / "snapshots").exists():
        shutil.rmtree(out / "snapshots")
    for step in shipped:
        shutil.copytree(run / "snapshots" / f"step_{step:05d}", out / "snapshots" / f"step_{step:05d}")
    record["shipped_snapshots"] = shipped
    write_json(out / "record.json", record)
    (out / "README.md").write_text(render_readme(record, shipped))
    print(f"shipped {run} to {out} (snapshots {shipped})")
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
    parser.add_argument("--buffer", type=int, default=1,
                        help="stories waiting to be packed into rows first-fit (1, the shipped run: in order, the "
                             "last story of a row cut; 16 cuts only stories longer than a row)")
    parser.add_argument("--resume", type=Path, metavar="MODEL",
                        help="start from the checkpoint folder MODEL (its shape replaces --layers/--heads/--width/"
                             "--context) instead of a fresh model: a new warm-up and cosine over --steps; steps and "
                             "tokens in the record count on from the checkpoint's step. Pick another --seed than the "
                             "checkpoint's run so the stream holds stories it has never read")
    parser.add_argument("--quick", action="store_true", help="a few tiny steps and a small evaluation")
    parser.add_argument("--rescore", action="store_true",
                        help="train nothing: score the snapshots in --out again with today's nbutils.evaluate and "
                             "rewrite the evaluation fields of its record.json")
    parser.add_argument("--ship", type=Path, metavar="RUN",
                        help="train nothing: copy the finished run RUN into --out (model, record, three snapshots "
                             "around the answers' jump) and write its README from the record")
    args = parser.parse_args(argv)
    if args.ship is not None:
        return ship(args.ship, args.out)
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
    if args.quick:
        eval_steps = [0, 3, 6]
    elif args.resume is not None:  # a continuation: every 250 steps
        eval_steps = sorted(set(range(0, steps, 250)) | {steps})
    else:
        eval_steps = sorted({s for s in EVAL_STEPS if s <= steps} | set(range(3250, steps, 250)) | {steps})
    tokenizer = course_tokenizer()
    stories = eval_stories()[:20 if args.quick else None]
    encoded = [encode_story(s, tokenizer) for s in stories]
    n_floor_tokens = sum(len(e.ids) - e.first for e in encoded)
    floor = sum(s.nll for s in stories) / n_floor_tokens
    too_long = sum(len(e.ids) - 1 > args.context for e in encoded)
    say(f"{len(stories)} evaluation stories, floor {floor:.4f} nats/token, {too_long} longer than {args.context} tokens")

    base_step = base_tokens = 0
    train_batch = 2 if args.quick else args.batch_size
    if args.resume is not None:
        from nbutils.checkpoint import load_checkpoint

        resumed = load_checkpoint(args.resume, tokenizer=tokenizer)
        base_step = resumed.step or 0
        base_tokens = tokens_read_before(resumed, args.resume, train_batch, args.context)
        config = resumed.model.config
        if config.context_length != args.context:
            raise SystemExit(f"--resume: the checkpoint's context is {config.context_length}, not {args.context}")
        say(f"resuming {args.resume} at step {base_step}")
    else:
        config = GPTConfig(vocab_size=tokenizer.vocab_size, context_length=args.context, n_layer=args.layers,
                           n_head=args.heads, n_embd=args.width, dropout=0.0)
    train_config = TrainConfig(steps=steps, batch_size=train_batch, lr=args.lr,
                               min_lr=args.lr / 10, warmup_steps=min(100, steps // 10), weight_decay=0.1,
                               grad_clip=1.0, eval_every=10 ** 9, eval_batches=1, log_every=1, seed=args.seed,
                               device="auto")
    torch.manual_seed(args.seed)
    model = resumed.model if args.resume is not None else GPT(config)
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
    if args.resume is not None:
        record["resumed_from"] = {"model": str(args.resume), "step": base_step, "tokens": base_tokens}

    def evaluate(step: int) -> None:
        started = time.perf_counter()
        report = evaluate_world(trainer.model, tokenizer, stories)
        recent = trainer.history.train_loss[-50:]
        point = {"step": base_step + step, "tokens": base_tokens + step * train_config.batch_size * args.context,
                 "stories_read": stream.stories_used, "elapsed_s": round(say.elapsed, 1),
                 "train_loss": sum(recent) / len(recent) if recent else None,
                 **_evaluation_fields(report, floor), "extra": {}}
        record["points"].append(point)
        record["tokens_cut"], record["tokens_repeated"] = stream.tokens_cut, stream.tokens_repeated
        write_json(out / "record.json", record)
        save_checkpoint(out / "snapshots" / f"step_{base_step + step:05d}", trainer.model, tokenizer=tokenizer)
        say(f"step {base_step + step:5d}  tokens {point['tokens'] / 1e6:5.1f}M  val {report.loss_per_token:.4f} "
            f"(gap {report.loss_per_token - floor:.3f})  answerable {report.answerable_accuracy:.1%} of "
            f"{report.answerable}  unanswerable {report.unanswerable_accuracy:.1%}  "
            f"(eval {time.perf_counter() - started:.0f} s)")

    evaluate(0)
    for target in eval_steps[1:]:
        trainer.train(until=target, progress="off")
        evaluate(target)
    save_checkpoint(out, trainer.model, tokenizer=tokenizer, history=trainer.history, train_config=train_config,
                    step=base_step + trainer.step)
    record["total_s"] = round(say.elapsed, 1)
    write_json(out / "record.json", record)
    say(f"done: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
