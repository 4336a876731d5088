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

Speed: attention runs through torch's fused ``scaled_dot_product_attention``, which never stores the
(T, T) weights. When a hook asks for them (the hook point ``blocks.{i}.attn``, or ``model.attention_maps``),
that layer computes the same attention step by step with ``nbutils.attention.scaled_dot_product_attention``
instead (scores, causal mask, softmax, weighted sum): the same logits up to float rounding, and the weights
can be read or replaced.

**One path.** ``forward(idx, targets=None)`` always returns ``(logits, loss)`` and is
``lm_head(hidden_states(idx))`` plus the loss; ``hidden_states`` (after the final LayerNorm, with gradients)
is what classifiers build on, and ``residual_stream``, ``run_with_cache`` and ``attention_maps`` read the
same forward pass at its hook points.

**Hook points**, for reading or changing what flows through the model (probes, activation patching, head
ablation). Each has a name, and ``model.hooked({name: fn, ...})`` calls ``fn(tensor, name)`` when the tensor
passes; ``fn`` returns ``None`` to only look, or a tensor of the same shape to use instead::

    embed                  the residual stream before block 0 (token + position embedding)     (B, T, C)
    blocks.{i}.attn        block i's attention weights; row t: how much position t looks at    (B, n_head, T, T)
                           each position 0..t (zeros above the diagonal: the causal mask)
    blocks.{i}.head_out    each head's output in block i, before c_proj mixes the heads    (B, n_head, T, C/n_head)
    blocks.{i}.resid_mid   the stream inside block i, after attention, before the MLP            (B, T, C)
    blocks.{i}.resid_post  the stream after block i                                              (B, T, C)

``model.run_with_cache(idx)`` returns the logits and every hook point's tensor (``HOOK_POINTS`` lists the
kinds, in the order a block reaches them). **Patching**: ``patch_hook(source, positions)`` makes a hook
that puts ``source`` (say, the cached tensor of another run) in place of the tensor at the chosen positions
(and heads), and ``model.patched(name, source, positions)`` runs the model with it::

    _, clean = model.run_with_cache(clean_idx)
    with model.patched("blocks.1.resid_post", clean["blocks.1.resid_post"], positions=[5]):
        logits, _ = model(corrupt_idx)

Without hooks the model runs exactly as without this machinery.

