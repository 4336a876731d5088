"""The GPT used by every notebook from 04 on, readable from top to bottom.

    token ids (B, T)
      -> token embedding + position embedding, dropout         the residual stream x, (B, T, C)
      -> n_layer blocks, each:  x = x + attention(LayerNorm(x))
                                x = x + MLP(LayerNorm(x))
      -> final LayerNorm
      -> LM head (the token embedding matrix, reused)          logits (B, T, V)

``logits[:, t]`` scores every possible token at position t+1 having seen tokens 0..t; so ``logits[:, -1]``
are the next-token logits a generator samples from (generation itself lives in ``nbutils.generate``, which
also crops the input to ``context_length``).

Speed: attention runs through torch's fused ``scaled_dot_product_attention``. When the attention weights are
asked for (``return_attention=True``), the same attention is computed step by step instead, which gives the
same logits and exposes the weights.

**Hook points**, for reading or changing what flows through the model (probes, activation patching, head
ablation). Each has a name, and ``model.hooked({name: fn, ...})`` calls ``fn(tensor, name)`` when the tensor
passes; ``fn`` returns ``None`` to only look, or a tensor of the same shape to use instead::

    embed                  the residual stream before block 0 (token + position embedding)     (B, T, C)
    blocks.{i}.resid_mid   the stream inside block i, after attention, before the MLP            (B, T, C)
    blocks.{i}.resid_post  the stream after block i                                              (B, T, C)
    blocks.{i}.head_out    each head's output in block i, before c_proj mixes the heads    (B, n_head, T, C/n_head)

``model.run_with_cache(idx)`` returns the logits and every hook point's tensor (``HOOK_POINTS`` lists the
kinds). Without hooks the model runs exactly as without this machinery.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["GPTConfig", "GPT", "Block", "CausalSelfAttention", "MLP", "HOOK_POINTS", "Hook"]

#: The kinds of hook points inside each block (plus "embed" before the first block).
HOOK_POINTS = ("resid_mid", "resid_post", "head_out")

#: A hook: called with the tensor and its hook point's name; returns None (only look) or a replacement.
Hook = Callable[[torch.Tensor, str], "torch.Tensor | None"]


def _run_hook(hooks: Mapping[str, Hook], name: str, x: torch.Tensor) -> torch.Tensor:
    """Apply the hook registered under ``name``, if any; a replacement must keep the shape."""
    fn = hooks.get(name)
    if fn is None:
        return x
    out = fn(x, name)
    if out is None:
        return x
    if not isinstance(out, torch.Tensor) or out.shape != x.shape:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"the hook at {name!r} must return None or a tensor of shape {tuple(x.shape)}, got {got}")
    return out


@dataclass
class GPTConfig:
    """The shape of a GPT. ``context_length`` is the longest sequence the model can read at once,
    ``n_embd`` the width C of the residual stream, ``bias`` whether Linear and LayerNorm layers have biases."""

    vocab_size: int
    context_length: int = 64
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True

    def __post_init__(self) -> None:
        for name in ("vocab_size", "context_length", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"GPTConfig.{name} must be a positive int, got {value!r}")
        if self.n_embd % self.n_head != 0:
            raise ValueError(f"GPTConfig.n_embd={self.n_embd} must be divisible by n_head={self.n_head} "
                             f"(each head gets n_embd // n_head dimensions)")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"GPTConfig.dropout must be in [0, 1), got {self.dropout}")


class CausalSelfAttention(nn.Module):
    """All heads at once: one Linear makes queries, keys and values (C -> 3C), heads are a batch dimension,
    a second Linear (C -> C) mixes the heads' outputs back into the residual stream."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.n_head = config.n_head
        self.n_embd = config.n_embd
        self.dropout = config.dropout
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.name, self.hooks = "attn", {}  # set by GPT: the block's name and the model's hooks

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        """x (B, T, C) -> (B, T, C); with ``return_attention=True`` also the weights (B, n_head, T, T)."""
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        # (B, T, C) -> (B, n_head, T, head_size): a view, no copy
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        dropout_p = self.dropout if self.training else 0.0
        weights = None
        if return_attention:
            # The step-by-step path: scores, causal mask, softmax, weighted sum of values.
            scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.shape[-1]))
            future = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
            weights = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
            y = F.dropout(weights, p=dropout_p, training=self.training) @ v
        else:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=True)
        y = _run_hook(self.hooks, f"{self.name}.head_out", y)  # (B, n_head, T, head_size)
        y = y.transpose(1, 2).reshape(B, T, C)  # put the heads side by side again
        y = self.resid_dropout(self.c_proj(y))
        return y, weights


