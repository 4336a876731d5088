"""Checks for the generation notebook: top-k, top-p (nucleus) and min-p filtering of logits."""

from __future__ import annotations

import torch

from nbutils.checks.core import Case, run_check
from nbutils.generate import top_k_filter, top_p_filter

__all__ = ["check_top_k", "check_top_p", "check_min_p", "min_p_reference"]

# Eight distinct logits, deliberately not in sorted order.
_LOGITS = torch.tensor([0.3, 2.1, -1.0, 1.4, 0.9, -0.2, 2.8, 0.0])
# Probabilities chosen so that every top-p boundary below is clear-cut (no rounding at the edge):
# sorted: 0.40 (id 1), 0.25 (id 3), 0.15 (id 4), 0.10 (id 2), 0.05, 0.05
_PROBS = torch.tensor([0.05, 0.40, 0.10, 0.25, 0.15, 0.05])
_P_LOGITS = torch.log(_PROBS) + 1.5  # logits, not log-probabilities: softmax gives _PROBS back


def _kept(row: torch.Tensor) -> set[int]:
    return {i for i, value in enumerate(row.tolist()) if value != float("-inf")}


def _shape_hint(got, expected: torch.Tensor) -> str | None:
    if not isinstance(got, torch.Tensor):
        return "return a tensor of logits with the same shape as the input (dropped tokens set to -inf)"
    if got.shape != expected.shape:
        if got.dim() < expected.dim() or got.numel() < expected.numel():
            return ("return the whole vector of logits (same shape as the input) with the dropped tokens set to "
                    "-inf, not only the kept values; for a batch of rows work along the last dimension (dim=-1)")
        return f"the result should have the input's shape {tuple(expected.shape)}"
    return None


def _common_hint(got: torch.Tensor, expected: torch.Tensor, logits: torch.Tensor) -> str | None:
    if not torch.isinf(got).any() and torch.isinf(expected).any():
        if torch.all(got >= 0) and torch.allclose(got.sum(-1), torch.ones(got.shape[:-1]), atol=1e-4):
            return "you returned probabilities; return the logits, with the dropped tokens set to -inf"
        return ("the dropped tokens must become -inf (so that softmax gives them probability exactly 0); "
                "setting them to 0 or to a small number still leaves them a chance")
    finite = ~torch.isinf(got)
    if torch.equal(finite, ~torch.isinf(expected)) and not torch.allclose(got[finite], logits[finite]):
        return "you kept the right tokens but changed their logits: leave the kept logits exactly as they were"
    return None


def _diagnose_top_k(case: Case, got, expected) -> str | None:
    logits, k = case.args
    hint = _shape_hint(got, expected)
    if hint:
        return hint
    hint = _common_hint(got, expected, logits)
    if hint:
        return hint
    rows_got = got.reshape(-1, got.shape[-1])
    rows_logits = logits.reshape(-1, logits.shape[-1])
    for row_got, row_logits in zip(rows_got, rows_logits):
        kept = _kept(row_got)
        if len(kept) == k + 1:
            return (f"you kept {k + 1} tokens instead of k={k}: an off-by-one, e.g. using the (k+1)-th largest "
                    f"logit as the threshold, or keeping everything >= a value that is not the k-th largest")
        if len(kept) == k - 1:
            return f"you kept {k - 1} tokens instead of k={k}: keep the logits >= the k-th largest (not > it)"
        smallest = set(torch.argsort(row_logits)[:k].tolist())
        if kept == smallest:
            return "you kept the k smallest logits; keep the k largest (torch.topk, or sort with descending=True)"
        if kept == set(range(k)):
            return "you kept the first k positions; keep the k positions with the largest logits"
    if logits.dim() == 2:
        return "your function does not work row by row on a batch: find the top k along the last dimension (dim=-1)"
    return None


def _diagnose_top_p(case: Case, got, expected) -> str | None:
    logits, p = case.args
    hint = _shape_hint(got, expected)
    if hint:
        return hint
    if not torch.isfinite(got).any() and not torch.isinf(expected).all():
        return ("every token was dropped: always keep at least the most likely token, even when its probability "
                "alone is already more than p")
    hint = _common_hint(got, expected, logits)
    if hint:
        return hint
    kept, wanted = _kept(got.reshape(-1)), _kept(expected.reshape(-1))
    probs = torch.softmax(logits, dim=-1).reshape(-1)
    order = torch.argsort(probs, descending=True).tolist()
    if kept < wanted and len(kept) == len(wanted) - 1 and wanted - kept == {order[len(wanted) - 1]}:
        return ("you dropped the token that crosses p: keep a token while the probability mass *before* it is "
                "still below p, so the token that brings the sum to p or beyond is kept too")
    if kept > wanted and len(kept) == len(wanted) + 1:
        return ("you kept one token too many: stop after the first token that brings the sum to >= p "
                "(keep a token when the mass before it is < p)")
    in_index_order = set()
    total = 0.0
    for i, prob in enumerate(probs.tolist()):
        if total < p:
            in_index_order.add(i)
        total += prob
    if kept == in_index_order:
        return ("you added up the probabilities in vocabulary order; sort them from largest to smallest first "
                "(torch.sort(..., descending=True)) and map the decision back to the original positions")
    cumulative_logits = set()
    total = 0.0
    for i in order:
        if total < p:
            cumulative_logits.add(i)
        total += float(logits.reshape(-1)[i])
    if kept == cumulative_logits and kept != wanted:
        return "add up probabilities (softmax of the logits), not the logits themselves"
    return None


