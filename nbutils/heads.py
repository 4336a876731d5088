"""Attention heads one at a time: knocking them out (ablation) and scoring what they do (notebook 10).

**Ablation.** A head's output in layer i is the slice ``[:, h]`` of the hook point ``blocks.{i}.head_out``
(shape (B, n_head, T, head_dim), before ``c_proj`` mixes the heads into the stream). ``ablated(model, heads)``
replaces that slice, inside a ``with`` block, by zeros (``mode="zero"``) or by the head's mean output over
some reference text (``mode="mean"``, the means from ``head_means``). Zero ablation asks "what if this head
wrote nothing?"; mean ablation asks "what if it wrote what it writes on average, whatever the input?", which
keeps the stream at its usual scale (Olsson et al. 2022 use both). Everything runs through the model's hook
points: the same one forward, no copy of the model.

**Scores** (each a tensor of shape (n_layer, n_head), one number per head, in the spirit of Olsson et al.
2022, "In-context learning and induction heads", and Elhage et al. 2021, "A mathematical framework for
transformer circuits"), all read on ``repeated_tokens``: a random sequence of length n followed by itself,

    [r_0, r_1, ..., r_{n-1}, r_0, r_1, ..., r_{n-1}]        positions 0..2n-1

- ``previous_token_scores``: the mean attention from position t to position t - 1.
- ``prefix_matching_scores``: the mean attention, from a position t = n + j of the second copy, to the
  position j + 1 of the first copy: the token that *followed* the earlier occurrence of the current token.
  A head that attends there (an **induction head**) can copy what came next last time.
- ``copying_scores``: see its docstring (how much a head's output, read through the unembedding, raises the
  logit of the token the head attends to).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterable, Iterator

import torch
import torch.nn.functional as F

from nbutils.validate import require_int

__all__ = ["ablated", "head_means", "repeated_tokens", "previous_token_scores", "prefix_matching_scores",
           "copying_scores", "prefix_matching_from_pattern", "second_copy_losses", "top_heads"]

ABLATION_MODES = ("zero", "mean")


def _check_heads(model, heads: Iterable[tuple[int, int]]) -> dict[int, list[int]]:
    """{layer: [head, ...]} from an iterable of (layer, head) pairs, with clear errors for bad pairs."""
    n_layer, n_head = model.config.n_layer, model.config.n_head
    by_layer: dict[int, list[int]] = {}
    for pair in heads:
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise ValueError(f"heads must be (layer, head) pairs, got {pair!r}")
        layer = require_int("layer", pair[0], minimum=0, maximum=n_layer - 1)
        head = require_int("head", pair[1], minimum=0, maximum=n_head - 1)
        if head not in by_layer.setdefault(layer, []):
            by_layer[layer].append(head)
    return by_layer


@contextmanager
def ablated(model, heads: Iterable[tuple[int, int]], mode: str = "zero",
            means: dict[int, torch.Tensor] | None = None) -> Iterator:
    """Inside the block, the given (layer, head) outputs are replaced by zeros ("zero") or by their mean output
    ("mean", means[layer] of shape (n_head, head_dim) as from head_means(...)).

    The replacement happens at the hook points ``blocks.{layer}.head_out``, at every position and for every
    sequence of the batch; the other heads are untouched. ``c_proj`` still adds its bias, so a layer with all
    its heads zeroed adds exactly ``c_proj.bias`` to the stream. For example::

        with ablated(model, [(1, 2)]):            # head 2 of layer 1 writes nothing
            logits, loss = model(idx, targets)
    """
    if mode not in ABLATION_MODES:
        raise ValueError(f"mode must be one of {ABLATION_MODES}, got {mode!r}")
    by_layer = _check_heads(model, heads)
    head_dim = model.config.n_embd // model.config.n_head
    if mode == "mean":
        if means is None:
            raise ValueError('mode="mean" needs means={layer: tensor (n_head, head_dim)}, from head_means(model, idx)')
        for layer in by_layer:
            if layer not in means:
                raise ValueError(f"means has no entry for layer {layer}; compute it with head_means(model, idx)")
            if tuple(means[layer].shape) != (model.config.n_head, head_dim):
                raise ValueError(f"means[{layer}] must have shape ({model.config.n_head}, {head_dim}), "
                                 f"got {tuple(means[layer].shape)}")

    def make_hook(layer: int, chosen: list[int]):
        def hook(x: torch.Tensor, name: str) -> torch.Tensor:
            x = x.clone()                                   # (B, n_head, T, head_dim)
            if mode == "zero":
                x[:, chosen] = 0.0
            else:
                x[:, chosen] = means[layer][chosen].to(device=x.device, dtype=x.dtype)[None, :, None, :]
            return x
        return hook

    with model.hooked({f"blocks.{layer}.head_out": make_hook(layer, chosen)
                       for layer, chosen in by_layer.items()}):
        yield model


@torch.no_grad()
def head_means(model, idx: torch.Tensor) -> dict[int, torch.Tensor]:
    """Every head's mean output over a batch of text: {layer: tensor (n_head, head_dim)}, averaged over the
    sequences and positions of ``idx`` (B, T). These are the replacements of mean ablation."""
    names = [f"blocks.{i}.head_out" for i in range(model.config.n_layer)]
    was_training = model.training
    model.eval()
    try:
        _, cache = model.run_with_cache(idx, names)
    finally:
        model.train(was_training)
    return {i: cache[name].mean(dim=(0, 2)) for i, name in enumerate(names)}