**Modern options** (notebook 12), each off by default, so that the default model is GPT-2's and stays
bit-identical (same parameter names, same logits): ``GPTConfig(norm="rmsnorm")`` swaps every LayerNorm for
``RMSNorm`` (no mean subtracted, no bias; Zhang & Sennrich 2019), ``position="rope"`` drops the learned position
table ``wpe`` and rotates queries and keys by their position instead (rotary embeddings, Su et al. 2021), and
``mlp="swiglu"`` replaces GELU by a gated unit ``c_proj(silu(gate) * up)`` whose width ``swiglu_hidden(C)`` keeps
the parameter count of the 4C MLP (Shazeer 2020). ``bias=False`` (already there) removes every bias.
"""

from __future__ import annotations

import math
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping

import torch
import torch.nn as nn
import torch.nn.functional as F

from nbutils.attention import MultiHeadAttention, scaled_dot_product_attention
from nbutils.validate import require_int

__all__ = ["GPTConfig", "GPT", "Block", "CausalSelfAttention", "MLP", "SwiGLU", "RMSNorm", "rope_tables", "apply_rope",
           "swiglu_hidden", "HOOK_POINTS", "Hook", "patch_hook"]

#: The kinds of hook points inside each block, in the order the forward pass reaches them
#: (plus "embed" before the first block).
HOOK_POINTS = ("attn", "head_out", "resid_mid", "resid_post")

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
    ``n_embd`` the width C of the residual stream, ``bias`` whether Linear and LayerNorm layers have biases.

    The three modern options (notebook 12; the defaults are GPT-2's): ``norm`` is ``"layernorm"`` or
    ``"rmsnorm"``, ``position`` is ``"learned"`` (a table ``wpe``) or ``"rope"`` (rotary, no table), ``mlp`` is
    ``"gelu"`` (4C wide) or ``"swiglu"`` (gated, ``swiglu_hidden(C)`` wide)."""

    vocab_size: int
    context_length: int = 64
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True
    norm: str = "layernorm"
    position: str = "learned"
    mlp: str = "gelu"

    def __post_init__(self) -> None:
        for name in ("vocab_size", "context_length", "n_layer", "n_head", "n_embd"):
            require_int(f"GPTConfig.{name}", getattr(self, name))
        if self.n_embd % self.n_head != 0:
            raise ValueError(f"GPTConfig.n_embd={self.n_embd} must be divisible by n_head={self.n_head} "
                             f"(each head gets n_embd // n_head dimensions)")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"GPTConfig.dropout must be in [0, 1), got {self.dropout}")
        for name, allowed in (("norm", ("layernorm", "rmsnorm")), ("position", ("learned", "rope")),
                              ("mlp", ("gelu", "swiglu"))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"GPTConfig.{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.position == "rope" and (self.n_embd // self.n_head) % 2 != 0:
            raise ValueError(f"rotary embeddings turn pairs of numbers: the head size n_embd // n_head = "
                             f"{self.n_embd // self.n_head} must be even")


# ---- the modern options (notebook 12) ----------------------------------------------------------------------
class RMSNorm(nn.Module):
    """Root-mean-square normalisation (Zhang & Sennrich 2019): ``x / sqrt(mean(x^2) + eps) * weight``.
    Unlike LayerNorm it subtracts no mean and adds no bias: one statistic per position instead of two."""

    def __init__(self, n_embd: int, eps: float = 1e-5) -> None:
        super().__init__()
        require_int("n_embd", n_embd)
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(n_embd))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps) * self.weight


def _norm(config: GPTConfig) -> nn.Module:
    return RMSNorm(config.n_embd) if config.norm == "rmsnorm" else nn.LayerNorm(config.n_embd, bias=config.bias)


