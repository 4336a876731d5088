"""What the course model knows about its world, measured heavily once: ``python -m nbutils.recipes.world_probes``.

Notebook 09 asks whether the course model (``nbutils/assets/world_model``) keeps a running world state or looks
a fact up when asked. This command does the heavy half of its experiments and stores every number in
``nbutils/assets/world_model/probe_scores.json`` (the notebook recomputes a small slice live and checks it):

1. answers: every answerable "Where is X?" of the 600 evaluation stories, right or wrong, next to the
   prior-only baseline (the entity's most likely place), by distance; the holders split by where the holder's
   name stood in the stating sentence (subject / receiver at the end / dialogue) and the model's probability
   of the true child against the other child;
2. probes: linear probes (L2 chosen on held-out training stories) and a small MLP probe at every depth, for
   each entity's location at sentence ends, who holds an object, and the asked entity's location at the
   question's last token and at the answer position; controls beside each: an untrained model of the same
   shape, Hewitt & Liang's control task, the majority class; the same probes on the snapshots (steps 1000,
   1800, 2100) (their answers are in the training record, ``record.json``);
3. attention: how much the answer position attends to each part of the story (place-swap pairs);
4. patching: every place-swap pair (``nbutils.patching.place_swap_pairs``), patched at every depth and
   group of positions; steering along the answer-position probe's direction; ablating each head;
6. what it does not know: the spread of unanswerable answers against the world's, and facts that fall
   outside the context window in stories longer than the context.

Training stories for the probes: ``generate_corpus(11)`` (fresh stories, none in the evaluation set); test
stories: ``nbutils.recipes.world_model.eval_stories()``. Seeded; one torch thread is enough (about 15 minutes
on a 2-core CPU shared with other jobs). ``--quick`` runs a small version for a smoke test.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F

from nbutils.recipes.report import Progress, versions, write_json

ASSET = Path(__file__).resolve().parents[1] / "assets" / "world_model"
DEFAULT_OUT = ASSET / "probe_scores.json"
#: The checkpoints probed: "untrained" (a fresh model of the same shape, seed 0), three snapshots, the final model.
CHECKPOINTS = ("untrained", "step_01000", "step_01800", "step_02100", "final")
TRAIN_SEED, N_TRAIN_STORIES = 11, 2500
#: More stories for place-swap pairs (beside the evaluation stories), none used to train a probe.
PAIR_SEED = 12
MAX_TRAIN_ROWS, MAX_TEST_ROWS, MLP_ROWS = 3000, 2000, 2000
L2_GRID = (1e-2, 1e-1, 1.0)
#: The probe tasks (see nbutils.probes.ProbeRow) and those also probed on the snapshots.
TASKS = ("end:pet", "end:toy", "end:girl", "end:holder", "question", "answer")
SNAPSHOT_TASKS = ("end:pet", "question", "answer")
MLP_TASKS = ("end:pet", "end:toy", "question", "answer")


def load(name: str):
    """(model, tokenizer) of one checkpoint of ``CHECKPOINTS``."""
    from nbutils.device import seed_everything
    from nbutils.model import GPT
    from nbutils.pretrain import load_course_model

    model, tokenizer, _ = load_course_model(device="cpu", path=ASSET)
    if name == "untrained":
        seed_everything(0)
        model = GPT(model.config).eval()
    elif name != "final":
        model, tokenizer, _ = load_course_model(device="cpu", path=ASSET / "snapshots" / name)
    return model, tokenizer


def train_stories(n: int = N_TRAIN_STORIES):
    from nbutils.world import generate_corpus

    return list(generate_corpus(TRAIN_SEED, n_stories=n, val_fraction=0.0).stories)


def prior_answer(state, who: str) -> str:
    """The prior-only baseline: the entity's most likely place (its habitat's mode), whatever the story said."""
    habitat = state.entity(who).habitat
    return max(zip(habitat.items, habitat.probs), key=lambda t: t[1])[0].phrase


def holder_case(story, question) -> str:
    """Where the holder's name stood when the story said who has the object: ``dialogue`` (asked in quotes),
    ``receiver`` (the name ends the stating sentence: "... gives it to Adam."), else ``subject``."""
    if question.dialogue:
        return "dialogue"
    name = question.truth.removeprefix("with ")
    stated = story.sentences[question.sentence - question.since_sentence]
    return "receiver" if stated.rstrip(".").endswith(" " + name) else "subject"


@torch.no_grad()
def answers(model, tokenizer, stories) -> dict:
    """Experiment 1 (and the long stories of 6): every answerable question, graded, beside the prior."""
    from nbutils.evaluate import answer_correct, encode_story, story_logits, world_questions

    context = model.config.context_length
    rows = []
    for k, story in enumerate(stories):
        encoded = encode_story(story, tokenizer)
        logits = story_logits(model, encoded.ids)
        n = len(encoded.ids) - 1
        for q in world_questions(encoded, tokenizer):
            if not q.answerable:
                continue
            state = story.states[q.sentence - 1]
            right = answer_correct(logits, encoded.ids, q.span)
            holder = q.truth.startswith("with ")
            row = {"story": k, "sentence": q.sentence, "who": q.who, "truth": q.truth, "right": right,
                   "holder": holder, "since": q.since_sentence, "since_tokens": q.since_tokens,
                   "prior_right": (not holder) and prior_answer(state, q.who) == q.truth, "dialogue": q.dialogue}
            # which window read the answer (story_logits: stride half a context), and could it see the fact?
            r, start, filled = q.span[0] - 1, 0, 0
            while True:
                end = min(start + context, n)
                if filled <= r < end:
                    break
                start, filled = start + context // 2, end
            row["window_start"] = start
            row["fact_in_window"] = encoded.sentence_starts[q.sentence - q.since_sentence] >= start
            if holder:
                row["case"] = holder_case(story, q)
                probs = F.softmax(logits[r].float(), dim=-1)
                true_first = encoded.ids[q.span[0]]
                text = tokenizer.decode([true_first]).strip()
                if text in ("I", "You"):
                    other = tokenizer.encode("You" if text == "I" else "I")[0]
                else:
                    slot = state.where[state.entity(q.who).slot]
                    other_child = state.cast.get("boy" if slot == "girl" else "girl")
                    other = tokenizer.encode(" " + other_child.name)[0] if other_child else None
                row["p_true"] = probs[true_first].item()
                row["p_other"] = probs[other].item() if other is not None else None
            if not right and sum(not x["right"] for x in rows) < 12:
                row["text"] = " ".join(story.sentences[max(0, q.sentence - q.since_sentence - 1):q.sentence + 2])
                start_, stop_ = q.span
                row["greedy"] = tokenizer.decode(logits[start_ - 1:stop_ - 1].argmax(-1).tolist())
            rows.append(row)
    return summarise_answers(rows)


def _rate(rows, key="right") -> list[int]:
    return [sum(bool(r[key]) for r in rows), len(rows)]


def summarise_answers(rows: list[dict]) -> dict:
    def bucket(s: int) -> str:
        return "1" if s == 1 else "2" if s == 2 else "3-4" if s <= 4 else "5+"

    places = [r for r in rows if not r["holder"]]
    holders = [r for r in rows if r["holder"]]
    out = {"answerable": _rate(rows), "places": _rate(places), "holders": _rate(holders),
           "prior_places": _rate(places, "prior_right"), "prior_all": _rate(rows, "prior_right"),
           "by_distance": {}, "holder_cases": {}, "failures": [r for r in rows if not r["right"]][:12]}
    for b in ("1", "2", "3-4", "5+"):
        sel = [r for r in places if bucket(r["since"]) == b]
        out["by_distance"][b] = {"model": _rate(sel), "prior": _rate(sel, "prior_right")}
    for case in ("subject", "receiver", "dialogue"):
        sel = [r for r in holders if r["case"] == case]
        split = [r for r in sel if r["p_other"] is not None]
        out["holder_cases"][case] = {"right": _rate(sel),
                                     "p_true": sum(r["p_true"] for r in split) / max(len(split), 1),
                                     "p_other": sum(r["p_other"] for r in split) / max(len(split), 1)}
    out_window = [r for r in rows if not r["fact_in_window"]]
    out["long_stories"] = {"fact_outside_window": _rate(out_window), "prior_outside": _rate(out_window, "prior_right"),
                           "fact_inside_window_of_late_windows": _rate([r for r in rows if r["window_start"] > 0
                                                                        and r["fact_in_window"]])}
    return out


def unanswerable(model, tokenizer, stories) -> dict:
    """Experiment 6: the model's spread over an unanswerable question's places against the world's."""
    from nbutils.evaluate import answer_distribution, encode_story, world_questions

    kls, mass, top_model, top_true, ent_model, ent_true = [], [], [], [], [], []
    for story in stories:
        for q in world_questions(encode_story(story, tokenizer), tokenizer):
            if q.answerable:
                continue
            d = answer_distribution(model, tokenizer, story, q)
            kls.append(d.kl)
            mass.append(d.mass)
            top_model.append(max(d.model))
            top_true.append(max(d.true))
            ent_model.append(-sum(p * math.log(p) for p in d.model if p > 0))
            ent_true.append(-sum(p * math.log(p) for p in d.true if p > 0))
    n = len(kls)
    return {"questions": n, "mean_kl": sum(kls) / n, "mean_mass": sum(mass) / n,
            "mean_top_model": sum(top_model) / n, "mean_top_true": sum(top_true) / n,
            "mean_entropy_model": sum(ent_model) / n, "mean_entropy_true": sum(ent_true) / n}