def check_top_k(fn) -> None:
    """Check ``fn(logits, k)``: the k largest logits unchanged, every other one ``-inf``."""
    cases = [
        Case((_LOGITS.clone(), 3), label="8 logits, k=3"),
        Case((_LOGITS.clone(), 1), label="8 logits, k=1 (only the largest survives: greedy)"),
        Case((_LOGITS.clone(), 8), label="8 logits, k=8 (keep everything)"),
        Case((torch.stack([_LOGITS, -_LOGITS]), 2), label="a batch of 2 rows of logits, k=2 (filter each row)"),
    ]
    run_check("top_k_filter", fn, top_k_filter, cases, diagnose=_diagnose_top_k,
                     compare=_same_logits)


def check_top_p(fn) -> None:
    """Check ``fn(logits, p)``: the smallest set of most likely tokens with total probability >= p."""
    cases = [
        Case((_P_LOGITS.clone(), 0.7), label="probabilities [0.05, 0.40, 0.10, 0.25, 0.15, 0.05], p=0.7 "
                                             "(0.40 + 0.25 = 0.65 < 0.7, so 0.15 is needed too)"),
        Case((_P_LOGITS.clone(), 0.85), label="the same, p=0.85 (four tokens)"),
        Case((_P_LOGITS.clone(), 0.3), label="the same, p=0.3 (the top token alone, 0.40, is enough)"),
        Case((_P_LOGITS.clone(), 1.0), label="the same, p=1.0 (keep everything)"),
    ]
    run_check("top_p_filter", fn, top_p_filter, cases, diagnose=_diagnose_top_p,
                     compare=_same_logits)


def min_p_reference(logits: torch.Tensor, m: float) -> torch.Tensor:
    """Min-p filtering (Nguyen et al., 2024): keep every token whose probability is at least ``m`` times the
    most likely token's probability, along the last dimension; every other logit becomes ``-inf``.

    In logits: p_i >= m * p_max  <=>  z_i - z_max >= log(m), because the softmax's normaliser cancels. So no
    softmax is needed, and the top token is always kept (for 0 < m <= 1).
    """
    if not 0 < m <= 1:
        raise ValueError(f"m must be in (0, 1] (a fraction of the top token's probability), got {m}")
    threshold = logits.max(dim=-1, keepdim=True).values + torch.log(torch.tensor(m, dtype=logits.dtype))
    return logits.masked_fill(logits < threshold, float("-inf"))


def _diagnose_min_p(case: Case, got, expected) -> str | None:
    logits, m = case.args
    hint = _shape_hint(got, expected)
    if hint:
        return hint
    if not torch.isfinite(got).any():
        return "every token was dropped: the most likely token always passes (its probability is m times itself or more)"
    hint = _common_hint(got, expected, logits)
    if hint:
        return hint
    kept, probs, flat = _kept(got.reshape(-1)), torch.softmax(logits, dim=-1).reshape(-1), logits.reshape(-1)
    absolute = kept == {i for i, q in enumerate(probs.tolist()) if q >= m}
    on_logits = kept == {i for i, z in enumerate(flat.tolist()) if z >= m * float(flat.max())}
    if absolute or on_logits:
        said = " or ".join(s for s, hit in (("kept the tokens with probability >= m", absolute),
                                            ("compared logits with m times the largest logit", on_logits)) if hit)
        return (f"you {said}? Min-p compares probabilities with a *fraction* of the top token's probability: keep "
                "p_i >= m * max(p) (in logits: z_i - z_max >= log(m))")
    if kept == {int(torch.argmax(flat))}:
        return "you kept only the top token; keep every token whose probability is at least m times the top one's"
    return None


def check_min_p(fn) -> None:
    """Check ``fn(logits, m)``: every token with probability >= m times the top token's kept, the others ``-inf``."""
    cases = [
        Case((_P_LOGITS.clone(), 0.3), label="probabilities [0.05, 0.40, 0.10, 0.25, 0.15, 0.05], m=0.3 "
                                             "(keep p >= 0.3 * 0.40 = 0.12: three tokens)"),
        Case((_P_LOGITS.clone(), 0.2), label="the same, m=0.2 (keep p >= 0.08: four tokens)"),
        Case((_P_LOGITS.clone(), 0.9), label="the same, m=0.9 (only the top token)"),
        Case((_LOGITS.clone(), 0.05), label="8 logits, m=0.05"),
        Case((torch.stack([_LOGITS, -_LOGITS]), 0.2), label="a batch of 2 rows of logits, m=0.2 (filter each row)"),
    ]
    run_check("min_p", fn, min_p_reference, cases, diagnose=_diagnose_min_p, compare=_same_logits)


def _same_logits(got, expected: torch.Tensor) -> bool:
    """Equal shapes, -inf at the same places, the kept logits equal within rounding."""
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        return False
    got = got.detach().double().cpu()
    expected = expected.double()
    if not torch.equal(torch.isneginf(got), torch.isneginf(expected)):
        return False
    finite = ~torch.isneginf(expected)
    return bool(torch.allclose(got[finite], expected[finite], atol=1e-5, rtol=1e-5))