def rope_tables(length: int, head_size: int, base: float = 10000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """The cosines and sines of rotary embeddings, each (length, head_size // 2): position m turns the pair
    (i, i + head_size/2) of a query or key by the angle m * base^(-2i / head_size) (Su et al. 2021)."""
    require_int("length", length)
    require_int("head_size", head_size)
    frequencies = base ** (-torch.arange(0, head_size // 2, dtype=torch.float32) * 2 / head_size)
    angles = torch.arange(length, dtype=torch.float32)[:, None] * frequencies[None, :]
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate x (..., T, head_size) position by position: the first half of each head is paired with the second
    half (the layout of Llama in ``transformers``), ``(a, b) -> (a cos - b sin, b cos + a sin)``. Because a
    rotation by m followed by the dot product with a rotation by n depends only on m - n, attention scores see
    relative positions."""
    T, half = x.shape[-2], x.shape[-1] // 2
    cos, sin = cos[:T].to(x.dtype), sin[:T].to(x.dtype)
    a, b = x[..., :half], x[..., half:]
    return torch.cat([a * cos - b * sin, b * cos + a * sin], dim=-1)


def swiglu_hidden(n_embd: int) -> int:
    """The width of the SwiGLU MLP: 8C/3 rounded down, so that its three matrices (3 * h * C numbers) hold
    about as many numbers as the GELU MLP's two (8 C^2)."""
    return (8 * n_embd) // 3


class SwiGLU(nn.Module):
    """The gated feed-forward network (Shazeer 2020): ``c_proj(silu(gate(x)) * up(x))``. ``c_fc`` makes gate
    and up at once (C -> 2h, gate first), ``c_proj`` projects h -> C."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.hidden = swiglu_hidden(config.n_embd)
        self.c_fc = nn.Linear(config.n_embd, 2 * self.hidden, bias=config.bias)
        self.c_proj = nn.Linear(self.hidden, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.c_fc(x).split(self.hidden, dim=-1)
        return self.dropout(self.c_proj(F.silu(gate) * up))


class CausalSelfAttention(MultiHeadAttention):
    """The GPT's attention: ``nbutils.attention.MultiHeadAttention`` (one Linear ``c_attn`` makes queries,
    keys and values, C -> 3C; heads are a batch dimension; ``c_proj``, C -> C, mixes the heads' outputs back
    into the residual stream), always causal, with dropout and two hook points. Only step 3, ``attend``,
    differs: torch's fused kernel, or the step-by-step version when a hook wants the weights."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__(config.n_embd, config.n_head, bias=config.bias)
        self.dropout = config.dropout
        self.resid_dropout = nn.Dropout(config.dropout)
        self.name, self.hooks = "attn", {}  # set by GPT: the block's name and the model's hooks
        self.rope = config.position == "rope"
        if self.rope:  # not saved with the weights (persistent=False): computed again from the config
            cos, sin = rope_tables(config.context_length, config.n_embd // config.n_head)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None,
               causal: bool = True) -> tuple[torch.Tensor, None]:
        """q, k, v (B, n_head, T, head_size) -> the heads' outputs (B, n_head, T, head_size), causally.

        With a hook on ``blocks.{i}.attn`` the weights are computed step by step (True = may attend, the
        causal mask) and the hook may read or replace them; otherwise the fused kernel runs. The weights
        are not returned: read them through the hook point."""
        if mask is not None or not causal:
            raise ValueError("the GPT's attention is always causal and takes no other mask")
        dropout_p = self.dropout if self.training else 0.0
        if self.rope:
            q, k = apply_rope(q, self.rope_cos, self.rope_sin), apply_rope(k, self.rope_cos, self.rope_sin)
        if f"{self.name}.attn" in self.hooks:
            _, weights = scaled_dot_product_attention(q, k, v, causal=True, return_weights=True)
            weights = _run_hook(self.hooks, f"{self.name}.attn", weights)      # (B, n_head, T, T)
            heads = F.dropout(weights, p=dropout_p, training=self.training) @ v
        else:
            heads = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=True)
        return _run_hook(self.hooks, f"{self.name}.head_out", heads), None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, T, C) -> (B, T, C)."""
        return self.resid_dropout(super().forward(x, causal=True))


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
        self.ln_1 = _norm(config)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = _norm(config)
        self.mlp = SwiGLU(config) if config.mlp == "swiglu" else MLP(config)
        self.name, self.hooks = "block", {}  # set by GPT: "blocks.{i}" and the model's hooks

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, T, C) -> the new stream (B, T, C)."""
        x = _run_hook(self.hooks, f"{self.name}.resid_mid", x + self.attn(self.ln_1(x)))
        return _run_hook(self.hooks, f"{self.name}.resid_post", x + self.mlp(self.ln_2(x)))