def _select(rows, task: str, limit: int) -> list[int]:
    return [j for j, r in enumerate(rows) if r.task == task][:limit]


def probe_checkpoint(name: str, model, tokenizer, train, test, rows_train, rows_test, tasks, l2s: dict | None,
                     mlp: bool, log) -> tuple[dict, dict]:
    """Linear probes (with controls) at every depth for ``tasks``; the L2 chosen here when ``l2s`` is None."""
    from nbutils.probes import (choose_l2, control_labels, fit_linear_probe, fit_mlp_probe, location_classes,
                                majority_accuracy)

    n_classes = len(location_classes())
    X_train = residual_features(model, tokenizer, train, rows_train)
    X_test = residual_features(model, tokenizer, test, rows_test)
    chosen = {} if l2s is None else l2s
    out: dict = {}
    for task in tasks:
        jtr, jte = _select(rows_train, task, MAX_TRAIN_ROWS), _select(rows_test, task, MAX_TEST_ROWS)
        y_tr = torch.tensor([rows_train[j].label for j in jtr])
        y_te = torch.tensor([rows_test[j].label for j in jte])
        k = 2 if task == "end:holder" else n_classes
        entry = {"n_train": len(jtr), "n_test": len(jte), "depths": []}
        for depth in range(X_train.shape[0]):
            Xtr, Xte = X_train[depth, jtr], X_test[depth, jte]
            cell: dict = {}
            if l2s is None:
                l2, grid = choose_l2(Xtr, y_tr, [rows_train[j].story for j in jtr], L2_GRID, n_classes=k)
                chosen[(task, depth)] = l2
                cell["l2_grid"] = {str(a): b for a, b in grid.items()}
            l2 = chosen[(task, depth)]
            types_tr, types_te = [rows_train[j].word for j in jtr], [rows_test[j].word for j in jte]
            n_cls = max(k, int(y_tr.max()) + 1, int(y_te.max()) + 1)
            probe = fit_linear_probe(Xtr, y_tr, n_classes=n_cls, l2=l2)
            mapping = control_labels(types_tr + types_te, y_tr.tolist(), seed=0)
            c_tr = torch.tensor([mapping[t] for t in types_tr])
            c_te = torch.tensor([mapping[t] for t in types_te])
            control = fit_linear_probe(Xtr, c_tr, n_classes=n_cls, l2=l2)
            test_acc = probe.accuracy(Xte, y_te)
            cell.update(l2=l2, train=probe.train_accuracy, test=test_acc, control_train=control.train_accuracy,
                        control_test=control.accuracy(Xte, c_te),
                        majority=majority_accuracy(y_tr.tolist(), y_te.tolist()))
            cell["selectivity"] = cell["test"] - cell["control_test"]
            # held-out accuracy split: label said in this very sentence or not; and by entity kind
            hits = (probe.predict(Xte) == y_te).tolist()
            said = [rows_test[j].said_here for j in jte]
            cell["test_said_here"] = _rate([{"right": h} for h, s in zip(hits, said) if s])
            cell["test_said_before"] = _rate([{"right": h} for h, s in zip(hits, said) if not s])
            by_slot: dict = defaultdict(list)
            for h, j in zip(hits, jte):
                by_slot[rows_test[j].slot].append({"right": h})
            cell["test_by_slot"] = {s: _rate(v) for s, v in sorted(by_slot.items())}
            if mlp and task in MLP_TASKS:
                m = fit_mlp_probe(Xtr[:MLP_ROWS], y_tr[:MLP_ROWS], n_classes=n_cls)
                cell["mlp_train"], cell["mlp_test"] = m.train_accuracy, m.accuracy(Xte, y_te)
            entry["depths"].append(cell)
            log(f"{name} {task} depth {depth}: train {cell['train']:.2f} test {cell['test']:.2f} "
                f"control {cell['control_test']:.2f} majority {cell['majority']:.2f} l2 {l2}"
                + (f" mlp {cell['mlp_test']:.2f}" if "mlp_test" in cell else ""))
        out[task] = entry
    return out, chosen


