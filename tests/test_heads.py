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


# ---- scores on a model built by hand ---------------------------------------------------------------------
# The course GPT has no attention-only setting, so planted_induction_model switches the MLPs off by zeroing all
# their weights (bias=False, so they add exactly 0) and sets every attention weight by hand: a previous-token
# head at (0, 0), an induction head at (1, 0), distractors that attend evenly at (0, 1) and (1, 1).
from nbutils.heads import (copying_scores, per_position_losses, planted_induction_model,  # noqa: E402
                           prefix_matching_from_pattern, prefix_matching_scores, previous_token_scores,
                           repeated_tokens, second_copy_losses, top_heads)


@pytest.fixture(scope="module")
def planted():
    return planted_induction_model(vocab_size=8, context_length=20)


@pytest.fixture(scope="module")
def repeats():
    return repeated_tokens(8, 32, 8, seed=0)


def test_planted_model_is_attention_only(planted):
    for block in planted.blocks:
        assert all(float(p.detach().abs().max()) == 0.0 for p in block.mlp.parameters())


def test_repeated_tokens():
    idx = repeated_tokens(5, 4, 30, seed=3)
    assert idx.shape == (4, 10) and torch.equal(idx[:, :5], idx[:, 5:])
    assert all(len(set(row[:5].tolist())) == 5 for row in idx)  # no token repeats within a copy
    assert torch.equal(idx, repeated_tokens(5, 4, 30, seed=3))
    pool = torch.tensor([3, 7, 11, 12, 20, 21])
    assert set(repeated_tokens(4, 3, 30, choices=pool).flatten().tolist()) <= set(pool.tolist())
    with pytest.raises(ValueError, match="different tokens"):
        repeated_tokens(9, 1, 8)


def test_scores_find_the_planted_heads(planted, repeats):
    prev = previous_token_scores(planted, repeats)
    prefix = prefix_matching_scores(planted, repeats)
    copy = copying_scores(planted, repeats)
    assert prev.shape == prefix.shape == copy.shape == (2, 2)
    assert top_heads(prev)[0][:2] == (0, 0) and prev[0, 0] > 0.99
    assert top_heads(prefix)[0][:2] == (1, 0) and prefix[1, 0] > 0.9
    # an evenly attending head: about 1 / (positions it can see) on average, far below the planted ones
    assert prefix[0, 1] < 0.15 and prefix[1, 1] < 0.15 and prev[0, 1] < 0.2
    # only the induction head writes tokens the unembedding reads: it copies (1), the others are neutral (0.5)
    assert copy[1, 0] > 0.99
    assert torch.allclose(copy[0, 0], torch.tensor(0.5)), "the previous-token head writes outside the token dims"


def test_the_circuit_copies_and_ablation_removes_it(planted, repeats):
    first, second = second_copy_losses(planted, repeats)
    assert second < 1.0 < 4.0 < first        # the second copy is predicted, the first cannot be
    for heads in ([(1, 0)], [(0, 0)]):       # the induction head, or the previous-token head feeding it
        for mode in ("zero", "mean"):
            means = head_means(planted, repeats) if mode == "mean" else None
            with ablated(planted, heads, mode=mode, means=means):
                _, ablated_second = second_copy_losses(planted, repeats)
            assert ablated_second > 5.0, (heads, mode, ablated_second)   # ln 8 = 2.08: worse than a guess


def test_prefix_matching_from_pattern():
    n = 3
    pattern = torch.zeros(6, 6)
    for j in range(n):
        pattern[n + j, j + 1] = 1.0        # perfect induction
    pattern[0, 0] = pattern[1, 0] = pattern[2, 1] = 1.0
    assert prefix_matching_from_pattern(pattern, n) == 1.0
    pattern[n + 1] = 0.0
    pattern[n + 1, 0] = 1.0                # one row looks elsewhere
    assert abs(prefix_matching_from_pattern(pattern, n) - 2 / 3) < 1e-6
    with pytest.raises(ValueError, match="pattern"):
        prefix_matching_from_pattern(torch.zeros(5, 5), n)


def test_per_position_losses_by_hand(model):
    idx = tokens(batch=2, T=6)
    logits, _ = model(idx)
    by_hand = torch.stack([F.cross_entropy(logits[:, t], idx[:, t + 1]) for t in range(5)])
    assert torch.allclose(per_position_losses(model, idx), by_hand, atol=1e-6)
    with pytest.raises(ValueError, match="repeated_tokens"):
        second_copy_losses(model, idx)


def test_recall_is_prefix_matching_on_repeats(planted, repeats, model):
    """In the second copy the earlier occurrence of the next token r_{j+1} is position j + 1: recall there is
    prefix matching (without its last position, which has no next token)."""
    from nbutils.heads import recall_scores
    for m, idx in ((planted, repeats), (model, repeated_tokens(6, 3, 23, seed=2))):
        n = idx.shape[1] // 2
        where = torch.zeros_like(idx, dtype=torch.bool)
        where[:, n:] = True
        maps = torch.stack(m.attention_maps(idx))                        # (L, B, H, T, T)
        j = torch.arange(n - 1)
        by_hand = maps[..., n + j, j + 1].mean(dim=(1, 3))
        assert torch.allclose(recall_scores(m, idx, where), by_hand, atol=1e-6)
    # one position by hand: tokens [5, 6, 7, 6]; only at t = 2 is the next token (6, at position 1) a repeat
    idx = torch.tensor([[5, 6, 7, 6]])
    maps = torch.stack(model.attention_maps(idx))
    assert torch.allclose(recall_scores(model, idx), maps[:, 0, :, 2, 1], atol=1e-6)


def test_checks_accept_the_reference_and_explain_a_slip(capsys):
    from nbutils.checks.core import CheckFailed
    from nbutils.checks.heads import check_ablate_head, check_prefix_matching, check_second_copy_prediction
    from nbutils.heads import prefix_matching_from_pattern

    check_prefix_matching(prefix_matching_from_pattern)

    def duplicate(pattern, n):          # looks at the earlier token itself, not the one after it
        j = torch.arange(n)
        return float(pattern[n + j, j].mean())

    with pytest.raises(CheckFailed, match="j \\+ 1"):
        check_prefix_matching(duplicate)

    def by_hook(model, idx, layer, head):
        def hook(x, name):
            x = x.clone()
            x[:, head] = 0.0
            return x
        with torch.no_grad(), model.hooked({f"blocks.{layer}.head_out": hook}):
            return model(idx)[0]

    check_ablate_head(by_hook)
    with pytest.raises(CheckFailed, match="returns None only looks"):
        check_ablate_head(lambda model, idx, layer, head: model(idx)[0])
    guess = lambda: {"untrained model": "about the same", "bigram model": "higher"}   # noqa: E731
    check_second_copy_prediction(guess, {"untrained model": (6.9, 6.9), "bigram model": (7.1, 7.1)})
    out = capsys.readouterr().out
    assert "1 of 2 right" in out and "same pairs" in out
