"""Checks for the probability exercises: ``check_softmax`` and ``check_cross_entropy``.

Each check runs the student's function and torch's own function on a few inputs, and when they differ it
tries the typical mistakes one by one (no max subtraction, wrong dimension, wrong sign, sum instead of mean,
...) to say which one it is.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
import torch.nn.functional as F

from nbutils.checks.core import Case, as_float_tensor, run_check

__all__ = ["check_softmax", "check_cross_entropy"]

UNSTABLE_SOFTMAX = ("unstable: exp of a large logit overflows to inf and inf/inf gives NaN: subtract the max "
                    "of each row before exp (softmax(x) = softmax(x - max(x)))")


_as_tensor = as_float_tensor  # the student's answer as float64, or None


def _close(a: torch.Tensor | None, b: torch.Tensor, atol: float = 1e-5, rtol: float = 1e-4) -> bool:
    return a is not None and a.shape == b.shape and bool(torch.allclose(a, b.double(), atol=atol, rtol=rtol))


def _softmax_cases() -> list[Case]:
    gen = torch.Generator().manual_seed(0)
    return [
        Case((torch.tensor([2.0, 1.0, 0.0]),), label="a 1-D tensor [2, 1, 0]"),
        Case((torch.tensor([[1.0, 2.0, 3.0], [0.5, 0.5, -1.0]]),), label="a 2-D tensor (2 rows of 3 logits)"),
        Case((torch.randn(4, 6, generator=gen),), label="a 2-D tensor of shape (4, 6)"),
        Case((torch.tensor([[1000.0, 999.0, 998.0], [-2.0, 0.0, 2.0]]),),
             label="large logits [1000, 999, 998] in the first row"),
    ]


def _diagnose_softmax(case: Case, got: Any, expected: torch.Tensor) -> str | None:
    logits = case.args[0]
    answer = _as_tensor(got)
    if answer is None:
        return "return a torch tensor of probabilities, the same shape as the input"
    if answer.shape != expected.shape:
        return (f"the result should have the same shape as the input {tuple(expected.shape)}: one probability "
                "per logit (did you sum without keepdim=True, or return only the denominator?)")
    if not bool(torch.isfinite(answer).all()):
        return UNSTABLE_SOFTMAX
    if logits.dim() >= 2 and _close(answer, torch.softmax(logits.double(), dim=0)):
        return ("wrong dim: your columns sum to 1, but each row (the last dimension) should. "
                "Normalise over the last dimension: sum(dim=-1, keepdim=True)")
    row_sums = answer.sum(dim=-1)
    if not _close(row_sums, torch.ones_like(row_sums), atol=1e-4):
        if _close(answer.sum().reshape(1), torch.ones(1), atol=1e-4):
            return ("the whole tensor sums to 1, but each row should: normalise over the last dimension "
                    "(sum(dim=-1, keepdim=True)), not over everything")
        return "the rows do not sum to 1: divide exp(x) by its sum over the last dimension (dim=-1, keepdim=True)"
    if _close(answer, torch.softmax(-logits.double(), dim=-1)):
        return "the largest logit should get the largest probability: use exp(x), not exp(-x)"
    return None


def check_softmax(fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """Check ``fn(logits)`` -> softmax over the last dimension, for 1-D and 2-D float tensors."""
    run_check("softmax", fn, lambda logits: torch.softmax(logits, dim=-1), _softmax_cases(),
                     diagnose=_diagnose_softmax)


def _cross_entropy_cases() -> list[Case]:
    gen = torch.Generator().manual_seed(1)
    return [
        Case((torch.tensor([[math.log(0.9), math.log(0.05), math.log(0.05)]]), torch.tensor([0])),
             label="one prediction with p(target) = 0.9 (expected loss -ln 0.9 ≈ 0.105)"),
        Case((torch.randn(4, 5, generator=gen), torch.tensor([0, 3, 1, 4])),
             label="4 predictions over a vocabulary of 5"),
        Case((torch.randn(8, 10, generator=gen) * 3, torch.randint(0, 10, (8,), generator=gen)),
             label="8 predictions over a vocabulary of 10"),
        Case((1000.0 + 5 * torch.randn(6, 7, generator=gen), torch.tensor([0, 1, 2, 3, 4, 5])),
             label="large logits (around 1000)"),
    ]


def _diagnose_cross_entropy(case: Case, got: Any, expected: float) -> str | None:
    logits, targets = case.args
    n = targets.shape[0]
    answer = _as_tensor(got)
    if answer is None:
        return "return the mean loss as a number (a 0-d tensor or a float)"
    if not bool(torch.isfinite(answer).all()):
        return ("unstable softmax inside: exp of logits around 1000 overflows (NaN/inf). Subtract each row's max "
                "before exp, or compute log-probabilities as x - max - log(sum(exp(x - max)))")
    per_example = F.cross_entropy(logits.double(), targets, reduction="none")
    if answer.numel() > 1:
        if answer.shape == per_example.shape and _close(answer, per_example):
            return "you return one loss per example (a vector); the check wants their mean, a single number"
        if answer.dim() == 2 and answer.shape[0] == answer.shape[1] == n:
            return ("your result is an (N, N) table: pick one log-probability per row with "
                    "log_probs[torch.arange(N), targets], not log_probs[:, targets]")
        return f"return a single number (the mean loss), not a tensor of shape {tuple(answer.shape)}"
    value = float(answer.reshape(()))
    if math.isclose(value, -expected, rel_tol=1e-4, abs_tol=1e-6):
        return "wrong sign: the loss is MINUS the log-probability of the target, so it is >= 0"
    if n > 1 and math.isclose(value, expected * n, rel_tol=1e-4, abs_tol=1e-6):
        return "you return the sum over the examples; divide by N (take the mean)"
    if math.isclose(value, expected / math.log(2), rel_tol=1e-4, abs_tol=1e-6):
        return "you used log base 2; the loss uses the natural logarithm (torch.log)"
    if math.isclose(value, float(per_example.sum()) / logits.numel(), rel_tol=1e-4, abs_tol=1e-6):
        return "you divided by N * V; the mean is over the N examples only"
    return None


def check_cross_entropy(fn: Callable[[torch.Tensor, torch.Tensor], Any]) -> None:
    """Check ``fn(logits (N, V), targets (N,))`` -> mean of -log softmax(logits)[i, targets[i]]."""
    run_check("cross_entropy", fn, lambda logits, targets: F.cross_entropy(logits, targets).item(),
                     _cross_entropy_cases(), diagnose=_diagnose_cross_entropy, stand_in=F.cross_entropy)
