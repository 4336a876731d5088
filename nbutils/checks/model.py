"""Checks for the model exercises (notebook 04): ``check_layer_norm``, ``check_block_forward`` and
``check_parameter_count``.

``check_layer_norm``: the student writes ``layer_norm(x, weight, bias, eps=1e-5)``. A wrong answer is compared
with the typical mistakes (unbiased variance, no or misplaced epsilon, no mean subtraction, forgotten scale or
shift, the wrong dimension) and the one that matches is named.

``check_block_forward``: the student writes ``block_forward(x, ln_1, attention, ln_2, mlp)``, one pre-norm block.
A wrong answer is compared with post-norm, missing residual connections, missing or swapped LayerNorms, the
parallel form and the MLP running first.

The student writes ``count(config) -> int``, the number of parameters of ``nbutils.model.GPT(config)``.
When the number is off, the check compares the difference with what each typical omission would cost
(biases, LayerNorms, position embeddings, counting the tied head twice, ...) and names the match.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any, Callable

import torch
import torch.nn.functional as F

from nbutils.checks.core import Case, as_float_tensor, run_check
from nbutils.model import GPT, Block, GPTConfig

__all__ = ["check_layer_norm", "check_block_forward", "check_parameter_count"]


def _cases() -> list[Case]:
    return [
        Case((GPTConfig(vocab_size=100, context_length=24, n_layer=2, n_head=2, n_embd=24),),
             label="GPTConfig(vocab_size=100, context_length=24, n_layer=2, n_head=2, n_embd=24)"),
        Case((GPTConfig(vocab_size=65, context_length=64, n_layer=4, n_head=4, n_embd=128),),
             label="GPTConfig(vocab_size=65, context_length=64, n_layer=4, n_head=4, n_embd=128)"),
        Case((GPTConfig(vocab_size=50, context_length=32, n_layer=3, n_head=4, n_embd=16, bias=False),),
             label="GPTConfig(vocab_size=50, context_length=32, n_layer=3, n_head=4, n_embd=16, bias=False)"),
    ]


def _mistakes(config: GPTConfig) -> list[tuple[str, int]]:
    """Each typical mistake as (hint, what it adds to the count); negative means something was forgotten."""
    C, V, L, n = config.n_embd, config.vocab_size, config.context_length, config.n_layer
    b = 1 if config.bias else 0
    layer_norms = 2 * n + 1
    mlp = "the MLP widens to 4 * n_embd: c_fc has n_embd x 4n_embd weights and c_proj 4n_embd x n_embd"
    mistakes = [
        ("you forgot the position embeddings (context_length x n_embd)", -L * C),
        ("you forgot the token embedding (vocab_size x n_embd)", -V * C),
        ("you counted the LM head separately, but it is tied to the token embedding (the same matrix, "
         "counted once)", V * C),
        ("you forgot the LayerNorms (2 per block plus the final one, each with a weight and a bias of "
         "size n_embd)", -layer_norms * C * (1 + b)),
        ("you forgot the final LayerNorm (after the last block)", -C * (1 + b)),
        ("attention has 4 matrices of n_embd x n_embd per block (queries, keys, values, and the output "
         "projection)", -n * (C * C + b * C)),
        (mlp, -n * (6 * C * C + 3 * b * C)),  # no widening at all (C -> C -> C)
        (mlp, -n * (4 * C * C + 2 * b * C)),  # widened 2x instead of 4x
    ]
    if b:
        mistakes += [
            ("you forgot the biases (every Linear has one, and every LayerNorm has a bias of size n_embd)",
             -(n * 11 * C + C)),
            ("you forgot the biases of the Linear layers (per block: c_attn 3C, attention c_proj C, c_fc 4C, "
             "MLP c_proj C)", -n * 9 * C),
            ("you forgot the LayerNorm biases (each LayerNorm has a weight and a bias)", -layer_norms * C),
            ("the tied LM head has no bias", V),
        ]
    else:
        mistakes += [
            ("config.bias is False: no Linear or LayerNorm has a bias vector, count none", n * 11 * C + C),
            ("config.bias is False: the Linear layers have no bias vectors", n * 9 * C),
            ("config.bias is False: the LayerNorms have only a weight, no bias", layer_norms * C),
        ]
    return mistakes


def _diagnose(case: Case, got: Any, expected: int) -> str | None:
    if isinstance(got, bool) or not isinstance(got, int):
        try:
            as_int = int(got)
        except (TypeError, ValueError):
            return f"return a whole number (an int), got {type(got).__name__}"
        if as_int != got:
            return f"return a whole number (an int), got {got!r}"
        got = as_int
    difference = got - expected
    mistakes = _mistakes(case.args[0])
    for hint, delta in mistakes:
        if delta == difference:
            return f"{hint} (your count is off by {difference:+d})"
    for (hint_a, delta_a), (hint_b, delta_b) in combinations(mistakes, 2):
        if delta_a + delta_b == difference:
            return f"two things: {hint_a}; and {hint_b} (your count is off by {difference:+d})"
    return (f"your count is off by {difference:+d}; count, per block: two LayerNorms, c_attn (n_embd -> "
            "3 n_embd), attention c_proj, c_fc (n_embd -> 4 n_embd) and MLP c_proj; plus both embeddings and "
            "the final LayerNorm")


def check_parameter_count(fn: Callable[[GPTConfig], int]) -> None:
    """Check ``fn(config) -> int`` against the number of parameters of ``GPT(config)``."""
    run_check("parameter count", fn, GPT.parameter_count_formula, _cases(), diagnose=_diagnose)


# ---- LayerNorm ----------------------------------------------------------------------------------------------
def _layer_norm_reference(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                          eps: float = 1e-5) -> torch.Tensor:
    """LayerNorm over the last dimension (torch's own), in the dtype of ``x``."""
    return F.layer_norm(x, x.shape[-1:], weight, bias, eps)


def _layer_norm_variant(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, eps: float, *,
                        unbiased: bool = False, use_eps: bool = True, eps_outside: bool = False,
                        centre: bool = True, centre_variance: bool = True, scale: bool = True, shift: bool = True,
                        shift_before_scale: bool = False, dim: int = -1) -> torch.Tensor:
    """LayerNorm in float64, right or with one chosen mistake."""
    x = x.double()
    weight = weight.double()
    bias = None if bias is None else bias.double()
    mu = x.mean(dim=dim, keepdim=True)
    deviation = x - mu if centre_variance else x
    n = x.shape[dim]
    var = (deviation ** 2).sum(dim=dim, keepdim=True) / (n - 1 if unbiased else n)
    eps = eps if use_eps else 0.0
    std = var.sqrt() + eps if eps_outside else torch.sqrt(var + eps)
    out = (x - mu if centre else x) / std
    if shift and bias is not None and shift_before_scale:
        return (out + bias) * weight if scale else out + bias
    if scale:
        out = out * weight
    if shift and bias is not None:
        out = out + bias
    return out


def _layer_norm_cases() -> list[Case]:
    gen = torch.Generator().manual_seed(0)

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen)

    v = torch.tensor([1.0, 2.0, 3.0, 6.0])
    gamma, beta = torch.tensor([1.0, 0.5, 2.0, 1.0]), torch.tensor([0.0, 0.1, 0.0, -0.1])
    return [
        Case((v, gamma, beta), label="x = (1, 2, 3, 6), weight (1, 0.5, 2, 1), bias (0, 0.1, 0, -0.1)"),
        Case((randn(2, 3, 8) * 2 + 1, 1 + 0.3 * randn(8), 0.2 * randn(8)),
             label="x of shape (B=2, T=3, C=8), random weight and bias"),
        Case((0.03 * randn(5, 16), torch.ones(16), None),
             label="x of shape (5, 16) with a small variance (about 1e-3, like an untrained stream), "
                   "weight 1, bias=None"),
        Case((randn(3, 6), 1 + 0.3 * randn(6), 0.2 * randn(6)), {"eps": 0.1},
             label="x of shape (3, 6), random weight and bias, eps=0.1"),
    ]


