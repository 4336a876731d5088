"""Score every attention head of the world model at its shipped checkpoints, and ablate the interesting ones.

    python -m nbutils.recipes.head_scores            # writes nbutils/assets/world_model/head_scores.json
    python -m nbutils.recipes.head_scores --quick    # fewer stories, to check that everything runs

What notebook 10 loads instead of computing (a few minutes on a 2-core CPU):

1. at steps 0 (the untrained model: ``torch.manual_seed(0); GPT(config)``, as the world_model recipe starts),
   the shipped snapshots (1000, 1800, 2100) and the final model (``final_step()``), on repeated random tokens
   (``nbutils.heads.repeated_tokens``: 50 tokens of the whole vocabulary, then the same 50, 16 rows, seed 0):
   the first- and second-copy losses, the loss at the same positions of 100 random tokens that do not repeat, and the previous-token, prefix-matching and copying scores of every head,
   and the previous-token score on story text too (the first 48 tokens of 64 evaluation stories);
   on the held-out stories (``nbutils.recipes.world_model.eval_stories``): the in-context learning score (mean
   loss at token positions 96..127 minus at 16..31 of the stories at least 129 tokens long, Olsson et al.
   2022 take the 500th minus the 50th token of longer texts), the loss of a child's name at its first mention
   and at its later mentions, and for every head the attention paid, just before a name is repeated, to the
   name's earlier mentions (``nbutils.heads.recall_scores``) and, as a control, to the other names' mentions;
2. on the final model, zero and mean ablation (``nbutils.heads.ablated``; means over those 64 stories) of the
   best previous-token head (on story text), the best prefix-matching head, the two best name-recall heads (alone and together)
   and a control head: the copy losses, the name losses and the answers to "Where is X?" on 150 of the
   evaluation stories (``nbutils.evaluate.evaluate_world``). The stories are slices of ``world_stories()``
   (``eval_stories()[215:]``): names on the first 200, answers on the first 150, means over 64 others.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F

from nbutils.recipes.report import Progress, versions, write_json

ASSET = Path(__file__).resolve().parents[1] / "assets" / "world_model"
OUT = ASSET / "head_scores.json"
SNAPSHOT_STEPS = (1000, 1800, 2100)


def final_step() -> int:
    """The training step of the shipped world model (the last point of its record)."""
    return json.loads((ASSET / "record.json").read_text())["points"][-1]["step"]


def scored_steps() -> tuple[int, ...]:
    """The checkpoints scored: 0 (untrained), the snapshots, the final model."""
    return (0, *SNAPSHOT_STEPS, final_step())
REPEAT = {"n": 50, "batch": 16, "seed": 0}
EARLY, LATE, ICL_MIN_TOKENS = (16, 32), (96, 128), 129
#: The evaluation stories are the 215 validation stories of default_corpus(0), then the 385 of generate_corpus(7);
#: the measures below use slices of the second part, which a notebook can make in a second (``world_stories``).
WORLD_OFFSET = 215
NAME_STORIES = slice(0, 200)     # of world_stories(): the name measures
ABLATION_STORIES = slice(0, 150)  # of world_stories(): the answers under ablation
MEAN_STORIES = slice(300, 364)   # of world_stories(): 64 other stories, their first MEAN_TOKENS tokens, for mean ablation
MEAN_TOKENS = 48


def world_stories():
    """The 385 evaluation stories of ``generate_corpus(7)``: ``eval_stories()[WORLD_OFFSET:]``, without
    generating the 215 others first."""
    from nbutils.world import generate_corpus

    return list(generate_corpus(7, n_stories=385, val_fraction=0.0).stories)


# ---- loading -----------------------------------------------------------------------------------------------
def load_step(step: int):
    """(model, tokenizer) of the world model at ``step``: 0 = its untrained start, ``final_step()`` = the shipped model,
    the others from ``snapshots/``."""
    from nbutils.checkpoint import load_checkpoint
    from nbutils.model import GPT, GPTConfig

    if step == 0:
        final = load_checkpoint(ASSET)
        config = json.loads((ASSET / "record.json").read_text())["model_config"]
        torch.manual_seed(0)                      # as nbutils.recipes.world_model does before GPT(config)
        return GPT(GPTConfig(**config)).eval(), final.tokenizer
    folder = ASSET if step == final_step() else ASSET / "snapshots" / f"step_{step:05d}"
    checkpoint = load_checkpoint(folder)
    return checkpoint.model.eval(), checkpoint.tokenizer


# ---- names in the stories ----------------------------------------------------------------------------------
def name_token_ids(tokenizer) -> dict[int, str]:
    """{token id: name} for the children's names that are one token (" Mia" inside a story, "Mia" at its start)."""
    from nbutils.world.lexicon import BOYS, GIRLS

    ids: dict[int, str] = {}
    for person in list(GIRLS.items) + list(BOYS.items):
        for form in (" " + person.name, person.name):
            encoded = tokenizer.encode(form)
            if len(encoded) == 1:
                ids[encoded[0]] = person.name
    return ids


