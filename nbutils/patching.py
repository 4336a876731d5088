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

from typing import Sequence

import torch

from nbutils.validate import require_int

__all__ = ["logit_difference", "patch_effect", "patch_grid"]


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
