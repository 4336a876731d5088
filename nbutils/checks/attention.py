"""Checks for the attention exercises: ``check_attention`` and ``check_causal_attention``.

The student writes ``attention(q, k, v)`` for tensors of shape (T, d) or (B, T, d). When the answer is wrong
the check recomputes attention with each typical mistake (no 1/sqrt(d) scale, softmax over the wrong
dimension, mask upside down, mask after the softmax, ...) and names the one that matches. It can also read
the student's attention weights directly: with the identity matrix as values, attention returns its weights.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch

from nbutils.checks.core import Case, as_float_tensor, run_check

__all__ = ["check_attention", "check_causal_attention"]


def _attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, scale: float | None = None,
               softmax_dim: int = -1, mask: str | None = None, mask_after_softmax: bool = False) -> torch.Tensor:
    """Attention in float64, right or with one chosen mistake. ``mask``: None, "causal" (lower triangle kept),
    "upper" (upper triangle kept: upside down), "strict" (lower triangle without the diagonal)."""
    q, k, v = q.double(), k.double(), v.double()
    T = q.shape[-2]
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = q @ k.transpose(-2, -1) * scale
    keep = None
    if mask == "causal":
        keep = torch.ones(T, T, dtype=torch.bool).tril()
    elif mask == "upper":
        keep = torch.ones(T, T, dtype=torch.bool).triu()
    elif mask == "strict":
        keep = torch.ones(T, T, dtype=torch.bool).tril(-1)
    if keep is not None and not mask_after_softmax:
        scores = scores.masked_fill(~keep, float("-inf"))
    weights = torch.softmax(scores, dim=softmax_dim)
    if keep is not None and mask_after_softmax:
        weights = weights * keep
    return weights @ v


_as_tensor = as_float_tensor  # the student's answer as float64, or None


def _close(a: torch.Tensor | None, b: torch.Tensor) -> bool:
    return (a is not None and a.shape == b.shape and bool(torch.isfinite(b).all())
            and bool(torch.allclose(a, b, atol=1e-5, rtol=1e-4)))


def _read_weights(fn: Callable, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor | None:
    """The student's attention weights: attention with the identity matrix as values returns the weights."""
    T = k.shape[-2]
    eye = torch.eye(T, dtype=k.dtype).expand(*k.shape[:-2], T, T).contiguous()
    try:
        return _as_tensor(fn(q, k, eye))
    except Exception:  # the probe is only for a better hint; never let it hide the real failure
        return None


def _make_cases() -> list[Case]:
    gen = torch.Generator().manual_seed(0)

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen)

    return [
        Case((randn(4, 8), randn(4, 8), randn(4, 8)), label="q, k, v of shape (T=4, d=8)"),
        Case((randn(2, 5, 16), randn(2, 5, 16), randn(2, 5, 16)), label="q, k, v of shape (B=2, T=5, d=16)"),
        Case((randn(6, 4) * 2, randn(6, 4) * 2, randn(6, 3)), label="q, k (T=6, d=4) and v (T=6, 3 features)"),
    ]


def _scale_and_dim_hint(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, answer: torch.Tensor,
                        mask: str | None) -> str | None:
    d = q.shape[-1]
    if _close(answer, _attention(q, k, v, scale=1.0, mask=mask)):
        return "missing scale: divide the scores q @ k^T by sqrt(d) (d = size of a query/key vector) before the softmax"
    if _close(answer, _attention(q, k, v, scale=1.0 / d, mask=mask)):
        return "divide the scores by sqrt(d), not by d"
    if v.shape[-1] != d and _close(answer, _attention(q, k, v, scale=1.0 / math.sqrt(v.shape[-1]), mask=mask)):
        return "scale by sqrt of the query/key size d = q.shape[-1], not of the value size"
    for dim in range(q.dim() - 1):  # every dimension except the last of the (..., Tq, Tk) scores
        if _close(answer, _attention(q, k, v, softmax_dim=dim, mask=mask)) or \
                _close(answer, _attention(q, k, v, softmax_dim=dim, scale=1.0, mask=mask)):
            return (f"softmax over the wrong dim ({dim}): it must run over the keys, the last dimension of "
                    "the scores (dim=-1), so that each query's weights sum to 1")
    return None