def residual_features(model, tokenizer, stories, rows):
    from nbutils.probes import residual_features as features

    return features(model, tokenizer, stories, rows)


@torch.no_grad()
def attention_to_groups(model, pairs) -> list:
    """Mean attention from the answer position to each group of positions: (n_layer, n_head, len(GROUPS))."""
    from nbutils.patching import GROUPS

    total = torch.zeros(model.config.n_layer, model.config.n_head, len(GROUPS))
    for pair in pairs:
        maps = model.attention_maps(torch.tensor([pair.clean]))
        for layer, m in enumerate(maps):
            row = m[0, :, pair.position]                       # (n_head, T)
            for g, group in enumerate(GROUPS):
                if pair.groups[group]:
                    total[layer, :, g] += row[:, pair.groups[group]].sum(-1)
    return (total / max(len(pairs), 1)).tolist()


@torch.no_grad()
def patching(model, tokenizer, pairs, answer_probes: dict, log) -> dict:
    """Experiment 4: group patching of every pair, steering along the probe direction, head ablation."""
    from nbutils.heads import ablated, head_means
    from nbutils.patching import GROUPS, patch_groups, steered
    from nbutils.probes import location_classes

    classes = location_classes()
    effects, kept, diffs = [], [], []
    for i, pair in enumerate(pairs):
        e, clean, corrupt = patch_groups(model, pair)
        diffs.append((clean, corrupt))
        if clean > 0 > corrupt:          # the model answers both stories right: a path to claim
            kept.append(i)
            effects.append(e)
        if i % 50 == 0:
            log(f"patching pair {i}/{len(pairs)}")
    E = torch.stack(effects)                                  # (pairs, depths, groups)
    result = {"groups": list(GROUPS), "n_pairs": len(pairs), "n_both_right": len(kept),
              "mean_effect": E.nanmean(0).tolist(), "median_effect": E.nanmedian(0).values.tolist(),
              "share_restored": ((E >= 0.5).float().sum(0) / (~E.isnan()).float().sum(0).clamp_min(1)).tolist(),
              "share_nonempty": (~E.isnan()).float().mean(0).tolist(),
              "pair_effects_first": [e.tolist() for e in effects[:3]], "kept": kept}
    valid = [pairs[i] for i in kept]
    # steering: add the answer-position probe's direction (bad -> good class) on the corrupt run
    steer = {}
    gen = torch.Generator().manual_seed(0)
    for depth, probe in answer_probes.items():
        name = "embed" if depth == 0 else f"blocks.{depth - 1}.resid_post"
        for scale in (1.0, 2.0, 4.0):
            hits, random_hits = 0, 0
            for pair in valid:
                good_c, bad_c = classes.index(pair.clean_place), classes.index(pair.corrupt_place)
                w = probe.net.weight
                direction = ((w[good_c] - w[bad_c]) / probe.std).float()
                _, cache_c = model.run_with_cache(torch.tensor([pair.clean]), [name])
                _, cache_x = model.run_with_cache(torch.tensor([pair.corrupt]), [name])
                gap = (cache_c[name][0, pair.position] - cache_x[name][0, pair.position]).norm()
                for vec, is_random in ((direction, False), (torch.randn(direction.shape, generator=gen), True)):
                    vec = vec / vec.norm() * gap * scale
                    with steered(model, name, vec, [pair.position]):
                        logits, _ = model(torch.tensor([pair.corrupt]))
                    hit = int(logits[0, -1].argmax()) == pair.good
                    if is_random:
                        random_hits += hit
                    else:
                        hits += hit
            steer[f"depth{depth}_x{scale:g}"] = {"probe": [hits, len(valid)], "random": [random_hits, len(valid)]}
            log(f"steer depth {depth} x{scale:g}: {hits}/{len(valid)} (random {random_hits})")
    result["steering"] = steer
    # ablation: each head, zero and mean, on the clean runs of the valid pairs (batched, right-padded)
    T = max(len(p.clean) for p in valid)
    idx = torch.zeros(len(valid), T, dtype=torch.long)
    for r, p in enumerate(valid):
        idx[r, :len(p.clean)] = torch.tensor(p.clean)
    pos = torch.tensor([p.position for p in valid])
    good = torch.tensor([p.good for p in valid])
    bad = torch.tensor([p.bad for p in valid])

    def score(logits):
        last = logits[torch.arange(len(valid)), pos]
        return (last.argmax(-1) == good).float().mean().item(), (last.gather(1, good[:, None]) - last.gather(1, bad[:, None])).mean().item()

    base_right, base_diff = score(model(idx)[0])
    means = head_means(model, idx)
    ablation = {"base_right": base_right, "base_diff": base_diff, "heads": {}}
    for layer in range(model.config.n_layer):
        for head in range(model.config.n_head):
            cell = {}
            for mode in ("zero", "mean"):
                with ablated(model, [(layer, head)], mode=mode, means=means):
                    right, diff = score(model(idx)[0])
                cell[mode] = {"right": right, "diff": diff}
            ablation["heads"][f"{layer}.{head}"] = cell
    for layer in range(model.config.n_layer):
        heads = [(layer, h) for h in range(model.config.n_head)]
        with ablated(model, heads, mode="mean", means=means):
            right, diff = score(model(idx)[0])
        ablation[f"layer{layer}_all_mean"] = {"right": right, "diff": diff}
    result["ablation"] = ablation
    result["attention"] = attention_to_groups(model, valid)
    return result


