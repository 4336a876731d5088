"""Tests of ``nbutils.pretrain.segment_starts``, ``sliding_window_losses`` (built on ``evaluate.story_logits``) and
``validation_loss``.

Every loss is checked against a brute-force score on a tiny seeded GPT: the model run on exactly the tokens of
the target's own segment before it (at most ``context_length`` of them), one target at a time.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from nbutils.model import GPT, GPTConfig
from nbutils.pretrain import segment_starts, sliding_window_losses, validation_loss

V, T = 20, 8


@pytest.fixture(scope="module")
def model() -> GPT:
    torch.manual_seed(0)
    m = GPT(GPTConfig(vocab_size=V, context_length=T, n_layer=2, n_head=2, n_embd=16))
    m.train()  # the functions must switch to eval themselves, and give the mode back
    return m


@pytest.fixture(scope="module")
def ids() -> torch.Tensor:
    return torch.randint(0, V, (45,), generator=torch.Generator().manual_seed(1))


@torch.no_grad()
def brute_force(model: GPT, ids: torch.Tensor, resets: list[int]) -> torch.Tensor:
    """out[t - 1] = -log p(ids[t] | ids[a:t]), a = max(last reset before t, t - T), one forward pass per target."""
    was_training = model.training
    model.eval()
    out = []
    for t in range(1, len(ids)):
        r = max(p for p in [0, *resets] if p < t)
        a = max(r, t - T)
        logits, _ = model(ids[a:t][None])
        out.append(F.cross_entropy(logits[0, -1:].float(), ids[t:t + 1]).item())
    model.train(was_training)
    return torch.tensor(out)


# ------------------------------------------------------------------------------------------ segment_starts
def test_segment_starts_finds_every_separator():
    ids = torch.tensor([5, 1, 2, 7, 1, 2, 1, 2, 9, 1])
    assert segment_starts(ids, [1, 2]) == [1, 4, 6]
    assert segment_starts(ids, [9]) == [8]
    assert segment_starts(ids, [3]) == []


def test_segment_starts_does_not_overlap():
    assert segment_starts(torch.tensor([1, 1, 1, 1, 1]), [1, 1]) == [0, 2]


def test_segment_starts_rejects_an_empty_separator():
    with pytest.raises(ValueError, match="at least one token"):
        segment_starts(torch.tensor([1, 2, 3]), [])


# ---------------------------------------------------------------------------------- sliding_window_losses
@pytest.mark.parametrize("resets", [[], [3], [3, 20], [10, 11, 30, 44], [0, 5, 24]])
def test_every_loss_equals_the_brute_force_score(model, ids, resets):
    got = sliding_window_losses(model, ids, resets=resets, batch_size=3)
    assert model.training, "the model's training mode is given back"
    assert got.shape == (len(ids) - 1,)
    assert torch.allclose(got, brute_force(model, ids, resets), atol=1e-5)


def test_resets_from_segment_starts(model, ids):
    separated = ids.clone()
    separated[[12, 13, 30, 31]] = torch.tensor([V - 1, V - 2, V - 1, V - 2])
    resets = segment_starts(separated, [V - 1, V - 2])
    assert resets == [12, 30]
    got = sliding_window_losses(model, separated, resets=resets)
    assert torch.allclose(got, brute_force(model, separated, resets), atol=1e-5)


def test_the_first_token_of_the_next_segment_is_predicted_from_this_one(model, ids):
    """Target t = a reset position is still predicted from the text before it (its own segment's past)."""
    got = sliding_window_losses(model, ids, resets=[10])
    model.eval()
    with torch.no_grad():
        logits, _ = model(ids[2:10][None])
    model.train()
    assert math.isclose(got[9].item(), F.cross_entropy(logits[0, -1:], ids[10:11]).item(), abs_tol=1e-5)


def test_without_resets_far_tokens_see_a_full_context(model, ids):
    """Far from a reset each target sees exactly T tokens, so windows do not matter: a reset far back changes nothing."""
    assert torch.allclose(sliding_window_losses(model, ids)[T + 2:],
                          sliding_window_losses(model, ids, resets=[1])[T + 2:], atol=1e-6)


def test_resets_every_context_length_reproduce_validation_loss(model, ids):
    for n in (len(ids), 2 * T + 1, 3 * T + 4):
        part = ids[:n]
        got = sliding_window_losses(model, part, resets=list(range(0, n, T)))
        loss, count = validation_loss(model, part)
        assert count == len(got) == n - 1
        assert math.isclose(got.mean().item(), loss, abs_tol=1e-5)


def test_the_first_window_is_scored_alike_with_or_without_resets(model, ids):
    """The first T targets are predicted from ids[0:t] either way."""
    got = sliding_window_losses(model, ids)
    by_windows = sliding_window_losses(model, ids, resets=list(range(0, len(ids), T)))
    assert torch.allclose(got[:T], by_windows[:T], atol=1e-6)


def test_two_tokens_is_the_shortest_input(model):
    got = sliding_window_losses(model, torch.tensor([3, 4]))
    assert got.shape == (1,)


@pytest.mark.parametrize("bad", [torch.tensor([3]), torch.tensor([[1, 2, 3]]), [1, 2, 3]])
def test_bad_ids_raise(model, bad):
    with pytest.raises(ValueError, match="1-D tensor of at least 2"):
        sliding_window_losses(model, bad)


@pytest.mark.parametrize("resets", [[45], [100], [-1]])
def test_resets_outside_the_text_raise(model, ids, resets):
    with pytest.raises(ValueError, match="resets must lie in"):
        sliding_window_losses(model, ids, resets=resets)


def test_validation_loss_and_sliding_score_the_same_tokens(model, ids):
    assert validation_loss(model, ids)[1] == len(sliding_window_losses(model, ids))


@torch.no_grad()
def _consecutive_reference(model: GPT, ids: torch.Tensor, n_windows: int | None = None) -> tuple[float, int]:
    """Windows ids[kT : kT + T + 1] (the last one shorter), scored with F.cross_entropy, one window at a time."""
    model.eval()
    losses = []
    for k, s in enumerate(range(0, len(ids) - 1, T)):
        if n_windows is not None and k >= n_windows:
            break
        window = ids[s:s + T + 1]
        losses.append(F.cross_entropy(model(window[None, :-1])[0][0], window[1:], reduction="none"))
    model.train()
    every = torch.cat(losses)
    return every.mean().item(), len(every)


@pytest.mark.parametrize("n, max_windows", [(5, None), (T + 1, None), (2 * T + 3, None), (2 * T + 3, 2),
                                            (2 * T + 3, 3), (2 * T + 3, 9), (45, 1)])
def test_validation_loss_against_a_window_by_window_score(model, ids, n, max_windows):
    loss, count = validation_loss(model, ids[:n], max_windows=max_windows)
    expected, expected_count = _consecutive_reference(model, ids[:n], max_windows)
    assert count == expected_count and math.isclose(loss, expected, abs_tol=1e-5)
    assert model.training, "the model's training mode is given back"


def test_validation_loss_rejects_bad_settings(model, ids):
    with pytest.raises(ValueError, match="max_windows must be an int >= 1"):
        validation_loss(model, ids, max_windows=0)
    with pytest.raises(ValueError, match="1-D tensor of at least 2"):
        validation_loss(model, ids[:1])
