"""Activation patching: move one activation from one run into another and watch the answer change.

Two stories differ in one fact ("The cat jumps onto the roof." / "... into the garden."). Run the model on
both; then run it on the *corrupt* story again, but at one hook point (layer) and one position put back the
activation of the *clean* story. If the answer to "Where is the cat?" moves back to the clean answer, the fact
travels through that (layer, position). Doing this for every layer and position gives a map of where the fact
flows from the sentence that stated it to the answer (Meng et al. 2022 call it causal tracing; Heimersheim &
Nanda 2024, "How to use and interpret activation patching", is a guide to reading such maps).

The measure is the **logit difference** at the answer position, ``logit(clean answer) - logit(corrupt answer)``,
and the patching effect is normalised so that 0 means "as the corrupt run" and 1 "as the clean run":

    effect = (patched_diff - corrupt_diff) / (clean_diff - corrupt_diff)

The hooks themselves live in the model (``GPT.patched``, ``nbutils.model.patch_hook``); this module adds the
measure and the grid.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Sequence

import torch

from nbutils.validate import require_int

__all__ = ["logit_difference", "patch_effect", "patch_grid", "GROUPS", "PlacePair", "place_swap_pairs", "patch_groups",
           "steered"]


def logit_difference(logits: torch.Tensor, position: int, good: int, bad: int) -> float:
    """``logits[0, position, good] - logits[0, position, bad]`` for a batch of one: how much more the model
    prefers token ``good`` over ``bad`` as the token after ``position``."""
    if logits.dim() != 3 or logits.shape[0] != 1:
        raise ValueError(f"expected logits of shape (1, T, V), got {tuple(logits.shape)}")
    return float(logits[0, position, good] - logits[0, position, bad])


def patch_effect(patched: float, clean: float, corrupt: float) -> float:
    """The normalised effect of a patch: 0 = the corrupt run's logit difference, 1 = the clean run's."""
    if clean == corrupt:
        raise ValueError("the clean and corrupt runs give the same logit difference: nothing to restore")
    return (patched - corrupt) / (clean - corrupt)


@torch.no_grad()
def patch_grid(model, clean_idx: torch.Tensor, corrupt_idx: torch.Tensor, position: int, good: int, bad: int,
               kind: str = "resid_post", layers: Sequence[int] | None = None,
               positions: Sequence[int] | None = None) -> torch.Tensor:
    """The patching effect of every (layer, position): a tensor (len(layers), len(positions)).

    Cell ``[i, j]``: run ``corrupt_idx`` with the hook point ``blocks.{layers[i]}.{kind}`` replaced at
    ``positions[j]`` by the clean run's activation there, and measure :func:`patch_effect` of the logit
    difference (``good`` - ``bad``) at ``position``. ``kind="embed"`` patches the embeddings (one row).
    Both inputs are (1, T) with the same T (stories that differ in a word of the same token length).
    """
    if clean_idx.shape != corrupt_idx.shape or clean_idx.dim() != 2 or clean_idx.shape[0] != 1:
        raise ValueError(f"need clean and corrupt inputs of the same shape (1, T), got {tuple(clean_idx.shape)} "
                         f"and {tuple(corrupt_idx.shape)}")
    T = clean_idx.shape[1]
    position = require_int("position", position, minimum=0, maximum=T - 1)
    layers = list(range(model.config.n_layer)) if layers is None else list(layers)
    positions = list(range(T)) if positions is None else list(positions)
    names = ["embed"] if kind == "embed" else [f"blocks.{layer}.{kind}" for layer in layers]
    was_training = model.training
    model.eval()
    try:
        clean_logits, cache = model.run_with_cache(clean_idx, names)
        corrupt_logits, _ = model(corrupt_idx)
        clean = logit_difference(clean_logits, position, good, bad)
        corrupt = logit_difference(corrupt_logits, position, good, bad)
        grid = torch.zeros(len(names), len(positions))
        for i, name in enumerate(names):
            for j, p in enumerate(positions):
                with model.patched(name, cache[name], positions=[p]):
                    logits, _ = model(corrupt_idx)
                grid[i, j] = patch_effect(logit_difference(logits, position, good, bad), clean, corrupt)
    finally:
        model.train(was_training)
    return grid


# ---- pairs of stories that differ in one fact ----------------------------------------------------------------
#: The position groups of a place-swap pair, in story order (see :class:`PlacePair`).
GROUPS = ("before", "stating", "place word", "stating end", "between", "question", "question ?", "answer lead",
          "answer position")


@dataclass(frozen=True)
class PlacePair:
    """Two inputs that differ in one fact: the clean story says ``who`` went to ``clean_place``, the corrupt
    copy (one place noun edited, checked against the world's grammar) says ``corrupt_place``. Both end at the
    answer position of "Where is <who>?" (the token before the place noun of the answer), so the next token is
    ``good`` (clean) or ``bad`` (corrupt). ``groups`` maps each name of :data:`GROUPS` to its token
    positions: the story before the stating sentence, the stating sentence before the place noun, the
    place noun, the rest of the stating sentence, the sentences between, the question (its last token "?"
    apart), the answer's lead ("The cat is on the"), and the answer position itself."""

    clean: list[int]
    corrupt: list[int]
    good: int
    bad: int
    who: str
    clean_place: str
    corrupt_place: str
    groups: dict[str, list[int]]
    story: int
    since_sentences: int

    @property
    def position(self) -> int:
        return len(self.clean) - 1


def _swap_word(sentence: str, old: str, new: str) -> str | None:
    """Replace the one whole word ``old`` of ``sentence`` by ``new`` (None if it is not there exactly once)."""
    parts = re.split(r"(\W+)", sentence)
    if parts.count(old) != 1:
        return None
    return "".join(new if p == old else p for p in parts)


def place_swap_pairs(stories: Sequence, tokenizer, context_length: int, max_pairs: int | None = None,
                     check_grammar: bool = True) -> list[PlacePair]:
    """One :class:`PlacePair` per answerable "Where is X?" whose truth is a place stated (by its noun) in one
    sentence: the noun is swapped for the most likely other place of the entity's habitat with the same
    preposition and the same number of tokens, in the stating sentence and in the answer. With
    ``check_grammar`` the edited story (up to the answer) must have a nonzero probability under the world's
    generator (``nbutils.world.truth.score_story``), so the corrupt story is one the world could write."""
    from nbutils.evaluate import encode_story, world_questions
    from nbutils.world.lexicon import Place
    from nbutils.world.truth import score_story

    sep = tokenizer.encode("\n\n")
    pairs: list[PlacePair] = []
    for k, story in enumerate(stories):
        encoded = encode_story(story, tokenizer)
        for q in world_questions(encoded, tokenizer):
            if max_pairs is not None and len(pairs) >= max_pairs:
                return pairs
            if not q.answerable or q.span[1] > context_length:
                continue
            state = story.states[q.sentence - 1]
            entity = state.entity(q.who)
            place = state.where[entity.slot]
            s = q.sentence - q.since_sentence
            if not isinstance(place, Place) or s < 0:
                continue
            noun = place.noun.en
            text_between = " ".join(story.sentences[s + 1:q.sentence + 1])
            if re.search(rf"\b{noun}\b", text_between):
                continue
            n_tokens = len(tokenizer.encode(" " + noun))
            options = sorted(((p, pr) for p, pr in zip(entity.habitat.items, entity.habitat.probs)
                              if p.prep == place.prep and p.noun.en != noun
                              and len(tokenizer.encode(" " + p.noun.en)) == n_tokens
                              and not re.search(rf"\b{p.noun.en}\b", " ".join(story.sentences[:q.sentence + 2]))),
                             key=lambda t: -t[1])
            for other, _ in options:
                stated = _swap_word(story.sentences[s], noun, other.noun.en)
                answer = _swap_word(story.sentences[q.sentence + 1], noun, other.noun.en)
                if stated is None or answer is None:
                    break
                edited = list(story.sentences[:q.sentence + 2])
                edited[s], edited[q.sentence + 1] = stated, answer
                if check_grammar and not math.isfinite(score_story(" ".join(edited)).nll):
                    continue
                ids_c = list(sep) + tokenizer.encode(" ".join(story.sentences[:q.sentence + 2]))
                ids_x = list(sep) + tokenizer.encode(" ".join(edited))
                if len(ids_c) != len(ids_x):
                    break
                diff = [t for t in range(len(ids_c)) if ids_c[t] != ids_x[t]]
                in_answer = [t for t in diff if t >= q.span[0]]
                stating = [t for t in diff if t < q.span[0]]
                if not in_answer or not stating:
                    break
                p = in_answer[0] - 1
                if p + 1 > context_length:
                    break
                starts = encoded.sentence_starts
                s_start, s_stop = starts[s], starts[s + 1]
                q_start, q_stop = starts[q.sentence], starts[q.sentence + 1]
                groups = {"before": list(range(0, s_start)), "stating": list(range(s_start, stating[0])),
                          "place word": stating, "stating end": list(range(stating[-1] + 1, s_stop)),
                          "between": list(range(s_stop, q_start)), "question": list(range(q_start, q_stop - 1)),
                          "question ?": [q_stop - 1], "answer lead": list(range(q_stop, p)), "answer position": [p]}
                pairs.append(PlacePair(ids_c[:p + 1], ids_x[:p + 1], ids_c[p + 1], ids_x[p + 1], q.who, place.phrase,
                                       other.phrase, groups, k, q.since_sentence))
                break
    return pairs


@torch.no_grad()
def patch_groups(model, pair: PlacePair, groups: Sequence[str] = GROUPS) -> tuple[torch.Tensor, float, float]:
    """Patch the clean run into the corrupt one at every depth (the embeddings, then the stream after each
    block) and every group of positions at once. Returns ``(effects, clean_diff, corrupt_diff)``: effects
    has shape (n_layer + 1, len(groups)), NaN where a group is empty; 1 = the clean answer is back."""
    names = ["embed"] + [f"blocks.{i}.resid_post" for i in range(model.config.n_layer)]
    clean_idx, corrupt_idx = torch.tensor([pair.clean]), torch.tensor([pair.corrupt])
    clean_logits, cache = model.run_with_cache(clean_idx, names)
    corrupt_logits, _ = model(corrupt_idx)
    p = pair.position
    clean = logit_difference(clean_logits, p, pair.good, pair.bad)
    corrupt = logit_difference(corrupt_logits, p, pair.good, pair.bad)
    effects = torch.full((len(names), len(groups)), float("nan"))
    for i, name in enumerate(names):
        for j, group in enumerate(groups):
            positions = pair.groups[group]
            if not positions:
                continue
            with model.patched(name, cache[name], positions=positions):
                logits, _ = model(corrupt_idx)
            effects[i, j] = patch_effect(logit_difference(logits, p, pair.good, pair.bad), clean, corrupt)
    return effects, clean, corrupt


def steered(model, name: str, vector: torch.Tensor, positions: "list[int] | None" = None):
    """Run the model with ``vector`` (shape (C,)) added to the residual stream at hook point ``name`` at
    ``positions`` (None: all), inside a ``with`` block: steering along a direction."""
    vector = torch.as_tensor(vector)
    if vector.dim() != 1:
        raise ValueError(f"the steering vector must have shape (C,), got {tuple(vector.shape)}")

    def hook(x: torch.Tensor, _name: str) -> torch.Tensor:
        if vector.shape[0] != x.shape[-1]:
            raise ValueError(f"the steering vector has {vector.shape[0]} numbers, the stream {x.shape[-1]}")
        mask = torch.zeros(x.shape[1], 1, dtype=x.dtype, device=x.device)
        mask[positions if positions is not None else slice(None)] = 1
        return x + mask * vector.to(dtype=x.dtype, device=x.device)

    return model.hooked({name: hook})
