"""Head ablation and head scores, against what must hold by hand and against a model built by hand.

The ablation tests compare ``nbutils.heads.ablated`` with the same computation written out block by block
(attention with the chosen heads removed, computed from the weights, not through the hooks). The score tests
use a two-layer *attention-only* model whose induction circuit is planted by construction (see
``planted_induction_model``): the scores must find the planted heads, and ablating them must remove the copying.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from nbutils.heads import ablated, head_means
from nbutils.model import GPT, GPTConfig


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=23, context_length=16, n_layer=2, n_head=4, n_embd=16)).eval()


def tokens(batch: int = 3, T: int = 12, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, 23, (batch, T), generator=torch.Generator().manual_seed(seed))


def forward_by_hand(model: GPT, idx: torch.Tensor, keep: dict[int, torch.Tensor]) -> torch.Tensor:
    """The model's logits computed from its weights, block by block, with head h of layer i multiplied by
    ``keep[i][h]`` (1 = as usual, 0 = removed) before c_proj. Written independently of the hook points."""
    cfg = model.config
    d = cfg.n_embd // cfg.n_head
    T = idx.shape[1]
    x = model.wte(idx) + model.wpe(torch.arange(T))
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for i, block in enumerate(model.blocks):
        h = block.ln_1(x)
        q, k, v = block.attn.c_attn(h).split(cfg.n_embd, dim=-1)
        q, k, v = (t.view(t.shape[0], T, cfg.n_head, d).transpose(1, 2) for t in (q, k, v))
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(d)
        weights = scores.masked_fill(~causal, float("-inf")).softmax(dim=-1)
        heads = (weights @ v) * keep.get(i, torch.ones(cfg.n_head))[None, :, None, None]
        x = x + block.attn.c_proj(heads.transpose(1, 2).reshape(x.shape[0], T, cfg.n_embd))
        x = x + block.mlp(block.ln_2(x))
    return model.lm_head(model.ln_f(x))


@torch.no_grad()
def test_ablating_nothing_changes_nothing(model):
    idx = tokens()
    plain, _ = model(idx)
    with ablated(model, []):
        same, _ = model(idx)
    assert torch.equal(plain, same)
    with ablated(model, [], mode="mean", means=head_means(model, idx)):
        same, _ = model(idx)
    assert torch.equal(plain, same)
    assert model.hooks == {}  # the hooks are gone after the block


@torch.no_grad()
def test_by_hand_agrees_with_the_model(model):
    idx = tokens()
    assert torch.allclose(forward_by_hand(model, idx, {}), model(idx)[0], atol=1e-5)


@torch.no_grad()
def test_ablating_a_whole_layer_is_zeroing_its_attention(model):
    idx = tokens()
    with ablated(model, [(0, h) for h in range(4)]):
        got, _ = model(idx)
    # by hand: layer 0's attention writes only c_proj's bias (c_proj of all-zero heads)
    expected = forward_by_hand(model, idx, {0: torch.zeros(4)})
    assert torch.allclose(got, expected, atol=1e-5)
    assert not torch.allclose(got, model(idx)[0], atol=1e-3)


@torch.no_grad()
def test_ablating_one_head_matches_by_hand(model):
    idx = tokens()
    with ablated(model, [(1, 2), (0, 3)]):
        got, _ = model(idx)
    expected = forward_by_hand(model, idx, {0: torch.tensor([1.0, 1, 1, 0]), 1: torch.tensor([1.0, 1, 0, 1])})
    assert torch.allclose(got, expected, atol=1e-5)


@torch.no_grad()
def test_mean_ablation_puts_the_mean_in(model):
    idx = tokens()
    means = head_means(model, idx)
    assert set(means) == {0, 1} and means[0].shape == (4, 4)
    _, cache = model.run_with_cache(idx, ["blocks.1.head_out"])
    assert torch.allclose(means[1], cache["blocks.1.head_out"].mean(dim=(0, 2)))
    with ablated(model, [(1, 2)], mode="mean", means=means):
        logits, _ = model(idx)
    # by hand: replace head 2's output by its mean and finish the layer
    x = cache["blocks.1.head_out"].clone()
    x[:, 2] = means[1][2]
    with model.patched("blocks.1.head_out", x):
        expected, _ = model(idx)
    assert torch.allclose(logits, expected, atol=1e-6)


def test_bad_arguments(model):
    with pytest.raises(ValueError, match="mode"):
        with ablated(model, [(0, 0)], mode="resample"):
            pass
    with pytest.raises(ValueError, match="head"):
        with ablated(model, [(0, 4)]):
            pass
    with pytest.raises(ValueError, match="layer"):
        with ablated(model, [(2, 0)]):
            pass
    with pytest.raises(ValueError, match="means"):
        with ablated(model, [(0, 0)], mode="mean"):
            pass
    assert model.hooks == {}
