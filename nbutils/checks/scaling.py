"""Checks for the scaling notebook (11): FLOPs of one block, compute-optimal tokens, the all-reduce average."""

from __future__ import annotations

from typing import Any

import torch

from nbutils.checks.core import Case, close, run_check
from nbutils.scaling import block_forward_flops, tokens_for_compute_optimal

__all__ = ["check_block_flops", "check_compute_optimal_tokens", "check_all_reduce_mean", "all_reduce_mean_reference"]


# ------------------------------------------------------------------------------------------- FLOPs of a block
def _diagnose_block_flops(case: Case, got: Any, expected: int) -> str | None:
    C, T = case.args
    if not isinstance(got, (int, float)) and not (isinstance(got, torch.Tensor) and got.numel() == 1):
        return "return one number: the forward FLOPs of one block for one token"
    got = float(got)
    weights = 12 * C * C
    if got == weights:
        return ("that is the number of weights (12 C^2); each weight costs 2 FLOPs per token (a multiply and an add), "
                "and attention adds 4 T C (scores q.k and the weighted sum of v)")
    if got == 2 * weights:
        return "the matrices are right (24 C^2); add attention's two products over the T tokens of the context: 4 T C"
    if got == expected * 3:
        return "that is forward + backward (3x); the question asks for the forward pass only"
    if got == 24 * C * C + 2 * T * C:
        return "attention has TWO products with the context: scores q.k (2 T C) and the weighted sum of v (2 T C)"
    if got == 12 * C * C + 2 * T * C:
        return "a product of (m x k) by (k x n) costs 2 m k n FLOPs: a multiply AND an add per term"
    if got == 24 * C * C + 4 * T * T * C:
        return "per TOKEN, attention compares with T keys: 4 T C, not 4 T^2 C (that is per sequence)"
    if got == 20 * C * C + 4 * T * C or got == 16 * C * C + 4 * T * C:
        return "count every matrix: queries/keys/values (6 C^2), output projection (2 C^2), MLP up and down (8 C^2 each)"
    return None


def check_block_flops(fn) -> None:
    """Check ``fn(n_embd, context) -> forward FLOPs of one block per token`` against
    ``nbutils.scaling.block_forward_flops`` (matrix products only)."""
    cases = [Case((8, 4), label="n_embd = 8, context = 4"),
             Case((128, 256), label="the course model's block: n_embd = 128, context = 256"),
             Case((768, 1024), label="GPT-2 small's block: n_embd = 768, context = 1024")]
    run_check("block_flops", fn, block_forward_flops, cases,
              compare=lambda got, expected: close(float(got) if isinstance(got, (int, float, torch.Tensor)) else got,
                                                  float(expected), atol=0.5, rtol=1e-9),
              diagnose=_diagnose_block_flops)


# ------------------------------------------------------------------------------------------- compute-optimal D
def _diagnose_tokens(case: Case, got: Any, expected: float) -> str | None:
    (n_params,) = case.args
    if not isinstance(got, (int, float)):
        return "return one number: the training tokens"
    if close(float(got), n_params / 20, rtol=1e-6):
        return "upside down: Chinchilla trains on about 20 tokens PER parameter, so D = 20 N (more tokens than parameters)"
    if close(float(got), 6 * n_params * 20 * n_params, rtol=1e-6):
        return "that is the compute C = 6 N D of the run; the question asks for the tokens D"
    if close(float(got), 20.0, rtol=1e-6):
        return "20 is the ratio D / N; multiply it by the number of parameters"
    return None


def check_compute_optimal_tokens(fn) -> None:
    """Check ``fn(n_params) -> tokens`` for a compute-optimal model by Chinchilla's rule (about 20 tokens per
    parameter, ``nbutils.scaling.tokens_for_compute_optimal``)."""
    cases = [Case((1e6,), label="a model of 1M parameters"), Case((70e9,), label="Chinchilla, 70B parameters"),
             Case((124e6,), label="GPT-2 small, 124M parameters")]
    run_check("compute_optimal_tokens", fn, tokens_for_compute_optimal, cases,
              compare=lambda got, expected: isinstance(got, (int, float)) and close(float(got), expected, rtol=1e-6),
              diagnose=_diagnose_tokens)


# ------------------------------------------------------------------------------------------- the all-reduce
def all_reduce_mean_reference(gradients: list[torch.Tensor]) -> torch.Tensor:
    """The all-reduce average: the element-wise mean of one gradient per process."""
    return torch.stack(list(gradients)).mean(dim=0)


def _diagnose_all_reduce(case: Case, got: Any, expected: torch.Tensor) -> str | None:
    (gradients,) = case.args
    if not isinstance(got, torch.Tensor):
        return "return a tensor of the shape of ONE process's gradient"
    if got.shape != expected.shape:
        return (f"the result should have the shape of one gradient {tuple(expected.shape)}: average ACROSS the "
                f"processes (element by element), not over the numbers inside each gradient")
    total = torch.stack(list(gradients)).sum(dim=0)
    if torch.allclose(got.double(), total.double()):
        return ("that is the sum (what all_reduce with ReduceOp.SUM gives); divide by the number of processes, so the "
                "gradient is that of the mean loss over the whole global batch")
    if torch.allclose(got.double(), gradients[0].double()):
        return "that is process 0's own gradient: every process must end up with the mean of all of them"
    return None


def check_all_reduce_mean(fn) -> None:
    """Check ``fn(gradients) -> mean gradient``: ``gradients`` is a list with one tensor per process."""
    g = torch.Generator().manual_seed(0)
    cases = [Case(([torch.tensor([1.0, 2.0]), torch.tensor([3.0, 6.0])],), label="2 processes, gradients [1, 2] and [3, 6]"),
             Case(([torch.randn(3, 4, generator=g) for _ in range(4)],), label="4 processes, gradients of shape (3, 4)"),
             Case(([torch.tensor([5.0])],), label="1 process: its gradient, unchanged")]
    run_check("all_reduce_mean", fn, all_reduce_mean_reference, cases, diagnose=_diagnose_all_reduce)
