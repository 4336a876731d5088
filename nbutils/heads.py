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

__all__ = ["ablated", "head_means", "repeated_tokens", "per_position_losses", "second_copy_losses",
           "previous_token_scores", "prefix_matching_from_pattern", "prefix_matching_scores", "copying_scores",
           "recall_scores", "top_heads", "planted_induction_model"]

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
    its heads zeroed adds exactly ``c_proj.bias`` to the stream. The model's hooks do not nest, so inside the
    block run the model itself (``model(idx)``), not ``run_with_cache`` or the scores. For example::

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
    cache = _cache_in_eval(model, idx, names)
    return {i: cache[name].mean(dim=(0, 2)) for i, name in enumerate(names)}


def _cache_in_eval(model, idx: torch.Tensor, names: list[str]) -> dict[str, torch.Tensor]:
    """``model.run_with_cache(idx, names)``'s cache, run in eval mode (the model's mode is restored after)."""
    was_training = model.training
    model.eval()
    try:
        return model.run_with_cache(idx, names)[1]
    finally:
        model.train(was_training)


# ---- the test input: random tokens, repeated -----------------------------------------------------------------
def repeated_tokens(n: int, batch: int, vocab_size: int, seed: int = 0,
                    choices: torch.Tensor | None = None) -> torch.Tensor:
    """``batch`` sequences of ``2 n`` token ids: n random tokens, then the same n again, (batch, 2n) long.

    Within a copy no token repeats (each row draws n different ids), so in the second copy every token has
    exactly one earlier occurrence, and what followed it there is the right prediction. The tokens are drawn
    from ``range(vocab_size)``, or from the ids in ``choices`` (say, to leave out special tokens), seeded."""
    n = require_int("n", n)
    batch = require_int("batch", batch)
    pool = torch.arange(require_int("vocab_size", vocab_size)) if choices is None else torch.as_tensor(choices).long()
    if n > len(pool):
        raise ValueError(f"cannot draw {n} different tokens from {len(pool)} ids")
    generator = torch.Generator().manual_seed(seed)
    first = torch.stack([pool[torch.randperm(len(pool), generator=generator)[:n]] for _ in range(batch)])
    return torch.cat([first, first], dim=1)


@torch.no_grad()
def per_position_losses(model, idx: torch.Tensor) -> torch.Tensor:
    """The loss (nats) of predicting ``idx[:, t + 1]`` from ``idx[:, :t + 1]``, averaged over the batch:
    a tensor of length T - 1 whose entry t is the loss of the token at position t + 1. On ``repeated_tokens``
    entries n-1 .. 2n-2 are the second copy (its first token is the (n-1)-th entry)."""
    logits, _ = model(idx)
    losses = F.cross_entropy(logits[:, :-1].transpose(1, 2).float(), idx[:, 1:], reduction="none")
    return losses.mean(dim=0)


def second_copy_losses(model, idx: torch.Tensor) -> tuple[float, float]:
    """(mean loss on the first copy, mean loss on the second copy) of ``repeated_tokens``, in nats per token.
    The first token of each copy is left out: no model can predict the first one, and the first token of the
    second copy (r_0 after r_{n-1}) has been seen only at the very start, with nothing before it."""
    n = _half(idx)
    losses = per_position_losses(model, idx)           # entry t predicts position t + 1
    return float(losses[: n - 1].mean()), float(losses[n:].mean())


