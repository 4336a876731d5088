"""Checks for notebook 12: our parameter names in GPT-2's, RMSNorm, one calibration bin."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from nbutils.checks.core import Case, CheckFailed, close, run_check
from nbutils.hf import hf_name

__all__ = ["check_gpt2_name", "check_rms_norm", "check_calibration_bin", "rms_norm", "calibration_bin"]


# ------------------------------------------------------------------------------------------- names
def _diagnose_name(case: Case, got: Any, expected: str) -> str | None:
    name = case.args[0]
    if not isinstance(got, str):
        return "return the name as a string"
    if got == name:
        return "GPT2LMHeadModel keeps the body of the model under `transformer.`: the name must change"
    if name == "lm_head.weight":
        return "the head sits at the top level in GPT2LMHeadModel too: `lm_head.weight` stays as it is"
    if not got.startswith("transformer."):
        return "every parameter except the head lives under `transformer.` in GPT2LMHeadModel"
    if "blocks." in got:
        return "GPT-2 calls the list of blocks `h`: `blocks.3.` becomes `h.3.`"
    return None


def check_gpt2_name(fn) -> None:
    """Check ``fn(our_name) -> GPT-2's name`` against ``nbutils.hf.hf_name``."""
    cases = [Case((n,), label=repr(n)) for n in
             ("blocks.0.attn.c_attn.weight", "wte.weight", "blocks.3.mlp.c_proj.bias", "ln_f.weight",
              "wpe.weight", "blocks.11.ln_2.weight", "lm_head.weight")]
    run_check("gpt2_name", fn, hf_name, cases, diagnose=_diagnose_name)


# ------------------------------------------------------------------------------------------- RMSNorm
def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """x / sqrt(mean(x^2 over the last dim) + eps) * weight: the course's version."""
    return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps) * weight


def _diagnose_rms(case: Case, got: Any, expected: torch.Tensor) -> str | None:
    x, weight = case.args[:2]
    eps = case.kwargs.get("eps", 1e-5)
    if not isinstance(got, torch.Tensor):
        return "return a tensor of the same shape as x"
    if got.shape != expected.shape:
        return (f"the result should have x's shape {tuple(x.shape)}; take the mean over the last dimension with "
                f"keepdim=True so that it broadcasts")
    candidates = {
        "you subtracted the mean: that is LayerNorm. RMSNorm divides by the root mean square of x itself, "
        "without centring it": F.layer_norm(x, x.shape[-1:], weight, None, eps),
        "the weight is missing: multiply the normalised x by `weight` (one learned scale per dimension)":
            rms_norm(x, torch.ones_like(weight), eps),
        "eps goes inside the square root, added to the mean of the squares":
            x / (x.pow(2).mean(-1, keepdim=True).sqrt() + eps) * weight,
        "take the mean of the squares over the last dimension (one number per position), not over the whole tensor":
            x * torch.rsqrt(x.pow(2).mean() + eps) * weight,
        "use the mean of the squares, not their sum": x * torch.rsqrt(x.pow(2).sum(-1, keepdim=True) + eps) * weight,
        "divide by the root mean square (x / rms), do not multiply by it":
            x * torch.sqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight,
    }
    for hint, wrong in candidates.items():
        if torch.allclose(got.double(), wrong.double(), atol=1e-5, rtol=1e-4):
            return hint
    return None


def check_rms_norm(fn) -> None:
    """Check ``fn(x, weight, eps=1e-5)`` against ``torch.nn.functional.rms_norm`` (and the course's formula)."""
    g = torch.Generator().manual_seed(0)
    cases = [
        Case((torch.tensor([[3.0, 4.0]]), torch.ones(2)), label="x = [[3, 4]] (root mean square 3.536), weight = 1"),
        Case((torch.randn(2, 5, 8, generator=g) + 2.0, torch.rand(8, generator=g) + 0.5),
             label="x of shape (2, 5, 8) with mean 2, a random weight"),
        Case((torch.full((1, 4), 1e-4), torch.ones(4)), {"eps": 1e-5}, label="a tiny x = 1e-4 everywhere (eps matters)"),
    ]

    def reference(x, weight, eps=1e-5):
        out = F.rms_norm(x, x.shape[-1:], weight, eps)
        assert torch.allclose(out, rms_norm(x, weight, eps), atol=1e-6)
        return out

    run_check("rms_norm", fn, reference, cases, diagnose=_diagnose_rms, stand_in=rms_norm)


# ------------------------------------------------------------------------------------------- calibration
def calibration_bin(confidences, correct, low: float, high: float) -> tuple[int, float, float]:
    """The answers with low <= confidence < high: (how many, their mean confidence, their accuracy);
    (0, nan, nan) for an empty bin. The course's version (``nbutils.calibration.reliability_bins`` puts a
    confidence of exactly 1 into the last bin as well)."""
    inside = [(c, bool(r)) for c, r in zip(confidences, correct) if low <= c < high]
    if not inside:
        return 0, math.nan, math.nan
    return len(inside), sum(c for c, _ in inside) / len(inside), sum(r for _, r in inside) / len(inside)


def _same_bin(got: Any, expected: tuple) -> bool:
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        return False
    if int(got[0]) != expected[0]:
        return False
    if expected[0] == 0:
        return all(isinstance(v, float) and math.isnan(v) for v in got[1:])
    return close(float(got[1]), expected[1]) and close(float(got[2]), expected[2])


def _diagnose_bin(case: Case, got: Any, expected: tuple) -> str | None:
    confidences, correct, low, high = case.args
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        return "return three things: (count, mean confidence, accuracy)"
    with_high = [(c, r) for c, r in zip(confidences, correct) if low <= c <= high]
    if int(got[0]) == len(with_high) != expected[0]:
        return "a bin is [low, high): a confidence equal to `high` belongs to the next bin"
    if expected[0] == 0:
        return "an empty bin has no mean: return (0, nan, nan) (math.nan)"
    if close(float(got[1]), expected[2]) and close(float(got[2]), expected[1]):
        return "you swapped them: the second value is the mean confidence, the third the accuracy (share right)"
    total_right = sum(bool(r) for r in correct) / len(correct)
    if close(float(got[2]), total_right):
        return "the accuracy is the share right among the answers *in the bin*, not among all answers"
    return None


def check_calibration_bin(fn) -> None:
    """Check ``fn(confidences, correct, low, high) -> (count, mean confidence, accuracy)``."""
    conf = [0.95, 0.55, 0.91, 0.58, 0.99, 0.6, 0.2, 0.52]
    right = [True, False, True, True, True, True, False, True]
    cases = [Case((conf, right, 0.9, 1.0), label="confidences 0.95, 0.91, 0.99 in [0.9, 1.0), all right"),
             Case((conf, right, 0.5, 0.6), label="the bin [0.5, 0.6): 0.55 wrong, 0.58 and 0.52 right (0.6 is not in it)"),
             Case((conf, right, 0.3, 0.4), label="an empty bin [0.3, 0.4)")]
    run_check("calibration_bin", fn, calibration_bin, cases, compare=_same_bin, diagnose=_diagnose_bin)

