"""The exercise checks of notebook 04: ``check_layer_norm`` and ``check_block_forward``.

A correct answer passes; each typical mistake fails with the hint that explains it. (``check_parameter_count``
is tested in ``test_model.py``.)
"""

from __future__ import annotations

import torch

from nbutils.checks import check_block_forward, check_layer_norm
from nbutils.checks.core import CheckFailed
from tests.hints import expect_hint


# ---- layer_norm -------------------------------------------------------------------------------------------------
def _layer_norm(x, weight, bias, eps=1e-5, *, unbiased=False, use_eps=True, eps_outside=False, centre=True,
                centre_variance=True, scale=True, shift=True, shift_before_scale=False, dim=-1, fixed_eps=False):
    """A student's LayerNorm, with switches for the typical mistakes."""
    eps = 1e-5 if fixed_eps else eps
    mu = x.mean(dim=dim, keepdim=True)
    var = (x - mu if centre_variance else x).pow(2).sum(dim=dim, keepdim=True) / (x.shape[dim] - unbiased)
    std = var.sqrt() + eps if eps_outside else torch.sqrt(var + (eps if use_eps else 0.0))
    out = (x - mu if centre else x) / std
    if shift_before_scale and bias is not None:
        return (out + bias) * weight
    out = out * weight if scale else out
    return out + bias if shift and bias is not None else out


def test_layer_norm_accepts_correct_answers(capsys):
    check_layer_norm(_layer_norm)
    check_layer_norm(lambda x, w, b, eps=1e-5: torch.nn.functional.layer_norm(x, x.shape[-1:], w, b, eps))
    check_layer_norm(lambda x, w, b, eps=1e-5: (x - x.mean(-1, keepdim=True))
                     / torch.sqrt(x.var(-1, unbiased=False, keepdim=True) + eps) * w + (0 if b is None else b))
    assert "✓ layer_norm: all 4 cases pass." in capsys.readouterr().out


def test_layer_norm_hints():
    expect_hint(check_layer_norm, lambda x, w, b, eps=1e-5: _layer_norm(x, w, b, eps, unbiased=True),
                "unbiased variance", "C - 1", "unbiased=True")
    # torch.var's default is the unbiased variance: the most common way to make that mistake
    expect_hint(check_layer_norm, lambda x, w, b, eps=1e-5: (x - x.mean(-1, keepdim=True))
                / torch.sqrt(x.var(-1, keepdim=True) + eps) * w + (0 if b is None else b), "unbiased variance")
    # two mistakes: the first case (variance 3.5, where eps does not matter) names the first; once it is fixed,
    # the small-variance case names the second
    expect_hint(check_layer_norm, lambda x, w, b, eps=1e-5: _layer_norm(x, w, b, eps, unbiased=True, use_eps=False),
                "unbiased variance")
    expect_hint(check_layer_norm, lambda x, w, b, eps=1e-5: _layer_norm(x, w, b, eps, use_eps=False),
                "missing epsilon", "small")
    expect_hint(check_layer_norm, lambda x, w, b, eps=1e-5: _layer_norm(x, w, b, eps, eps_outside=True),
                "epsilon in the wrong place")
    expect_hint(check_layer_norm, lambda x, w, b, eps=1e-5: _layer_norm(x, w, b, eps, centre=False),
                "subtract the mean")
    expect_hint(check_layer_norm,
                lambda x, w, b, eps=1e-5: _layer_norm(x, w, b, eps, centre=False, centre_variance=False), "RMSNorm")
    expect_hint(check_layer_norm, lambda x, w, b, eps=1e-5: _layer_norm(x, w, b, eps, centre_variance=False),
                "around the mean")
    expect_hint(check_layer_norm, lambda x, w, b, eps=1e-5: _layer_norm(x, w, b, eps, scale=False, shift=False),
                "scale and shift")
    expect_hint(check_layer_norm, lambda x, w, b, eps=1e-5: _layer_norm(x, w, b, eps, scale=False),
                "forgot the scale")
    expect_hint(check_layer_norm, lambda x, w, b, eps=1e-5: _layer_norm(x, w, b, eps, shift=False),
                "forgot the shift")
    expect_hint(check_layer_norm, lambda x, w, b, eps=1e-5: _layer_norm(x, w, b, eps, shift_before_scale=True),
                "scale first")
    expect_hint(check_layer_norm, lambda x, w, b, eps=1e-5: _layer_norm(x, w, b, eps, dim=0), "last dimension")
    expect_hint(check_layer_norm, lambda x, w, b, eps=1e-5: _layer_norm(x, w, b, eps, fixed_eps=True),
                "eps argument")
    expect_hint(check_layer_norm, lambda x, w, b, eps=1e-5: (x - x.mean(-1)) / x.std(-1), "shape")
    expect_hint(check_layer_norm, lambda x, w, b, eps=1e-5: _layer_norm(x, w, b, eps).tolist(), "torch tensor")