class MLP(nn.Module):
    """The per-position feed-forward network: widen to 4C, GELU, project back to C."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    """One transformer block, pre-norm: each sub-layer reads a normalised copy of the residual stream and
    adds its result back to it."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)
        self.name, self.hooks = "block", {}  # set by GPT: "blocks.{i}" and the model's hooks

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        """x (B, T, C) -> (x, attention weights or None)."""
        attended, weights = self.attn(self.ln_1(x), return_attention)
        x = _run_hook(self.hooks, f"{self.name}.resid_mid", x + attended)
        x = _run_hook(self.hooks, f"{self.name}.resid_post", x + self.mlp(self.ln_2(x)))
        return x, weights


class GPT(nn.Module):
    """A decoder-only transformer language model (GPT-2 style, pre-norm, tied input/output embeddings)."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"GPT needs a GPTConfig, got {type(config).__name__}")
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)      # token embedding
        self.wpe = nn.Embedding(config.context_length, config.n_embd)  # position embedding
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        # Weight tying: the head scores token v by a dot product with v's own embedding vector.
        # Both modules now hold the very same Parameter (one storage, counted once, trained once).
        self.lm_head.weight = self.wte.weight
        self._init_weights()
        self.hooks: dict[str, Hook] = {}  # hook point name -> hook; see the module docstring and hooked()
        for i, block in enumerate(self.blocks):
            block.name = block.attn.name = f"blocks.{i}"
            block.hooks = block.attn.hooks = self.hooks  # one dict, shared: hooked() fills and empties it

    def _init_weights(self) -> None:
        """GPT-2's initialisation: every weight ~ N(0, 0.02^2), biases 0, LayerNorms at weight 1 / bias 0.
        The two projections that write into the residual stream (attention's and the MLP's ``c_proj``) get a
        smaller std, 0.02 / sqrt(2 * n_layer), so that the stream's variance does not grow with depth
        (each block adds two contributions)."""
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        for name, parameter in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(parameter, mean=0.0, std=0.02 / math.sqrt(2 * self.config.n_layer))

    # ---- input checks ---------------------------------------------------------------------------------------
    def _check_idx(self, idx: torch.Tensor) -> None:
        if not isinstance(idx, torch.Tensor):
            raise TypeError(f"idx must be a torch.Tensor of token ids, got {type(idx).__name__}")
        if idx.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
            raise TypeError(f"idx must hold integer token ids (torch.long), got dtype {idx.dtype}")
        if idx.dim() != 2:
            raise ValueError(f"idx must have shape (B, T) (a batch of sequences), got shape {tuple(idx.shape)}; "
                             f"for a single sequence use idx.unsqueeze(0)")
        T = idx.shape[1]
        if T == 0:
            raise ValueError("idx has no tokens (T = 0)")
        if T > self.config.context_length:
            raise ValueError(f"sequence length {T} exceeds the model's context_length "
                             f"{self.config.context_length}; crop the input to its last "
                             f"{self.config.context_length} tokens")
        low, high = torch.aminmax(idx)
        if low < 0 or high >= self.config.vocab_size:
            bad = int(low) if low < 0 else int(high)
            raise ValueError(f"token id {bad} is outside [0, {self.config.vocab_size}) (vocab_size)")

    def _check_targets(self, idx: torch.Tensor, targets: torch.Tensor) -> None:
        if not isinstance(targets, torch.Tensor):
            raise TypeError(f"targets must be a torch.Tensor of token ids, got {type(targets).__name__}")
        if targets.shape != idx.shape:
            raise ValueError(f"targets must have the same shape as idx {tuple(idx.shape)}, "
                             f"got {tuple(targets.shape)}")
        if targets.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
            raise TypeError(f"targets must hold integer token ids, got dtype {targets.dtype}")
        bad = (targets != -100) & ((targets < 0) | (targets >= self.config.vocab_size))
        if bad.any():
            raise ValueError(f"target id {int(targets[bad][0])} is outside [0, {self.config.vocab_size}); "
                             f"use -100 for positions that should not count in the loss")

    # ---- the model -----------------------------------------------------------------------------------------
    def _embed(self, idx: torch.Tensor) -> torch.Tensor:
        """Token embedding + position embedding (then dropout): the residual stream before block 0."""
        positions = torch.arange(idx.shape[1], device=idx.device)
        return _run_hook(self.hooks, "embed", self.drop(self.wte(idx) + self.wpe(positions)))

    # ---- hooks ---------------------------------------------------------------------------------------------
    def hook_names(self) -> list[str]:
        """Every hook point of this model, in the order the forward pass reaches them."""
        return ["embed"] + [f"blocks.{i}.{kind}" for i in range(self.config.n_layer)
                            for kind in ("head_out", "resid_mid", "resid_post")]

    @contextmanager
    def hooked(self, hooks: Mapping[str, Hook]) -> Iterator["GPT"]:
        """Run the model with ``hooks`` (hook point name -> ``fn(tensor, name)``) inside a ``with`` block.

        >>> with model.hooked({"blocks.1.resid_post": lambda x, name: x * 0}):   # doctest: +SKIP
        ...     logits, _ = model(idx)
        """
        unknown = sorted(set(hooks) - set(self.hook_names()))
        if unknown:
            raise KeyError(f"unknown hook points {unknown}; this model has {self.hook_names()}")
        if self.hooks:
            raise RuntimeError("hooks are already set on this model (hooked() blocks do not nest)")
        self.hooks.update(hooks)
        try:
            yield self
        finally:
            self.hooks.clear()

    @torch.no_grad()
    def run_with_cache(self, idx: torch.Tensor, names: list[str] | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Logits and a copy of every hook point's tensor (or only ``names``), for probes and patching."""
        cache: dict[str, torch.Tensor] = {}

        def keep(x: torch.Tensor, name: str) -> None:
            cache[name] = x.detach().clone()

        with self.hooked({name: keep for name in (names if names is not None else self.hook_names())}):
            logits, _ = self(idx)
        return logits, cache

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, return_attention: bool = False):
        """Score the next token at every position.

        idx: (B, T) integer token ids, T <= context_length. targets: (B, T) ids of the tokens that come next
        (usually idx shifted by one); -100 marks positions left out of the loss.

        Returns ``(logits, loss)``: logits (B, T, vocab_size), where ``logits[:, -1]`` are the next-token
        logits; loss is the mean cross-entropy (a scalar tensor) or None without targets. With
        ``return_attention=True`` returns ``(logits, loss, attentions)``, attentions being a list with one
        (B, n_head, T, T) tensor per layer (row t: how much position t looked at each earlier position).
        """
        self._check_idx(idx)
        if targets is not None:
            self._check_targets(idx, targets)
        x = self._embed(idx)
        attentions = []
        for block in self.blocks:
            x, weights = block(x, return_attention)
            if return_attention:
                attentions.append(weights)
        logits = self.lm_head(self.ln_f(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.reshape(-1).long(),
                                   ignore_index=-100)
        if return_attention:
            return logits, loss, attentions
        return logits, loss

    @torch.no_grad()
    def residual_stream(self, idx: torch.Tensor) -> list[torch.Tensor]:
        """The residual stream at every depth, for probes: a list of n_layer + 1 tensors of shape (B, T, C),
        the embeddings first and then the stream after each block (before the final LayerNorm).
        Runs without gradients; call ``model.eval()`` first so that dropout is off. The same forward pass as
        ``forward``, read at its hook points (see ``run_with_cache``)."""
        names = ["embed"] + [f"blocks.{i}.resid_post" for i in range(self.config.n_layer)]
        _, cache = self.run_with_cache(idx, names)
        return [cache[name] for name in names]

    # ---- counting parameters -------------------------------------------------------------------------------
    def num_parameters(self, non_embedding: bool = False) -> int:
        """How many numbers the model learns. The tied head is the token embedding, so it is counted once.
        ``non_embedding=True`` leaves out the token and position embeddings (the convention of scaling-law
        papers, where N ≈ 12 · n_layer · n_embd²)."""
        total = sum(p.numel() for p in self.parameters())  # parameters() lists a shared tensor once
        if non_embedding:
            total -= self.wte.weight.numel() + self.wpe.weight.numel()
        return total

    @staticmethod
    def parameter_count_formula(config: GPTConfig) -> int:
        """The parameter count in closed form, with C = n_embd, V = vocab_size, L = context_length,
        n = n_layer and b = 1 if config.bias else 0:

        * embeddings: V·C (tokens) + L·C (positions)
        * one block:
            - ln_1, ln_2: C weights each, plus C biases each if b          2C + 2bC
            - attention: c_attn C -> 3C (3C² + 3bC), c_proj C -> C (C² + bC)   4C² + 4bC
            - MLP: c_fc C -> 4C (4C² + 4bC), c_proj 4C -> C (4C² + bC)        8C² + 5bC
            - together                                                     12C² + 2C + 11bC
        * final LayerNorm: C + bC
        * LM head: 0 (it is the token embedding, tied)

        total = (V + L)·C + n·(12C² + 2C + 11bC) + C + bC
        """
        C, V, L, n = config.n_embd, config.vocab_size, config.context_length, config.n_layer
        b = 1 if config.bias else 0
        per_block = 12 * C * C + 2 * C + 11 * b * C
        return (V + L) * C + n * per_block + C + b * C