def _diagnose_layer_norm(case: Case, got: Any, expected: torch.Tensor) -> str | None:
    x, weight, bias = case.args
    eps = case.kwargs.get("eps", 1e-5)
    answer = as_float_tensor(got)
    if answer is None or not isinstance(got, torch.Tensor):
        return "return a torch tensor with the shape of x"
    if answer.shape != expected.shape:
        return (f"the output should have the shape of x, {tuple(expected.shape)}: keep the dimension you reduce "
                "with keepdim=True, so that (x - mean) / std broadcasts over the last dimension")
    if not bool(torch.isfinite(answer).all()):
        return "the output contains NaN or inf: add eps to the variance before the square root"

    def matches(**mistake: Any) -> bool:
        variant = _layer_norm_variant(x, weight, bias, eps, **mistake)
        return variant.shape == answer.shape and bool(torch.allclose(answer, variant, atol=1e-5, rtol=1e-4))

    unbiased = ("unbiased variance: you divided by C - 1 (torch.var's and x.std()'s default, unbiased=True); "
                "LayerNorm divides by C. Use ((x - mu) ** 2).mean(-1, keepdim=True) or "
                "x.var(-1, unbiased=False, keepdim=True)")
    checks = [
        (dict(unbiased=True), unbiased),
        (dict(unbiased=True, use_eps=False), unbiased + "; and add eps to the variance"),
        (dict(unbiased=True, eps_outside=True), unbiased + "; and put eps inside the square root"),
        (dict(use_eps=False), "missing epsilon: divide by sqrt(var + eps), not sqrt(var). It matters when the "
                              "variance is small, as in an untrained model's stream (about 1e-3)"),
        (dict(eps_outside=True), "epsilon in the wrong place: divide by sqrt(var + eps), not by sqrt(var) + eps"),
        (dict(centre=False), "subtract the mean before dividing: (x - mu) / sqrt(var + eps)"),
        (dict(centre=False, centre_variance=False),
         "you divided by the root mean square without subtracting the mean (that is RMSNorm, another "
         "normalisation); LayerNorm computes (x - mu) / sqrt(var + eps) with var the mean of (x - mu)^2"),
        (dict(centre_variance=False), "the variance is the mean of (x - mu)^2, around the mean, not of x^2"),
        (dict(scale=False, shift=False), "you forgot the learned scale and shift: multiply by weight, then add bias"),
        (dict(scale=False), "you forgot the scale: multiply the normalised vector by weight (gamma)"),
        (dict(shift=False), "you forgot the shift: add bias (beta) after scaling (when bias is not None)"),
        (dict(shift_before_scale=True), "scale first, then shift: normalised * weight + bias, not "
                                        "(normalised + bias) * weight"),
    ]
    if "eps" in case.kwargs and (bool(torch.allclose(answer, _layer_norm_variant(x, weight, bias, 1e-5),
                                                      atol=1e-5, rtol=1e-4)) or matches(use_eps=False)):
        return f"use the eps argument (here eps={eps}), not a fixed 1e-5"
    for mistake, hint in checks:
        if matches(**mistake):
            return hint
    if x.dim() > 1 and any(matches(dim=d) for d in range(x.dim() - 1)):
        return ("normalise over the last dimension (dim=-1), the C numbers of one position: mean and variance "
                "over dim=-1 with keepdim=True")
    return None


