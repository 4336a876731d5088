"""Tests for nbutils.attention (compared with torch) and nbutils.checks.attention."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from nbutils.attention import MultiHeadAttention, causal_mask, merge_heads, scaled_dot_product_attention, split_heads
from nbutils.checks.attention import check_attention, check_causal_attention

from hints import expect_hint  # tests/hints.py


@pytest.fixture
def gen() -> torch.Generator:
    return torch.Generator().manual_seed(0)


def _qkv(gen, *shape, dv=None):
    *lead, T, d = shape
    v_shape = (*lead, T, dv or d)
    return torch.randn(*shape, generator=gen), torch.randn(*shape, generator=gen), torch.randn(*v_shape, generator=gen)


# ---- scaled dot-product attention --------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(5, 8), (2, 6, 16), (2, 3, 7, 4)])
@pytest.mark.parametrize("causal", [False, True])
def test_matches_torch_sdpa(gen, shape, causal):
    q, k, v = _qkv(gen, *shape)
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v, causal=causal), expected)


def test_boolean_mask_matches_torch_sdpa(gen):
    q, k, v = _qkv(gen, 2, 2, 5, 8, dv=3)
    mask = torch.rand(2, 1, 5, 5, generator=gen) > 0.4
    mask[..., 0] = True  # every query may see at least one key
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v, mask=mask),
                               F.scaled_dot_product_attention(q, k, v, attn_mask=mask))


def test_float_mask_is_added(gen):
    q, k, v = _qkv(gen, 4, 6)
    bias = torch.randn(4, 4, generator=gen)
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v, mask=bias),
                               F.scaled_dot_product_attention(q, k, v, attn_mask=bias))


def test_different_query_and_key_lengths(gen):
    q = torch.randn(3, 8, generator=gen)
    k = torch.randn(5, 8, generator=gen)
    v = torch.randn(5, 2, generator=gen)
    out, w = scaled_dot_product_attention(q, k, v, return_weights=True)
    assert out.shape == (3, 2) and w.shape == (3, 5)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v))


def test_weights_rows_sum_to_one_and_are_causal(gen):
    q, k, v = _qkv(gen, 2, 6, 8)
    _, w = scaled_dot_product_attention(q, k, v, causal=True, return_weights=True)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 6))
    assert (w[..., ~causal_mask(6)] == 0).all()
    expected = torch.softmax((q @ k.transpose(-1, -2) / math.sqrt(8)).masked_fill(~causal_mask(6), -math.inf), -1)
    torch.testing.assert_close(w, expected)


def test_fully_masked_row_is_left_as_nan(gen):
    """Documented behaviour: the plain formula gives softmax(all -inf) = 0/0 = NaN; we do not hide it.
    torch's fused kernel returns zeros for such a row instead; the other rows agree."""
    q, k, v = _qkv(gen, 4, 8)
    mask = causal_mask(4)
    mask[2] = False
    out = scaled_dot_product_attention(q, k, v, mask=mask)
    assert torch.isnan(out[2]).all()
    keep = torch.tensor([True, True, False, True])
    torch.testing.assert_close(out[keep], F.scaled_dot_product_attention(q, k, v, attn_mask=mask)[keep])


def test_causal_mask():
    m = causal_mask(4)
    assert m.dtype == torch.bool and m.shape == (4, 4)
    assert torch.equal(m, torch.ones(4, 4).tril().bool())
    with pytest.raises(ValueError, match="an int >= 1"):
        causal_mask(0)