PARTS = ("answers", "probes", "patching")


def run_part(part: str, quick: bool, log) -> dict:
    """One part of the experiments (they can run side by side, each writing its own file)."""
    from nbutils.patching import place_swap_pairs
    from nbutils.probes import choose_l2, fit_linear_probe, location_classes, world_probe_rows
    from nbutils.recipes.world_model import eval_stories
    from nbutils.world import generate_corpus

    test = eval_stories()
    if quick:
        test = test[:100]
    model, tokenizer = load("final")
    context = model.config.context_length
    result: dict = {}
    if part == "answers":
        result["answers"] = answers(model, tokenizer, test)
        log(f"answers: {result['answers']['answerable']}")
        result["unanswerable"] = unanswerable(model, tokenizer, test[:100])
        return result
    train = train_stories(200 if quick else N_TRAIN_STORIES)
    rows_train = world_probe_rows(train, tokenizer, context)
    rows_test = world_probe_rows(test, tokenizer, context)
    if part == "probes":
        result["checkpoints"] = {}
        result["checkpoints"]["final"], l2s = probe_checkpoint("final", model, tokenizer, train, test, rows_train,
                                                               rows_test, TASKS, None, True, log)
        for name in ("untrained", "step_01000", "step_01800", "step_02100"):
            m, _ = load(name)
            tasks = TASKS if name == "untrained" else SNAPSHOT_TASKS
            result["checkpoints"][name], _ = probe_checkpoint(name, m, tokenizer, train, test, rows_train, rows_test,
                                                              tasks, l2s, False, log)
        return result
    # patching: the answer-position probes (for steering) at the depths where they can read the answer
    jtr = _select(rows_train, "answer", MAX_TRAIN_ROWS)
    X_train = residual_features(model, tokenizer, train, [rows_train[j] for j in jtr])
    y_tr = torch.tensor([rows_train[j].label for j in jtr])
    answer_probes = {}
    for d in (2, 3, 4):
        l2, _ = choose_l2(X_train[d], y_tr, [rows_train[j].story for j in jtr], L2_GRID, n_classes=len(location_classes()))
        answer_probes[d] = fit_linear_probe(X_train[d], y_tr, n_classes=len(location_classes()), l2=l2)
    extra = list(generate_corpus(PAIR_SEED, n_stories=60 if quick else 600, val_fraction=0.0).stories)
    pairs = place_swap_pairs(test + extra, tokenizer, context, max_pairs=40 if quick else 250)
    log(f"{len(pairs)} place-swap pairs")
    result["patching"] = patching(model, tokenizer, pairs, answer_probes, log)
    return result