def name_mentions(ids: Sequence[int], names: dict[int, str]) -> list[tuple[int, str, bool]]:
    """Every name token of a story: (position, name, first mention?)."""
    seen: set[str] = set()
    out = []
    for t, token in enumerate(ids):
        if token in names:
            out.append((t, names[token], names[token] not in seen))
            seen.add(names[token])
    return out


def story_ids(story, tokenizer, context: int) -> list[int]:
    """A story's ids from its opening separator, cut to one context."""
    from nbutils.evaluate import encode_story

    return encode_story(story, tokenizer).ids[:context]


@torch.no_grad()
def name_measures(model, tokenizer, stories, attention: bool = True) -> dict:
    """Loss of a name at its first and at its later mentions; for every head, the attention from the position
    before a repeated name to that name's earlier mentions (right) and to the other names' mentions (other).
    ``attention=False`` measures only the losses (inside ``ablated``, whose hooks leave no room for more)."""
    from nbutils.heads import recall_scores

    names = name_token_ids(tokenizer)
    first, later = [], []
    L, H = model.config.n_layer, model.config.n_head
    right, other, count = torch.zeros(L, H), torch.zeros(L, H), 0
    for story in stories:
        ids = story_ids(story, tokenizer, model.config.context_length)
        idx = torch.tensor([ids])
        logits, _ = model(idx)
        losses = F.cross_entropy(logits[0, :-1], idx[0, 1:], reduction="none")   # entry t: token t + 1
        mentions = name_mentions(ids, names)
        where = torch.zeros_like(idx, dtype=torch.bool)
        for t, _, is_first in mentions:
            (first if is_first else later).append(float(losses[t - 1]))
            if not is_first:
                where[0, t - 1] = True
        n = int(where.sum())
        if n == 0 or not attention:
            continue
        right += recall_scores(model, idx, where) * n
        maps = torch.stack(model.attention_maps(idx))[:, 0]                       # (L, H, T, T)
        for t, name, is_first in mentions:
            if is_first:
                continue
            others = [s for s, other_name, _ in mentions if s < t and other_name != name]
            other += maps[:, :, t - 1, others].sum(-1) if others else 0.0
        count += n
    out = {"name_first_loss": sum(first) / len(first), "name_later_loss": sum(later) / len(later),
           "name_first_count": len(first), "name_later_count": len(later)}
    if attention:
        out.update(name_recall=(right / count).tolist(), other_name_attention=(other / count).tolist())
    return out


@torch.no_grad()
def icl_score(model, tokenizer, stories) -> dict:
    """Mean loss at token positions LATE minus at EARLY, over the stories of at least ICL_MIN_TOKENS tokens
    (the same stories for both): negative when later tokens, with more of the story before them, are easier."""
    early, late = [], []
    for story in stories:
        ids = story_ids(story, tokenizer, model.config.context_length)
        if len(ids) < ICL_MIN_TOKENS:
            continue
        idx = torch.tensor([ids])
        logits, _ = model(idx)
        losses = F.cross_entropy(logits[0, :-1], idx[0, 1:], reduction="none")   # entry t predicts token t + 1
        early.append(float(losses[EARLY[0] - 1:EARLY[1] - 1].mean()))
        late.append(float(losses[LATE[0] - 1:LATE[1] - 1].mean()))
    return {"icl_score": sum(late) / len(late) - sum(early) / len(early), "icl_early_loss": sum(early) / len(early),
            "icl_late_loss": sum(late) / len(late), "icl_stories": len(late)}


def repeat_measures(model) -> dict:
    from nbutils.heads import (copying_scores, per_position_losses, prefix_matching_scores, previous_token_scores, repeated_tokens,
                               second_copy_losses)

    idx = repeated_tokens(REPEAT["n"], REPEAT["batch"], model.config.vocab_size, seed=REPEAT["seed"])
    first, second = second_copy_losses(model, idx)
    control = repeated_tokens(2 * REPEAT["n"], REPEAT["batch"], model.config.vocab_size, seed=REPEAT["seed"])
    no_repeat = per_position_losses(model, control[:, :2 * REPEAT["n"]])[REPEAT["n"]:]
    return {"first_copy_loss": first, "second_copy_loss": second, "no_repeat_loss": float(no_repeat.mean()),
            "previous_token": previous_token_scores(model, idx).tolist(),
            "prefix_matching": prefix_matching_scores(model, idx).tolist(),
            "copying": copying_scores(model, idx).tolist()}


def mean_batch(tokenizer, stories) -> torch.Tensor:
    """The text the heads' mean outputs are taken over: the first MEAN_TOKENS tokens of other stories."""
    rows = [story_ids(s, tokenizer, 10 ** 6)[:MEAN_TOKENS] for s in stories]
    return torch.tensor([r for r in rows if len(r) == MEAN_TOKENS])