def test_attention_errors(gen):
    q, k, v = _qkv(gen, 4, 8)
    with pytest.raises(ValueError, match="same size d"):
        scaled_dot_product_attention(q, k[:, :5], v)
    with pytest.raises(ValueError, match="one value per key"):
        scaled_dot_product_attention(q, k, v[:3])
    with pytest.raises(ValueError, match=r"\(\.\.\., T, d\)"):
        scaled_dot_product_attention(q[0], k, v)
    with pytest.raises(TypeError, match="floating-point"):
        scaled_dot_product_attention(q.long(), k, v)
    with pytest.raises(ValueError, match="leading"):
        scaled_dot_product_attention(q.expand(2, 4, 8), k, v)
    with pytest.raises(ValueError, match="Tq=3"):
        scaled_dot_product_attention(q[:3], k, v, causal=True)
    with pytest.raises(ValueError, match="broadcast"):
        scaled_dot_product_attention(q, k, v, mask=torch.ones(3, 3, dtype=torch.bool))
    with pytest.raises(TypeError, match="boolean"):
        scaled_dot_product_attention(q, k, v, mask=torch.ones(4, 4, dtype=torch.long))


# ---- heads --------------------------------------------------------------------------------------------------
def test_split_and_merge_heads(gen):
    x = torch.randn(2, 5, 12, generator=gen)
    heads = split_heads(x, 3)
    assert heads.shape == (2, 3, 5, 4)
    torch.testing.assert_close(heads[:, 1], x[..., 4:8])  # head h holds features h*4 .. h*4+3
    torch.testing.assert_close(merge_heads(heads), x)
    with pytest.raises(ValueError, match="divisible"):
        split_heads(x, 5)
    with pytest.raises(ValueError, match=r"\(B, T, C\)"):
        split_heads(x[0], 3)
    with pytest.raises(ValueError, match="n_head"):
        merge_heads(x)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("causal", [False, True])
def test_multihead_matches_torch_multiheadattention(gen, bias, causal):
    torch.manual_seed(0)
    ours = MultiHeadAttention(16, 4, bias=bias)
    theirs = nn.MultiheadAttention(16, 4, bias=bias, batch_first=True)
    with torch.no_grad():
        theirs.in_proj_weight.copy_(ours.c_attn.weight)
        theirs.out_proj.weight.copy_(ours.c_proj.weight)
        if bias:
            theirs.in_proj_bias.copy_(ours.c_attn.bias)
            theirs.out_proj.bias.copy_(ours.c_proj.bias)
    x = torch.randn(3, 7, 16, generator=gen)
    out, w = ours(x, causal=causal, return_weights=True)
    blocked = ~causal_mask(7) if causal else None  # nn.MultiheadAttention: True = blocked
    ref_out, ref_w = theirs(x, x, x, attn_mask=blocked, need_weights=True, average_attn_weights=True)
    assert w.shape == (3, 4, 7, 7)
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(w.mean(dim=1), ref_w)


def test_separate_projections_equal_fused(gen):
    torch.manual_seed(0)
    fused = MultiHeadAttention(12, 3)
    separate = MultiHeadAttention(12, 3, fused_qkv=False)
    with torch.no_grad():
        for i, proj in enumerate((separate.q_proj, separate.k_proj, separate.v_proj)):
            proj.weight.copy_(fused.c_attn.weight[i * 12:(i + 1) * 12])
            proj.bias.copy_(fused.c_attn.bias[i * 12:(i + 1) * 12])
        separate.c_proj.load_state_dict(fused.c_proj.state_dict())
    x = torch.randn(2, 5, 12, generator=gen)
    torch.testing.assert_close(separate(x, causal=True), fused(x, causal=True))


def test_multihead_errors():
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(10, 3)
    with pytest.raises(ValueError, match="an int >= 1"):
        MultiHeadAttention(0, 1)
    with pytest.raises(ValueError, match=r"\(B, T, 8\)"):
        MultiHeadAttention(8, 2)(torch.randn(2, 3, 6))


# ---- exercise checks ----------------------------------------------------------------------------------------


def _scores(q, k, scale=True):
    s = q @ k.transpose(-2, -1)
    return s / math.sqrt(q.shape[-1]) if scale else s


def _future(T):
    return torch.ones(T, T, dtype=torch.bool).triu(1)


def test_check_attention_accepts_references(capsys):
    check_attention(lambda q, k, v: F.scaled_dot_product_attention(q, k, v))
    check_attention(scaled_dot_product_attention)
    assert "✓ attention" in capsys.readouterr().out