#: The small slice notebook 09 recomputes live (same calls, same arguments): probes on the first
#: SLICE_TRAIN training stories and SLICE_TEST evaluation stories, and pairs from the first SLICE_PAIR_STORIES.
SLICE_TRAIN, SLICE_TEST, SLICE_PAIR_STORIES, SLICE_L2, SLICE_TASKS = 200, 100, 40, 0.1, ("end:pet", "answer")


def fetch_head(patching_result: dict) -> tuple[int, int]:
    """The head that fetches the fact: of all heads, the one whose answer position attends most to the
    place word (the mean over the pairs)."""
    groups = patching_result["groups"]
    attention = torch.tensor(patching_result["attention"])[:, :, groups.index("place word")]
    layer, head = divmod(int(attention.argmax()), attention.shape[1])
    return layer, head


def live_slice(model, untrained, tokenizer, train, test, head: tuple[int, int]) -> dict:
    """What the notebook recomputes: linear probes (l2 = SLICE_L2) for SLICE_TASKS at every depth of the final
    and the untrained model, and the answers of the first pairs with ``head`` zeroed."""
    from nbutils.heads import ablated
    from nbutils.patching import place_swap_pairs
    from nbutils.probes import fit_linear_probe, location_classes, world_probe_rows

    rows_train = world_probe_rows(train, tokenizer, model.config.context_length)
    rows_test = world_probe_rows(test, tokenizer, model.config.context_length)
    out: dict = {"probes": {}}
    for name, m in (("final", model), ("untrained", untrained)):
        X_train = residual_features(m, tokenizer, train, rows_train)
        X_test = residual_features(m, tokenizer, test, rows_test)
        for task in SLICE_TASKS:
            jtr = [j for j, r in enumerate(rows_train) if r.task == task]
            jte = [j for j, r in enumerate(rows_test) if r.task == task]
            y_tr = torch.tensor([rows_train[j].label for j in jtr])
            y_te = torch.tensor([rows_test[j].label for j in jte])
            accs = []
            for depth in range(X_train.shape[0]):
                probe = fit_linear_probe(X_train[depth, jtr], y_tr, n_classes=len(location_classes()), l2=SLICE_L2)
                accs.append([probe.train_accuracy, probe.accuracy(X_test[depth, jte], y_te)])
            out["probes"][f"{name} {task}"] = accs
    pairs = place_swap_pairs(test[:SLICE_PAIR_STORIES], tokenizer, model.config.context_length)
    kept = []
    with torch.no_grad():
        for p in pairs:
            clean = model(torch.tensor([p.clean]))[0][0, -1]
            corrupt = model(torch.tensor([p.corrupt]))[0][0, -1]
            if clean[p.good] - clean[p.bad] > 0 > corrupt[p.good] - corrupt[p.bad]:
                kept.append(p)
        right = []
        with ablated(model, [head], mode="zero"):
            for p in kept:
                right.append(int(model(torch.tensor([p.clean]))[0][0, -1].argmax()) == p.good)
    out.update(head=list(head), n_pairs=len(pairs), n_kept=len(kept), ablated_right=[sum(right), len(right)])
    return out