def check_layer_norm(fn: Callable[..., torch.Tensor]) -> None:
    """Check ``fn(x, weight, bias, eps=1e-5)`` against LayerNorm over the last dimension."""
    run_check("layer_norm", fn, _layer_norm_reference, _layer_norm_cases(), diagnose=_diagnose_layer_norm)


# ---- one transformer block ------------------------------------------------------------------------------------
def _block_forward_reference(x: torch.Tensor, ln_1: Callable, attention: Callable, ln_2: Callable,
                             mlp: Callable) -> torch.Tensor:
    """One pre-norm block: each sub-layer reads a normalised copy of the stream and adds its result to it."""
    x = x + attention(ln_1(x))
    return x + mlp(ln_2(x))


def _block_pieces(seed: int, n_embd: int = 8, n_head: int = 2) -> tuple[Callable, Callable, Callable, Callable]:
    """The four functions of a random ``nbutils.model.Block``: LayerNorms with non-trivial weights and biases,
    attention and MLP with weights large enough that every mistake changes the answer visibly."""
    with torch.random.fork_rng(devices=[]):       # building a Block draws from the global generator: keep
        block = Block(GPTConfig(vocab_size=10, context_length=16, n_layer=1, n_head=n_head,  # it untouched
                                n_embd=n_embd)).eval()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in block.named_parameters():
            if name.startswith("ln_"):
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.5 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(torch.randn(p.shape, generator=gen) / p.shape[-1] ** 0.5)
    for p in block.parameters():
        p.requires_grad_(False)

    def attention(h: torch.Tensor) -> torch.Tensor:
        return block.attn(h)

    return block.ln_1, attention, block.ln_2, block.mlp


def _block_cases() -> list[Case]:
    gen = torch.Generator().manual_seed(1)
    return [
        Case((torch.randn(2, 5, 8, generator=gen), *_block_pieces(0)),
             label="x of shape (B=2, T=5, C=8) and the pieces of a random block"),
        Case((3 * torch.randn(1, 7, 8, generator=gen) + 1, *_block_pieces(1)),
             label="x of shape (B=1, T=7, C=8), large values, and the pieces of another random block"),
    ]