def _rows_hint(fn: Callable, q: torch.Tensor, k: torch.Tensor) -> str | None:
    weights = _read_weights(fn, q, k)
    if weights is None or weights.shape[-1] != k.shape[-2] or not bool(torch.isfinite(weights).all()):
        return None
    sums = weights.sum(dim=-1)
    if not bool(torch.allclose(sums, torch.ones_like(sums), atol=1e-4)):
        return ("the rows of your attention weights do not sum to 1: apply a softmax over the last dimension "
                "of the scores (over the keys) before multiplying by v")
    return None


def _make_diagnose(fn: Callable, causal: bool) -> Callable[[Case, Any, torch.Tensor], str | None]:
    def diagnose(case: Case, got: Any, expected: torch.Tensor) -> str | None:
        q, k, v = case.args
        answer = _as_tensor(got)
        if answer is None:
            return "return a torch tensor: the attention output"
        if answer.shape != expected.shape:
            return (f"the output should have shape {tuple(expected.shape)} (..., T, size of a value vector): "
                    "weights (..., T, T) @ v; check the order of the matrix products and the transpose of k")
        mask = "causal" if causal else None
        if causal:
            finite_rows = torch.isfinite(answer).all(dim=-1)                 # (..., T)
            if not bool(finite_rows.all()):
                bad = ~finite_rows.reshape(-1, finite_rows.shape[-1]).all(dim=0)  # bad in any batch
                T = finite_rows.shape[-1]
                if bool(bad[:-1].all()) and not bool(bad[-1]):
                    return ("mask applied after the softmax: masked_fill(-inf) on probabilities gives inf/NaN. "
                            "Set the masked scores to -inf BEFORE the softmax")
                if bool(bad[-1]) and not bool(bad[0]):
                    return ("NaN rows: the last row is fully masked, so your mask is upside down (upper "
                            "triangle). Keep the lower triangle and the diagonal: torch.tril(torch.ones(T, T))")
                if bool(bad[0]):
                    return ("NaN rows: the first row is fully masked (softmax of all -inf is 0/0). A token may "
                            "attend to itself: keep the diagonal, torch.tril(torch.ones(T, T)) not tril(..., -1)")
                return (f"NaN rows at positions {bad.nonzero().flatten().tolist()} of {T}: a row whose scores "
                        "are all -inf gives softmax 0/0; every row must keep at least its diagonal")
            if _close(answer, _attention(q, k, v)):
                return "no causal mask: every position still looks at the future. Set scores above the diagonal to -inf"
            if _close(answer, _attention(q, k, v, mask="upper")):
                return ("the mask is upside down: you kept the upper triangle (the future). Keep the lower "
                        "triangle: position t may look at positions 0..t")
            if _close(answer, _attention(q, k, v, mask="causal", mask_after_softmax=True)) or \
                    _close(answer, _attention(q, k, v, scale=1.0, mask="causal", mask_after_softmax=True)):
                return ("mask applied after the softmax: zeroing weights afterwards leaves rows that no longer "
                        "sum to 1. Set the masked scores to -inf BEFORE the softmax")
        elif not bool(torch.isfinite(answer).all()):
            return "the output contains NaN or inf: subtract the row max before exp, or use torch.softmax"
        hint = _scale_and_dim_hint(q, k, v, answer, mask)
        if hint:
            return hint
        if causal:
            weights = _read_weights(fn, q, k)
            if weights is not None and weights.shape[-2:] == (q.shape[-2], k.shape[-2]):
                above = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).triu(1)
                if bool((weights[..., above].abs() > 1e-6).any()):
                    return ("future leakage: some position gives weight to a later position. Masked scores must "
                            "be -inf (not 0) before the softmax, for every key after the query")
        return _rows_hint(fn, q, k)

    return diagnose


def check_attention(fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """Check ``fn(q, k, v)`` -> softmax(q @ k^T / sqrt(d)) @ v, for (T, d) and (B, T, d) inputs."""
    run_check("attention", fn, lambda q, k, v: _attention(q, k, v).to(q.dtype), _make_cases(),
                     diagnose=_make_diagnose(fn, causal=False))


def check_causal_attention(fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """Check ``fn(q, k, v)`` -> causal attention: position t only attends to positions 0..t."""
    run_check("causal attention", fn, lambda q, k, v: _attention(q, k, v, mask="causal").to(q.dtype),
                     _make_cases(), diagnose=_make_diagnose(fn, causal=True))