def add_slice(out: Path, quick: bool, log) -> None:
    """After the merge: the notebook's live slice, with the fetching head found by the patching part."""
    import json

    from nbutils.device import seed_everything
    from nbutils.recipes.world_model import eval_stories

    result = json.loads(out.read_text())
    seed_everything(0)
    model, tokenizer = load("final")
    untrained, _ = load("untrained")
    test = eval_stories()
    n_train, n_test = (50, 40) if quick else (SLICE_TRAIN, SLICE_TEST)
    result["slice"] = live_slice(model, untrained, tokenizer, train_stories(n_train), test[:n_test],
                                 fetch_head(result["patching"]))
    write_json(out, result)
    log(f"slice: {result['slice']['ablated_right']} {result['slice']['head']}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--part", choices=PARTS + ("all", "merge", "slice"), default="all",
                        help="run one part (writes OUT with the part's name before .json), all of them (then merge and "
                             "slice), merge the parts' files into OUT, or add the notebook's live slice to OUT")
    parser.add_argument("--quick", action="store_true", help="a small smoke test (a few stories)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--model", type=Path, default=None,
                        help="another model folder in place of the shipped world model (for example a longer run "
                             "of nbutils.recipes.world_model; its snapshots/ are used where a part needs them), e.g. "
                             "--part answers --model RUN --out RUN/probe_scores.json")
    args = parser.parse_args(argv)
    if args.model is not None:
        global ASSET
        ASSET = args.model
    torch.set_num_threads(args.threads)
    from nbutils.device import seed_everything

    def part_file(part: str) -> Path:
        return args.out.with_name(f"{args.out.stem}.{part}.json")

    log = Progress()
    parts = PARTS if args.part in ("all", "merge") else (args.part,)
    if args.part not in ("merge", "slice"):
        for part in parts:
            seed_everything(0)
            started = time.perf_counter()
            data = run_part(part, args.quick, log)
            data["elapsed_s"] = round(time.perf_counter() - started, 1)
            write_json(part_file(part), data)
            log(f"{part}: done in {data['elapsed_s']:.0f} s")
    if args.part in ("all", "merge"):
        import json

        result: dict = {"recipe": "python -m nbutils.recipes.world_probes" + (" --quick" if args.quick else ""),
                        "versions": versions(), "train_stories": f"generate_corpus({TRAIN_SEED}, n_stories="
                        f"{200 if args.quick else N_TRAIN_STORIES})", "l2_grid": list(L2_GRID),
                        "max_train_rows": MAX_TRAIN_ROWS, "max_test_rows": MAX_TEST_ROWS, "elapsed_s": {}}
        for part in PARTS:
            data = json.loads(part_file(part).read_text())
            result["elapsed_s"][part] = data.pop("elapsed_s")
            result.update(data)
        write_json(args.out, result)
        for part in PARTS:
            part_file(part).unlink()
    if args.part in ("all", "slice"):
        add_slice(args.out, args.quick, log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