def _best(scores: list, exclude: set = frozenset()) -> tuple[int, int]:
    table = torch.tensor(scores)
    order = table.flatten().argsort(descending=True).tolist()
    pairs = [(f // table.shape[1], f % table.shape[1]) for f in order]
    return next(p for p in pairs if p not in exclude)


def ablation_conditions(final: dict) -> list[tuple[str, list[tuple[int, int]]]]:
    """Which heads to knock out, chosen from the final model's scores."""
    prev = _best(final["previous_token_stories"])
    prefix = _best(final["prefix_matching"])
    recall1 = _best(final["name_recall"])
    recall2 = _best(final["name_recall"], {recall1})
    # control: the head of the top recall head's layer that pays the least attention to the repeated name
    layer = torch.tensor(final["name_recall"])[recall1[0]]
    control = (recall1[0], int(layer.argmin()))
    return [("none", []), ("previous-token head", [prev]), ("prefix-matching head", [prefix]),
            ("name-recall head 1", [recall1]), ("name-recall head 2", [recall2]),
            ("both name-recall heads", [recall1, recall2]), ("control head", [control])]


def run(quick: bool = False, say=print) -> dict:
    from nbutils.evaluate import evaluate_world
    from nbutils.heads import ablated, head_means, previous_token_scores, repeated_tokens, second_copy_losses
    from nbutils.recipes.world_model import eval_stories

    started = time.perf_counter()
    stories = eval_stories()
    world = stories[WORLD_OFFSET:]
    if [s.text for s in world_stories()] != [s.text for s in world]:
        raise RuntimeError("world_stories() is no longer eval_stories()[215:]; update WORLD_OFFSET")
    record = json.loads((ASSET / "record.json").read_text())
    by_step = {p["step"]: p for p in record["points"]}
    names_part, ablation_part = (slice(0, 20), slice(0, 20)) if quick else (NAME_STORIES, ABLATION_STORIES)
    result: dict = {"recipe": "python -m nbutils.recipes.head_scores" + (" --quick" if quick else ""),
                    "settings": {"repeat": REPEAT, "icl_early": EARLY, "icl_late": LATE,
                                 "icl_min_tokens": ICL_MIN_TOKENS, "icl_stories": "all 600 eval_stories()",
                                 "stories": "slices [start, stop) of world_stories() = eval_stories()[215:]",
                                 "name_stories": [names_part.start, names_part.stop],
                                 "ablation_stories": [ablation_part.start, ablation_part.stop],
                                 "mean_tokens": MEAN_TOKENS, "mean_stories": [MEAN_STORIES.start, MEAN_STORIES.stop]},
                    "checkpoints": [], "versions": versions()}
    text = None
    for step in scored_steps():
        model, tokenizer = load_step(step)
        text = mean_batch(tokenizer, world[MEAN_STORIES]) if text is None else text
        point = {"step": step, "tokens": by_step[step]["tokens"],
                 "answerable_accuracy": by_step[step]["answerable_accuracy"]}
        point.update(repeat_measures(model))
        point["previous_token_stories"] = previous_token_scores(model, text).tolist()
        point.update(icl_score(model, tokenizer, stories))
        point.update(name_measures(model, tokenizer, world[names_part]))
        result["checkpoints"].append(point)
        say(f"step {step}: second copy {point['second_copy_loss']:.2f} vs first {point['first_copy_loss']:.2f}, "
            f"best prefix matching {max(map(max, point['prefix_matching'])):.3f}, ICL {point['icl_score']:.3f}, "
            f"names {point['name_first_loss']:.2f} -> {point['name_later_loss']:.2f}")
    final = result["checkpoints"][-1]
    model, tokenizer = load_step(final_step())
    means = head_means(model, text)
    idx = repeated_tokens(REPEAT["n"], REPEAT["batch"], model.config.vocab_size, seed=REPEAT["seed"])
    rows = []
    for label, heads in ablation_conditions(final):
        for mode in (("zero",) if not heads else ("zero", "mean")):
            with ablated(model, heads, mode=mode, means=means):
                first, second = second_copy_losses(model, idx)
                names = name_measures(model, tokenizer, world[names_part], attention=False)
                report = evaluate_world(model, tokenizer, world[ablation_part])
            rows.append({"label": label, "heads": heads, "mode": mode if heads else "none",
                         "first_copy_loss": first, "second_copy_loss": second,
                         "name_first_loss": names["name_first_loss"], "name_later_loss": names["name_later_loss"],
                         "val_loss": report.loss_per_token, "answerable_right": report.answerable_right,
                         "answerable": report.answerable, "by_answer": report.by_answer})
            say(f"ablate {label} {heads} ({mode}): answers {report.answerable_right}/{report.answerable}, "
                f"names later {names['name_later_loss']:.3f}, second copy {second:.2f}")
    result["ablations"] = rows
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nbutils.recipes.head_scores", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--quick", action="store_true", help="20 stories for the name measures and the answers")
    args = parser.parse_args(argv)
    say = Progress()
    result = run(args.quick, say)
    write_json(args.out, result)
    say(f"wrote {args.out} ({result['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