class GPT(nn.Module):
    """A decoder-only transformer language model (GPT-2 style, pre-norm, tied input/output embeddings)."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"GPT needs a GPTConfig, got {type(config).__name__}")
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)      # token embedding
        if config.position == "learned":
            self.wpe = nn.Embedding(config.context_length, config.n_embd)  # position embedding
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = _norm(config)
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
        """Token embedding + position embedding (then dropout): the residual stream before block 0. With
        rotary embeddings there is no position table: positions enter inside attention."""
        x = self.wte(idx)
        if self.config.position == "learned":
            x = x + self.wpe(torch.arange(idx.shape[1], device=idx.device))
        return _run_hook(self.hooks, "embed", self.drop(x))

    # ---- hooks ---------------------------------------------------------------------------------------------
    def hook_names(self) -> list[str]:
        """Every hook point of this model, in the order the forward pass reaches them."""
        return ["embed"] + [f"blocks.{i}.{kind}" for i in range(self.config.n_layer) for kind in HOOK_POINTS]

    @contextmanager
    def hooked(self, hooks: Mapping[str, Hook]) -> Iterator["GPT"]:
        """Run the model with ``hooks`` (hook point name -> ``fn(tensor, name)``) inside a ``with`` block.

        >>> with model.hooked({"blocks.1.resid_post": lambda x, name: x * 0}):   # doctest: +SKIP
        ...     logits, _ = model(idx)
        """
        if not isinstance(hooks, Mapping):
            raise TypeError(f"hooked() takes a dict {{hook point name: fn(tensor, name)}}, got {type(hooks).__name__}")
        unknown = sorted(set(hooks) - set(self.hook_names()))
        if unknown:
            raise KeyError(f"unknown hook points {unknown}; this model has {self.hook_names()}")
        not_callable = sorted(name for name, fn in hooks.items() if not callable(fn))
        if not_callable:
            raise TypeError(f"the hooks at {not_callable} are not callable; a hook is fn(tensor, name)")
        if self.hooks:
            raise RuntimeError("hooks are already set on this model (hooked() blocks do not nest)")
        self.hooks.update(hooks)
        try:
            yield self
        finally:
            self.hooks.clear()

    def patched(self, name: str, source: torch.Tensor,
                positions: "int | slice | list[int] | torch.Tensor | None" = None,
                heads: "int | slice | list[int] | torch.Tensor | None" = None) -> AbstractContextManager["GPT"]:
        """Run the model with the tensor at hook point ``name`` replaced by ``source`` at ``positions`` (and
        ``heads``): ``self.hooked({name: patch_hook(source, positions, heads)})``, see ``patch_hook``.

        For example::

            _, clean = model.run_with_cache(clean_idx)
            with model.patched("blocks.1.resid_post", clean["blocks.1.resid_post"], positions=[5]):
                patched_logits, _ = model(corrupt_idx)
        """
        return self.hooked({name: patch_hook(source, positions, heads)})

    @torch.no_grad()
    def run_with_cache(self, idx: torch.Tensor, names: list[str] | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Logits and a copy of every hook point's tensor (or only ``names``), for probes and patching."""
        cache: dict[str, torch.Tensor] = {}

        def keep(x: torch.Tensor, name: str) -> None:
            cache[name] = x.detach().clone()

        with self.hooked({name: keep for name in (names if names is not None else self.hook_names())}):
            logits, _ = self(idx)
        return logits, cache

    def hidden_states(self, idx: torch.Tensor) -> torch.Tensor:
        """The stream after every block and the final LayerNorm, (B, T, C), *with* gradients: what the LM
        head turns into logits, and what a classifier head reads. idx: (B, T) token ids, T <= context_length."""
        self._check_idx(idx)
        x = self._embed(idx)
        for block in self.blocks:
            x = block(x)
        return self.ln_f(x)

    def forward(self, idx: torch.Tensor,
                targets: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Score the next token at every position.

        idx: (B, T) integer token ids, T <= context_length. targets: (B, T) ids of the tokens that come next
        (usually idx shifted by one); -100 marks positions left out of the loss.

        Returns ``(logits, loss)``, always: logits (B, T, vocab_size), where ``logits[:, -1]`` are the
        next-token logits; loss is the mean cross-entropy (a scalar tensor) or None without targets. The
        attention weights are read through hook points: ``attention_maps(idx)``.
        """
        logits = self.lm_head(self.hidden_states(idx))
        if targets is None:
            return logits, None
        self._check_targets(idx, targets)
        loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.reshape(-1).long(), ignore_index=-100)
        return logits, loss

    def attention_maps(self, idx: torch.Tensor) -> list[torch.Tensor]:
        """Every layer's attention weights, for pictures and head scores: a list of n_layer tensors of shape
        (B, n_head, T, T); in ``maps[i][b, h]`` row t says how much position t looks at each position 0..t.
        Runs without gradients (read at the hook points ``blocks.{i}.attn``); call ``model.eval()`` first."""
        names = [f"blocks.{i}.attn" for i in range(self.config.n_layer)]
        _, cache = self.run_with_cache(idx, names)
        return [cache[name] for name in names]

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
            total -= self.wte.weight.numel() + (self.wpe.weight.numel() if self.config.position == "learned" else 0)
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

        The modern options change three terms: ``position="rope"`` removes L·C; ``norm="rmsnorm"`` has C
        weights and never a bias (each norm C instead of C + bC); ``mlp="swiglu"`` with width h =
        ``swiglu_hidden(C)`` has c_fc C -> 2h (2hC + 2bh) and c_proj h -> C (hC + bC) instead of 8C² + 5bC.
        """
        C, V, L, n = config.n_embd, config.vocab_size, config.context_length, config.n_layer
        b = 1 if config.bias else 0
        norm = C if config.norm == "rmsnorm" else C + b * C
        attention = 4 * C * C + 4 * b * C
        if config.mlp == "swiglu":
            h = swiglu_hidden(C)
            mlp = 3 * h * C + 2 * b * h + b * C
        else:
            mlp = 8 * C * C + 5 * b * C
        positions = L * C if config.position == "learned" else 0
        return V * C + positions + n * (2 * norm + attention + mlp) + norm


# ---- patching ----------------------------------------------------------------------------------------------
def patch_hook(source: torch.Tensor, positions: "int | slice | list[int] | torch.Tensor | None" = None,
               heads: "int | slice | list[int] | torch.Tensor | None" = None) -> Hook:
    """A hook that replaces the tensor at a hook point by ``source`` at the chosen positions, for patching.

    ``source`` has the hook point's shape (its batch size may be 1, then it is used for every row), for
    instance the tensor ``run_with_cache`` kept from another input. ``positions`` picks the sequence
    positions (an int, a list, a slice or a tensor of indices; None: all of them) along the T axis: dim 1 of
    the stream (B, T, C), dim 2 of ``head_out`` (B, n_head, T, C/n_head) and of ``attn`` (B, n_head, T, T),
    where it picks the query rows. ``heads`` picks heads the same way (only for ``head_out`` and ``attn``).
    Everything not picked is left as it was.

    For example, the stream after block 0 at positions 3 and 4 taken from the run on ``clean``::

        _, cache = model.run_with_cache(clean)
        with model.hooked({"blocks.0.resid_post": patch_hook(cache["blocks.0.resid_post"], [3, 4])}):
            logits, _ = model(corrupt)
    """
    if not isinstance(source, torch.Tensor):
        raise TypeError(f"source must be a torch.Tensor (for instance a run_with_cache entry), "
                        f"got {type(source).__name__}")

    def pick(what: str, index, size: int, device: torch.device) -> torch.Tensor:
        chosen = torch.zeros(size, dtype=torch.bool, device=device)
        if index is None:
            return ~chosen
        if isinstance(index, torch.Tensor):
            index = index.to(device)
        try:
            chosen[index] = True
        except (IndexError, TypeError) as error:
            raise ValueError(f"cannot pick {what} {index!r} out of {size}: {error}") from None
        return chosen

    def hook(x: torch.Tensor, name: str) -> torch.Tensor:
        if source.dim() != x.dim() or source.shape[1:] != x.shape[1:] or source.shape[0] not in (1, x.shape[0]):
            raise ValueError(f"the patch for {name!r} has shape {tuple(source.shape)}, but the tensor there has "
                             f"shape {tuple(x.shape)} (the batch size of the patch may be 1)")
        if x.dim() == 3:                            # the stream (B, T, C): positions along dim 1
            if heads is not None:
                raise ValueError(f"{name!r} has no heads; heads= is for the head_out and attn hook points")
            where = pick("positions", positions, x.shape[1], x.device)[None, :, None]
        else:                                       # (B, n_head, T, ...): heads along dim 1, positions dim 2
            where = (pick("heads", heads, x.shape[1], x.device)[:, None]
                     & pick("positions", positions, x.shape[2], x.device)[None, :])[None, :, :, None]
        return torch.where(where, source.to(device=x.device, dtype=x.dtype), x)

    return hook