def _half(idx: torch.Tensor) -> int:
    if idx.dim() != 2 or idx.shape[1] % 2 or not torch.equal(idx[:, : idx.shape[1] // 2], idx[:, idx.shape[1] // 2:]):
        raise ValueError("expected repeated_tokens: (B, 2n) ids whose second half repeats the first")
    return idx.shape[1] // 2


# ---- scores from the attention pattern ----------------------------------------------------------------------
def _maps(model, idx: torch.Tensor) -> torch.Tensor:
    """Every layer's attention weights stacked: (n_layer, B, n_head, T, T)."""
    was_training = model.training
    model.eval()
    try:
        return torch.stack(model.attention_maps(idx))
    finally:
        model.train(was_training)


@torch.no_grad()
def previous_token_scores(model, idx: torch.Tensor) -> torch.Tensor:
    """For every head, the mean attention from position t to position t - 1 (over t = 1..T-1 and the batch):
    (n_layer, n_head), each in [0, 1]. 1: the head always looks at the token just before."""
    maps = _maps(model, idx)                          # (L, B, H, T, T)
    T = idx.shape[1]
    t = torch.arange(1, T)
    return maps[..., t, t - 1].mean(dim=(1, 3))


def prefix_matching_from_pattern(pattern: torch.Tensor, n: int) -> float:
    """The prefix-matching score of one head's attention pattern on a repeated sequence of 2n tokens.

    ``pattern`` (2n, 2n): row t is where position t looks. For every position t = n + j of the second copy
    (j = 0..n-1), the attention it pays to position j + 1, the token that followed the first occurrence of the
    current token; the score is their mean, in [0, 1]."""
    n = require_int("n", n)
    if pattern.dim() != 2 or pattern.shape != (2 * n, 2 * n):
        raise ValueError(f"expected a ({2 * n}, {2 * n}) attention pattern, got {tuple(pattern.shape)}")
    j = torch.arange(n)
    return float(pattern[n + j, j + 1].mean())


@torch.no_grad()
def prefix_matching_scores(model, idx: torch.Tensor) -> torch.Tensor:
    """For every head, :func:`prefix_matching_from_pattern` averaged over the batch of ``repeated_tokens``:
    (n_layer, n_head), each in [0, 1]. An induction head scores near 1; a head that spreads its attention
    evenly scores about 1 / (number of positions it can see)."""
    n = _half(idx)
    maps = _maps(model, idx)                          # (L, B, H, 2n, 2n)
    j = torch.arange(n)
    return maps[..., n + j, j + 1].mean(dim=(1, 3))


@torch.no_grad()
def copying_scores(model, idx: torch.Tensor, where: torch.Tensor | None = None) -> torch.Tensor:
    """For every head: does what it writes raise the logit of the token it looks at? (n_layer, n_head) in [0, 1].

    At every position t of the second copy of ``repeated_tokens``, take the token the head attends to most,
    ``a = idx[argmax_s weights[t, s]]``, and the head's own contribution to the stream there,
    ``o = W_O^h z^h_t`` (its output ``z`` at the hook point ``blocks.{i}.head_out`` through its slice of
    ``c_proj``). Read ``o`` directly through the unembedding, the way the final LayerNorm would pass it on
    (centred, times the LayerNorm's weight; the division by the stream's spread is left out, it scales every
    logit alike): ``d = W_U (ln_f.weight * (o - mean(o)))``, how much the head alone raises each token's logit.
    The score at t is the share of the other tokens whose logit the head raises less than a's (ties count a
    half); the head's score is the mean over t and the batch. 0.5: the head does not favour the token it
    reads (or writes nothing the unembedding sees); 1: it raises that token above every other one (it copies);
    below 0.5: it pushes that token down. ``where`` (B, T, boolean) scores other positions of any text instead
    of the second copy."""
    if where is None:
        where = torch.zeros_like(idx, dtype=torch.bool)
        where[:, _half(idx):] = True
    if where.shape != idx.shape:
        raise ValueError(f"where must have the shape of idx {tuple(idx.shape)}, got {tuple(where.shape)}")
    cfg = model.config
    d = cfg.n_embd // cfg.n_head
    names = [f"blocks.{i}.{kind}" for i in range(cfg.n_layer) for kind in ("attn", "head_out")]
    cache = _cache_in_eval(model, idx, names)
    W_U = model.lm_head.weight                         # (V, C)
    gamma = model.ln_f.weight                          # (C,)
    rows = torch.arange(idx.shape[0])[:, None]
    scores = torch.zeros(cfg.n_layer, cfg.n_head)
    for i in range(cfg.n_layer):
        W_O = model.blocks[i].attn.c_proj.weight       # (C, C): column block h*d:(h+1)*d belongs to head h
        for h in range(cfg.n_head):
            weights = cache[f"blocks.{i}.attn"][:, h]                           # (B, T, T)
            attended = idx[rows, weights.argmax(dim=-1)][where]                 # (N,) over the chosen positions
            z = cache[f"blocks.{i}.head_out"][:, h][where]                      # (N, d)
            o = z @ W_O[:, h * d:(h + 1) * d].T                                  # (N, C)
            rise = ((o - o.mean(dim=-1, keepdim=True)) * gamma) @ W_U.T         # (N, V)
            mine = rise.gather(-1, attended[:, None])                           # (N, 1)
            below = (rise < mine).sum(-1).float() + 0.5 * ((rise == mine).sum(-1).float() - 1)
            scores[i, h] = (below / (cfg.vocab_size - 1)).mean()
    return scores


@torch.no_grad()
def recall_scores(model, idx: torch.Tensor, where: torch.Tensor | None = None) -> torch.Tensor:
    """For every head, how much attention a position pays to the earlier occurrences of the token that comes
    next: (n_layer, n_head) in [0, 1].

    At a position t whose next token ``idx[b, t + 1]`` already occurred at some positions s <= t, add up the
    attention from t to those positions; the score is the mean of these sums over all such t (and the batch),
    or over those where the boolean mask ``where`` (B, T) is True. On ``repeated_tokens`` the earlier
    occurrence of the next token ``r_{j+1}`` is position j + 1, so this is the prefix-matching score; on a
    story, with ``where`` marking the positions just before a name, it asks which heads look back at the name
    about to be repeated."""
    B, T = idx.shape
    if where is None:
        where = torch.ones(B, T, dtype=torch.bool)
    if where.shape != idx.shape:
        raise ValueError(f"where must have the shape of idx {tuple(idx.shape)}, got {tuple(where.shape)}")
    maps = _maps(model, idx)                          # (L, B, H, T, T)
    nxt = idx[:, 1:]                                  # the token after position t, for t = 0..T-2
    earlier = (idx[:, None, :] == nxt[:, :, None]) & torch.ones(T - 1, T, dtype=torch.bool).tril()  # (B, T-1, T)
    use = earlier.any(-1) & where[:, :-1]            # (B, T-1): positions t with an earlier occurrence
    if not use.any():
        raise ValueError("no position has its next token earlier in the sequence")
    mass = (maps[..., :-1, :] * earlier[None, :, None].float()).sum(-1)        # (L, B, H, T-1)
    return (mass * use[None, :, None].float()).sum(dim=(1, 3)) / use.sum()


def top_heads(scores: torch.Tensor, k: int = 1) -> list[tuple[int, int, float]]:
    """The ``k`` best heads of a (n_layer, n_head) score table: [(layer, head, score), ...], best first."""
    k = require_int("k", k, maximum=scores.numel())
    values, flat = scores.flatten().topk(k)
    n_head = scores.shape[1]
    return [(int(f) // n_head, int(f) % n_head, float(v)) for v, f in zip(values, flat)]


# ---- a model whose induction circuit is built by hand ------------------------------------------------------
@torch.no_grad()
def planted_induction_model(vocab_size: int = 8, context_length: int = 20, strength: float = 2.0):
    """A two-layer GPT (the course's own ``GPT``, 2 heads per layer, no biases) whose weights are set by hand
    so that it is an induction circuit (Elhage et al. 2021, section "Induction heads"):

    - the stream has three subspaces: the current token (dims ``0..V-1``, one-hot: the token embedding),
      the position (dims ``V..V+P-1``, one-hot: the position embedding) and "the token before me"
      (dims ``V+P..2V+P-1``, empty at first);
    - **layer 0, head 0, a previous-token head**: its query is the position t, its key at s is the position s + 1,
      so position t looks at t - 1; its value is the token, and ``c_proj`` writes it into "the token before me";
    - **layer 1, head 0, an induction head**: its query is the current token, its key at s is "the token before
      s", so position t looks at the position just after an earlier occurrence of its own token; its value is
      that position's token, which ``c_proj`` writes into the token subspace: it raises that token's logit
      (the unembedding is the token embedding, tied);
    - head 1 of each layer is a distractor: it attends evenly (query 0) and writes small random numbers into
      four spare dimensions;
    - the MLPs are switched off (all their weights 0: the course GPT has no attention-only setting, so the
      MLP adds exactly 0).

    The LayerNorms stay (weight 1; the final one 3, to make the copied token's logit decisive); they subtract
    each row's mean and divide by its spread, which blurs the one-hot pattern a little but keeps it.
    ``strength`` scales queries and keys (sharper attention). Returns the model in eval mode.
    """
    from nbutils.model import GPT, GPTConfig

    V, P = require_int("vocab_size", vocab_size, minimum=2), require_int("context_length", context_length, minimum=2)
    d = max(P, V)                                  # head size: a head must hold a whole position or token code
    C = 2 * d                                      # two heads per layer
    if C < 2 * V + P + 4:
        d = (2 * V + P + 4 + 1) // 2
        C = 2 * d
    tok, pos, prev, spare = 0, V, V + P, 2 * V + P
    model = GPT(GPTConfig(vocab_size=V, context_length=P, n_layer=2, n_head=2, n_embd=C, bias=False))
    for p in model.parameters():
        p.zero_()
    model.wte.weight[:, tok:tok + V] = torch.eye(V)
    model.wpe.weight[:, pos:pos + P] = torch.eye(P)
    for block in model.blocks:
        block.ln_1.weight.fill_(1.0)
        block.ln_2.weight.fill_(1.0)
    model.ln_f.weight.fill_(3.0)
    generator = torch.Generator().manual_seed(0)
    q_rows, k_rows, v_rows = slice(0, d), slice(C, C + d), slice(2 * C, 2 * C + d)  # head 0's rows of c_attn
    # layer 0, head 0: previous-token head
    W = model.blocks[0].attn.c_attn.weight         # (3C, C): rows = queries, keys, values; head h = rows h*d..
    for t in range(P):
        W[q_rows.start + t, pos + t] = strength                 # query: "I am at position t"
        if t + 1 < P:
            W[k_rows.start + t + 1, pos + t] = strength         # key at s: "I am the position before s + 1"
    for v in range(V):
        W[v_rows.start + v, tok + v] = 1.0                      # value: my token
    model.blocks[0].attn.c_proj.weight[prev:prev + V, 0:V] = 0.25 * torch.eye(V)  # -> "the token before me"
    # layer 1, head 0: induction head
    W = model.blocks[1].attn.c_attn.weight
    for v in range(V):
        W[q_rows.start + v, tok + v] = strength                 # query: my token
        W[k_rows.start + v, prev + v] = strength                # key: the token before me
        W[v_rows.start + v, tok + v] = 1.0                      # value: my token
    model.blocks[1].attn.c_proj.weight[tok:tok + V, 0:V] = 0.5 * torch.eye(V)     # -> raise that token's logit
    # head 1 of both layers: even attention (no query or key weights), small random writes into spare dims
    for block in model.blocks:
        block.attn.c_attn.weight[2 * C + d:3 * C, :] = 0.3 * torch.randn(d, C, generator=generator)
        block.attn.c_proj.weight[spare:spare + 4, d:2 * d] = 0.3 * torch.randn(4, d, generator=generator)
    return model.eval()