def test_layer_norm_crash_and_stub(capsys):
    def crashes_on_none(x, w, b, eps=1e-5):
        return _layer_norm(x, w, torch.zeros_like(w), eps) + b     # fails when bias is None
    expect_hint(check_layer_norm, crashes_on_none, "raised TypeError", "bias=None")

    def layer_norm(x, weight, bias, eps=1e-5):
        raise NotImplementedError
    check_layer_norm(layer_norm)
    assert "not written yet" in capsys.readouterr().out


# ---- block_forward ---------------------------------------------------------------------------------------------
def _block(x, ln_1, attention, ln_2, mlp):
    x = x + attention(ln_1(x))
    return x + mlp(ln_2(x))


def test_block_forward_accepts_correct_answer(capsys):
    check_block_forward(_block)

    def in_one_line(x, ln_1, attention, ln_2, mlp):
        y = x + attention(ln_1(x))
        return y + mlp(ln_2(y))
    check_block_forward(in_one_line)
    assert "✓ block_forward: all 2 cases pass." in capsys.readouterr().out


def test_block_forward_hints():
    def post_norm(x, ln_1, attention, ln_2, mlp):
        x = ln_1(x + attention(x))
        return ln_2(x + mlp(x))
    expect_hint(check_block_forward, post_norm, "post-norm", "x = x + f(LN(x))")

    def norm_after_add(x, ln_1, attention, ln_2, mlp):
        x = ln_1(x + attention(ln_1(x)))
        return ln_2(x + mlp(ln_2(x)))
    expect_hint(check_block_forward, norm_after_add, "after the residual addition")

    expect_hint(check_block_forward, lambda x, a, f, b, g: g(b(f(a(x)))), "missing residual connections")

    def no_residual_attention(x, ln_1, attention, ln_2, mlp):
        x = attention(ln_1(x))
        return x + mlp(ln_2(x))
    expect_hint(check_block_forward, no_residual_attention, "around attention")

    def no_residual_mlp(x, ln_1, attention, ln_2, mlp):
        x = x + attention(ln_1(x))
        return mlp(ln_2(x))
    expect_hint(check_block_forward, no_residual_mlp, "around the MLP")

    def no_layer_norm(x, ln_1, attention, ln_2, mlp):
        x = x + attention(x)
        return x + mlp(x)
    expect_hint(check_block_forward, no_layer_norm, "normalised copy")

    def ln_1_twice(x, ln_1, attention, ln_2, mlp):
        return _block(x, ln_1, attention, ln_1, mlp)
    expect_hint(check_block_forward, ln_1_twice, "ln_2, not ln_1")

    def swapped(x, ln_1, attention, ln_2, mlp):
        return _block(x, ln_2, attention, ln_1, mlp)
    expect_hint(check_block_forward, swapped, "swapped")

    expect_hint(check_block_forward, lambda x, a, f, b, g: x + f(a(x)) + g(b(x)), "same input")

    def added_to_normalised(x, ln_1, attention, ln_2, mlp):
        h = ln_1(x)
        x = h + attention(h)
        h = ln_2(x)
        return h + mlp(h)
    expect_hint(check_block_forward, added_to_normalised, "to the stream itself")

    def mlp_first(x, ln_1, attention, ln_2, mlp):
        x = x + mlp(ln_2(x))
        return x + attention(ln_1(x))
    expect_hint(check_block_forward, mlp_first, "attention comes first")

    expect_hint(check_block_forward, lambda x, a, f, b, g: (_block(x, a, f, b, g), None), "not a tuple")
    expect_hint(check_block_forward, lambda x, a, f, b, g: _block(x, a, f, b, g)[0], "shape")


def test_block_forward_leaves_the_global_generator_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    try:
        check_block_forward(lambda x, a, f, b, g: x)
    except CheckFailed:
        pass
    assert torch.equal(torch.rand(3), expected)