def _block_variant(x: torch.Tensor, ln_1: Callable, attention: Callable, ln_2: Callable, mlp: Callable,
                   mistake: str) -> torch.Tensor:
    if mistake == "post_norm":
        x = ln_1(x + attention(x))
        return ln_2(x + mlp(x))
    if mistake == "post_norm_read_normed":        # norm after the add, sub-layers still reading LN(x)
        x = ln_1(x + attention(ln_1(x)))
        return ln_2(x + mlp(ln_2(x)))
    if mistake == "no_residual":
        return mlp(ln_2(attention(ln_1(x))))
    if mistake == "no_residual_attention":
        x = attention(ln_1(x))
        return x + mlp(ln_2(x))
    if mistake == "no_residual_mlp":
        return mlp(ln_2(x + attention(ln_1(x))))
    if mistake == "no_layer_norm":
        x = x + attention(x)
        return x + mlp(x)
    if mistake == "ln_1_twice":
        x = x + attention(ln_1(x))
        return x + mlp(ln_1(x))
    if mistake == "ln_swapped":
        x = x + attention(ln_2(x))
        return x + mlp(ln_1(x))
    if mistake == "parallel":
        return x + attention(ln_1(x)) + mlp(ln_2(x))
    if mistake == "added_to_normalised":
        h = ln_1(x)
        x = h + attention(h)
        h = ln_2(x)
        return h + mlp(h)
    if mistake == "mlp_first":
        x = x + mlp(ln_2(x))
        return x + attention(ln_1(x))
    raise ValueError(mistake)


_BLOCK_HINTS = {
    "post_norm": ("post-norm: you normalised after the residual addition, x = LN(x + f(x)) (the original "
                  "transformer). GPT-2 is pre-norm: normalise only the copy a sub-layer reads, "
                  "x = x + f(LN(x)), and leave the stream itself alone"),
    "post_norm_read_normed": ("you applied a LayerNorm after the residual addition, which rescales the stream "
                              "itself; pre-norm: x = x + attention(ln_1(x)), then x = x + mlp(ln_2(x)), "
                              "with no LayerNorm on the sum"),
    "no_residual": ("missing residual connections: add each sub-layer's result to the stream, "
                    "x = x + attention(ln_1(x)), then x = x + mlp(ln_2(x)), instead of replacing x by it"),
    "no_residual_attention": ("missing residual connection around attention: x = x + attention(ln_1(x)), "
                              "not x = attention(ln_1(x))"),
    "no_residual_mlp": "missing residual connection around the MLP: x = x + mlp(ln_2(x)), not x = mlp(ln_2(x))",
    "no_layer_norm": ("the sub-layers must read a normalised copy of the stream: attention(ln_1(x)) and "
                      "mlp(ln_2(x)), not attention(x) and mlp(x)"),
    "ln_1_twice": "the MLP reads the stream through its own LayerNorm, ln_2, not ln_1 again",
    "ln_swapped": "the LayerNorms are swapped: ln_1 goes before attention, ln_2 before the MLP",
    "parallel": ("the MLP must read the stream after attention has added its result (x = x + attention(...) "
                 "first, then mlp(ln_2(x)) on the new x); you fed both sub-layers the same input"),
    "added_to_normalised": ("you added the sub-layer's result to the normalised copy, ln_1(x) + attention(...); "
                            "add it to the stream itself: x = x + attention(ln_1(x))"),
    "mlp_first": "attention comes first, then the MLP",
}


def _diagnose_block(case: Case, got: Any, expected: torch.Tensor) -> str | None:
    if isinstance(got, tuple):
        return "return only the new stream x (one tensor), not a tuple"
    answer = as_float_tensor(got)
    if answer is None or not isinstance(got, torch.Tensor):
        return "return a torch tensor: the new residual stream, with the shape of x"
    if answer.shape != expected.shape:
        return f"the block must keep the shape of the stream, {tuple(expected.shape)}"
    for mistake, hint in _BLOCK_HINTS.items():
        variant = _block_variant(*case.args, mistake=mistake).double()
        if bool(torch.allclose(answer, variant, atol=1e-5, rtol=1e-4)):
            return hint
    return None


def check_block_forward(fn: Callable[..., torch.Tensor]) -> None:
    """Check ``fn(x, ln_1, attention, ln_2, mlp)`` against one pre-norm transformer block."""
    run_check("block_forward", fn, _block_forward_reference, _block_cases(), diagnose=_diagnose_block)
