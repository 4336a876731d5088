"""Attention, step by step: scores, masks, softmax, a weighted average of values, and several heads.

Every position asks a question (its *query* q), every position advertises what it holds (its *key* k) and
what it would pass on (its *value* v). The score of query i against key j is the dot product q_i · k_j,
divided by sqrt(d) so that the scores do not grow with the head size d. A softmax over the keys turns each
row of scores into weights that sum to 1, and the output of position i is the weighted average of the values.

In a language model a position may not look at the future: the *causal mask* hides every key that comes
after the query, by setting its score to -inf before the softmax (exp(-inf) = 0).

This module is written for reading. ``nbutils.model`` builds its attention on ``MultiHeadAttention`` and
uses torch's fused kernel for speed (and this module's step-by-step version when a hook asks for the
weights); the tests check that both give the same numbers.

Mask convention (as ``torch.nn.functional.scaled_dot_product_attention``): a boolean mask is True where
attention is *allowed*. (``torch.nn.MultiheadAttention`` uses the opposite convention: True = blocked.)
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from nbutils.validate import require_int

__all__ = ["scaled_dot_product_attention", "causal_mask", "split_heads", "merge_heads", "MultiHeadAttention"]


def causal_mask(T: int, device: torch.device | str | None = None) -> torch.Tensor:
    """A (T, T) boolean mask, True on and below the diagonal: query i may attend to keys 0..i.

    >>> causal_mask(3).int()
    tensor([[1, 0, 0],
            [1, 1, 0],
            [1, 1, 1]], dtype=torch.int32)
    """
    require_int("T (the sequence length)", T)
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()


def _check_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if not torch.is_floating_point(t):
            raise TypeError(f"{name} must be a floating-point tensor, got dtype {t.dtype}")
        if t.dim() < 2:
            raise ValueError(f"{name} must have shape (..., T, d), got shape {tuple(t.shape)}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"queries and keys must have the same size d to be compared by a dot product: "
                         f"q has d={q.shape[-1]}, k has d={k.shape[-1]}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"there must be one value per key: k has {k.shape[-2]} positions, v has {v.shape[-2]}")
    if not (q.shape[:-2] == k.shape[:-2] == v.shape[:-2]):
        raise ValueError(f"q, k and v must have the same leading (batch, head) dimensions, got "
                         f"{tuple(q.shape[:-2])}, {tuple(k.shape[:-2])} and {tuple(v.shape[:-2])}")


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    causal: bool = False,
    return_weights: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """``softmax(q @ k^T / sqrt(d) + mask) @ v`` for q (..., Tq, d), k (..., Tk, d), v (..., Tk, dv).

    ``mask`` is either boolean, True where a query may look at a key (broadcastable to (..., Tq, Tk)), or a
    float tensor added to the scores. ``causal=True`` adds the causal mask (needs Tq == Tk).
    Returns the output (..., Tq, dv), and also the weights (..., Tq, Tk) with ``return_weights=True``.

    Fully masked rows: if a query may look at no key at all, its scores are all -inf and the softmax is
    0 / 0 = NaN. This function deliberately leaves that NaN in place (it is what the plain formula gives, and
    a notebook shows it) rather than hiding it. torch's fused ``F.scaled_dot_product_attention`` returns zeros
    for such rows instead. A causal mask never produces such a row, because every query may see itself.
    """
    _check_qkv(q, k, v)
    Tq, Tk, d = q.shape[-2], k.shape[-2], q.shape[-1]

    # 1. Scores: how well each query matches each key, scaled so their spread does not grow with d.
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)                       # (..., Tq, Tk)

    # 2. Masks: a blocked (query, key) pair gets the score -inf, so that exp(score) = 0 after the softmax.
    if causal:
        if Tq != Tk:
            raise ValueError(f"causal=True needs as many queries as keys, got Tq={Tq} and Tk={Tk}")
        scores = scores.masked_fill(~causal_mask(Tq, device=q.device), float("-inf"))
    if mask is not None:
        if not isinstance(mask, torch.Tensor):
            raise TypeError(f"mask must be a torch.Tensor, got {type(mask).__name__}")
        try:
            torch.broadcast_shapes(mask.shape, scores.shape)
        except RuntimeError:
            raise ValueError(f"mask of shape {tuple(mask.shape)} cannot be broadcast to the scores' shape "
                             f"{tuple(scores.shape)} (..., Tq, Tk)") from None
        if mask.dtype == torch.bool:
            scores = scores.masked_fill(~mask, float("-inf"))
        elif torch.is_floating_point(mask):
            scores = scores + mask
        else:
            raise TypeError(f"mask must be boolean (True = may attend) or floating point (added to the scores), "
                            f"got dtype {mask.dtype}")

    # 3. Softmax over the keys (the last dimension): each row of weights sums to 1.
    weights = torch.softmax(scores, dim=-1)

    # 4. Each output is the weighted average of the values.
    out = weights @ v                                                     # (..., Tq, dv)
    return (out, weights) if return_weights else out


def split_heads(x: torch.Tensor, n_head: int) -> torch.Tensor:
    """(B, T, C) -> (B, n_head, T, C // n_head): cut each position's vector into ``n_head`` smaller vectors,
    one per head, and move the head dimension in front of T so every head attends on its own."""
    if not isinstance(x, torch.Tensor) or x.dim() != 3:
        raise ValueError(f"split_heads expects a tensor of shape (B, T, C), got "
                         f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
    require_int("n_head", n_head)
    B, T, C = x.shape
    if C % n_head != 0:
        raise ValueError(f"the embedding size C={C} must be divisible by n_head={n_head}")
    return x.view(B, T, n_head, C // n_head).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, n_head, T, head_size) -> (B, T, n_head * head_size): the inverse of ``split_heads``."""
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        raise ValueError(f"merge_heads expects a tensor of shape (B, n_head, T, head_size), got "
                         f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
    B, H, T, D = x.shape
    return x.transpose(1, 2).reshape(B, T, H * D)


class MultiHeadAttention(nn.Module):
    """Self-attention with ``n_head`` heads over inputs of shape (B, T, n_embd).

    1. project every position to queries, keys and values (one fused Linear producing all three, or three
       separate Linears with ``fused_qkv=False``: the same computation, two ways of storing it);
    2. split each into ``n_head`` heads of size n_embd // n_head;
    3. run ``scaled_dot_product_attention`` in every head at once (heads are a batch dimension);
    4. glue the heads back together and mix them with an output projection.

    The names follow GPT-2 and ``nbutils.model``: ``c_attn`` is the fused query-key-value projection and
    ``c_proj`` the output projection. With ``fused_qkv=True`` the weights of ``c_attn`` are laid out as
    ``torch.nn.MultiheadAttention``'s ``in_proj_weight`` (rows: queries, then keys, then values), so weights
    can be copied across (``c_proj`` corresponds to its ``out_proj``).

    This is the only copy of the multi-head computation in the course: the GPT's attention,
    ``nbutils.model.CausalSelfAttention``, is this class with the causal mask always on, dropout, hook points,
    and torch's fused kernel in step 3 (it overrides only ``attend``).
    """

    def __init__(self, n_embd: int, n_head: int, bias: bool = True, fused_qkv: bool = True) -> None:
        super().__init__()
        require_int("n_embd", n_embd)
        require_int("n_head", n_head)
        if n_embd % n_head != 0:
            raise ValueError(f"n_embd={n_embd} must be divisible by n_head={n_head} "
                             f"(each head gets n_embd // n_head dimensions)")
        self.n_embd, self.n_head, self.fused_qkv = n_embd, n_head, fused_qkv
        if fused_qkv:
            self.c_attn = nn.Linear(n_embd, 3 * n_embd, bias=bias)
        else:
            self.q_proj = nn.Linear(n_embd, n_embd, bias=bias)
            self.k_proj = nn.Linear(n_embd, n_embd, bias=bias)
            self.v_proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.c_proj = nn.Linear(n_embd, n_embd, bias=bias)

    def queries_keys_values(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Steps 1 and 2: x (B, T, n_embd) -> q, k, v, each (B, n_head, T, head_size)."""
        if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[-1] != self.n_embd:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"expected input of shape (B, T, {self.n_embd}), got {shape}")
        if self.fused_qkv:
            q, k, v = self.c_attn(x).split(self.n_embd, dim=-1)
        else:
            q, k, v = self.q_proj(x), self.k_proj(x), self.v_proj(x)
        return split_heads(q, self.n_head), split_heads(k, self.n_head), split_heads(v, self.n_head)

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None,
               causal: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Step 3, every head at once: the heads' outputs (B, n_head, T, head_size) and their weights
        (B, n_head, T, T)."""
        return scaled_dot_product_attention(q, k, v, mask=mask, causal=causal, return_weights=True)

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        causal: bool = False,
        return_weights: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, n_embd) -> output (B, T, n_embd); with ``return_weights=True`` also the weights of every
        head, (B, n_head, T, T). ``mask``: boolean, True = may attend, broadcastable to (B, n_head, T, T)."""
        q, k, v = self.queries_keys_values(x)                                # (B, H, T, head_size)
        heads, weights = self.attend(q, k, v, mask=mask, causal=causal)
        out = self.c_proj(merge_heads(heads))                                # step 4
        return (out, weights) if return_weights else out