def test_check_attention_hints():
    expect_hint(check_attention, lambda q, k, v: torch.softmax(_scores(q, k, False), -1) @ v, "missing scale")
    expect_hint(check_attention, lambda q, k, v: torch.softmax(q @ k.transpose(-2, -1) / q.shape[-1], -1) @ v,
                 "not by d")
    expect_hint(check_attention, lambda q, k, v: torch.softmax(_scores(q, k), -2) @ v, "wrong dim")
    expect_hint(check_attention, lambda q, k, v: torch.exp(_scores(q, k)) @ v, "do not sum to 1")
    expect_hint(check_attention, lambda q, k, v: _scores(q, k) @ v, "do not sum to 1")
    expect_hint(check_attention, lambda q, k, v: torch.softmax(_scores(q, k), -1),
                 "should have shape")


def test_check_causal_attention_accepts_references():
    check_causal_attention(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True))
    check_causal_attention(lambda q, k, v: scaled_dot_product_attention(q, k, v, causal=True))
    # a large negative number instead of -inf is fine too
    check_causal_attention(
        lambda q, k, v: torch.softmax(_scores(q, k).masked_fill(_future(q.shape[-2]), -1e9), -1) @ v)


def test_check_causal_attention_hints():
    def masked(q, k, keep, scale=True):
        return _scores(q, k, scale).masked_fill(~keep, float("-inf"))

    def T_of(q):
        return q.shape[-2]

    ones = lambda q: torch.ones(T_of(q), T_of(q), dtype=torch.bool)  # noqa: E731
    expect_hint(check_causal_attention, lambda q, k, v: torch.softmax(masked(q, k, ones(q).triu(1)), -1) @ v,
                 "NaN rows", "upside down")
    expect_hint(check_causal_attention, lambda q, k, v: torch.softmax(masked(q, k, ones(q).tril(-1)), -1) @ v,
                 "NaN rows", "keep the diagonal")
    expect_hint(check_causal_attention, lambda q, k, v: torch.softmax(masked(q, k, ones(q).triu()), -1) @ v,
                 "upside down")
    expect_hint(check_causal_attention, lambda q, k, v: torch.softmax(_scores(q, k), -1) @ v, "no causal mask")
    expect_hint(check_causal_attention,
                 lambda q, k, v: (torch.softmax(_scores(q, k), -1) * ones(q).tril()) @ v, "after the softmax")
    expect_hint(check_causal_attention,
                 lambda q, k, v: torch.softmax(_scores(q, k), -1).masked_fill(_future(T_of(q)), -math.inf) @ v,
                 "after the softmax")
    expect_hint(check_causal_attention, lambda q, k, v: torch.softmax(masked(q, k, ones(q).tril(), False), -1) @ v,
                 "missing scale")
    expect_hint(check_causal_attention,
                 lambda q, k, v: torch.softmax(_scores(q, k).masked_fill(_future(T_of(q)), 0.0), -1) @ v,
                 "future leakage")


def test_boolean_mask_means_may_attend_as_in_torch_sdpa_and_the_opposite_of_torch_multiheadattention(gen):
    torch.manual_seed(0)
    ours = MultiHeadAttention(8, 2)
    theirs = nn.MultiheadAttention(8, 2, batch_first=True)
    with torch.no_grad():
        theirs.in_proj_weight.copy_(ours.c_attn.weight)
        theirs.in_proj_bias.copy_(ours.c_attn.bias)
        theirs.out_proj.load_state_dict(ours.c_proj.state_dict())
    x = torch.randn(2, 5, 8, generator=gen)
    allowed = causal_mask(5) & torch.tensor([True, False, True, True, False])  # some keys hidden
    allowed[:, 0] = True                                                     # every query sees a key
    out, w = ours(x, mask=allowed, return_weights=True)
    ref_out, ref_w = theirs(x, x, x, attn_mask=~allowed, average_attn_weights=False)
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(w, ref_w)
    assert (w[..., ~allowed] == 0).all()
