"""Tests for nbutils.bigram, compared with plain-Python counting and torch's own functions."""

from __future__ import annotations

import math
from collections import Counter

import pytest
import torch
import torch.nn.functional as F

from nbutils.bigram import BigramLanguageModel, bigram_counts, bigram_log_probs, bigram_loss


@pytest.fixture
def ids() -> torch.Tensor:
    return torch.randint(0, 7, (300,), generator=torch.Generator().manual_seed(0))


def test_counts_match_python_counter(ids):
    counts = bigram_counts(ids, 7)
    reference = Counter(zip(ids[:-1].tolist(), ids[1:].tolist()))
    assert counts.dtype == torch.long and counts.shape == (7, 7)
    for a in range(7):
        for b in range(7):
            assert counts[a, b].item() == reference[(a, b)]
    assert counts.sum().item() == len(ids) - 1


def test_counts_small_example():
    counts = bigram_counts(torch.tensor([0, 1, 0, 1]), 2)
    assert counts.tolist() == [[0, 2], [1, 0]]


def test_log_probs_are_normalised_counts(ids):
    counts = bigram_counts(ids, 7)
    for smoothing in (0.0, 0.5):
        expected = [[(counts[a, b].item() + smoothing) / (counts[a].sum().item() + 7 * smoothing) for b in range(7)]
                    for a in range(7)]
        torch.testing.assert_close(bigram_log_probs(counts, smoothing).exp(), torch.tensor(expected))


def test_unseen_pairs_and_rows():
    counts = torch.tensor([[0, 3, 1], [0, 0, 0], [2, 0, 0]])
    log_probs = bigram_log_probs(counts)
    assert log_probs[0, 0] == -math.inf and log_probs[2, 1] == -math.inf
    torch.testing.assert_close(log_probs[1].exp(), torch.full((3,), 1 / 3))  # a row never seen: uniform
    assert torch.isfinite(bigram_log_probs(counts, smoothing=0.01)).all()


def test_loss_matches_torch_cross_entropy(ids):
    log_probs = bigram_log_probs(bigram_counts(ids, 7), smoothing=0.1)
    expected = F.cross_entropy(log_probs[ids[:-1]], ids[1:]).item()  # log-probs are valid logits
    assert bigram_loss(log_probs, ids) == pytest.approx(expected, rel=1e-5)
    never = bigram_log_probs(torch.tensor([[0, 1], [1, 0]]))  # the pair (0, 0) was never seen
    assert bigram_loss(never, torch.tensor([0, 1, 0])) == pytest.approx(0.0)
    assert bigram_loss(never, torch.tensor([0, 0])) == math.inf


def test_counted_table_is_the_lowest_training_loss(ids):
    """Maximum likelihood: no other table scores the training pairs better than the counted one."""
    best = bigram_loss(bigram_log_probs(bigram_counts(ids, 7)), ids)
    gen = torch.Generator().manual_seed(1)
    for _ in range(5):
        other = torch.log_softmax(torch.randn(7, 7, generator=gen), dim=-1)
        assert bigram_loss(other, ids) > best


def test_model_starts_uniform_and_matches_torch(ids):
    model = BigramLanguageModel(7)
    x, y = ids[:-1].view(1, -1), ids[1:].view(1, -1)
    logits, loss = model(x, y)
    assert logits.shape == (1, len(ids) - 1, 7)
    assert loss.item() == pytest.approx(math.log(7), rel=1e-6)
    logits, none = model(ids[:5])
    assert logits.shape == (5, 7) and none is None


def test_model_from_counts_gives_counted_probabilities(ids):
    counts = bigram_counts(ids, 7)
    model = BigramLanguageModel.from_counts(counts, smoothing=0.1)
    log_probs = bigram_log_probs(counts, smoothing=0.1)
    torch.testing.assert_close(torch.softmax(model(torch.arange(7))[0], dim=-1), log_probs.exp())
    _, loss = model(ids[:-1], ids[1:])
    assert loss.item() == pytest.approx(bigram_loss(log_probs, ids), rel=1e-5)


def test_model_ignore_index(ids):
    model = BigramLanguageModel.from_counts(bigram_counts(ids, 7), smoothing=0.1)
    x, y = ids[:-1].clone(), ids[1:].clone()
    y[::2] = -100
    _, loss = model(x, y)
    kept = y != -100
    assert loss.item() == pytest.approx(F.cross_entropy(model(x[kept])[0], y[kept]).item(), rel=1e-5)


def test_training_approaches_the_counted_loss(ids):
    torch.manual_seed(0)
    model = BigramLanguageModel(7)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    for _ in range(300):
        _, loss = model(ids[:-1], ids[1:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    best = bigram_loss(bigram_log_probs(bigram_counts(ids, 7)), ids)
    assert best <= loss.item() < best + 0.01


def test_errors():
    with pytest.raises(TypeError):
        bigram_counts([0, 1, 2], 3)
    with pytest.raises(TypeError):
        bigram_counts(torch.tensor([0.0, 1.0]), 3)
    with pytest.raises(ValueError, match="outside"):
        bigram_counts(torch.tensor([0, 3]), 3)
    with pytest.raises(ValueError, match="at least two"):
        bigram_counts(torch.tensor([1]), 3)
    with pytest.raises(ValueError, match="1-D"):
        bigram_counts(torch.zeros(2, 2, dtype=torch.long), 3)
    with pytest.raises(ValueError):
        bigram_counts(torch.tensor([0, 1]), 0)
    with pytest.raises(ValueError, match="square"):
        bigram_log_probs(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="smoothing"):
        bigram_log_probs(torch.zeros(2, 2), smoothing=-1.0)
    with pytest.raises(ValueError, match="smoothing > 0"):
        BigramLanguageModel.from_counts(torch.tensor([[0, 1], [1, 0]]))
    model = BigramLanguageModel(3)
    with pytest.raises(ValueError, match="outside"):
        model(torch.tensor([0, 5]))
    with pytest.raises(ValueError, match="same shape"):
        model(torch.tensor([0, 1]), torch.tensor([1]))
    with pytest.raises(ValueError, match="outside"):
        model(torch.tensor([0, 1]), torch.tensor([1, 7]))
    with pytest.raises(TypeError):
        model(torch.tensor([0.0, 1.0]))
