"""Tests for nbutils.probability (compared with torch) and nbutils.checks.probability."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from nbutils.checks.probability import check_cross_entropy, check_softmax
from nbutils.probability import cross_entropy, entropy, log_softmax, perplexity, softmax

from hints import expect_hint  # tests/hints.py


@pytest.fixture
def gen() -> torch.Generator:
    return torch.Generator().manual_seed(0)


# ---- softmax / log_softmax ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_matches_torch(gen, dim):
    x = torch.randn(3, 5, 7, generator=gen) * 4
    torch.testing.assert_close(softmax(x, dim=dim), torch.softmax(x, dim=dim))
    torch.testing.assert_close(log_softmax(x, dim=dim), F.log_softmax(x, dim=dim))


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_temperature_divides_logits(gen, temperature):
    x = torch.randn(4, 9, generator=gen)
    torch.testing.assert_close(softmax(x, temperature=temperature), torch.softmax(x / temperature, dim=-1))
    torch.testing.assert_close(log_softmax(x, temperature=temperature), F.log_softmax(x / temperature, dim=-1))


@pytest.mark.parametrize("big", [1000.0, 1e4])
def test_huge_logits_are_stable(big):
    x = torch.tensor([[big, 0.0, -big], [big, big, big - 1]])
    p, logp = softmax(x), log_softmax(x)
    assert torch.isfinite(p).all() and torch.isfinite(logp).all()
    torch.testing.assert_close(p, torch.softmax(x, dim=-1))
    torch.testing.assert_close(logp, F.log_softmax(x, dim=-1))


def test_minus_inf_entries_and_rows():
    x = torch.tensor([[0.0, float("-inf"), 1.0], [float("-inf")] * 3])
    torch.testing.assert_close(softmax(x), torch.softmax(x, dim=-1), equal_nan=True)


def test_softmax_gradient_matches_torch(gen):
    x = torch.randn(3, 6, generator=gen, requires_grad=True)
    w = torch.randn(3, 6, generator=gen)
    (softmax(x) * w).sum().backward()
    ours = x.grad.clone()
    x.grad = None
    (torch.softmax(x, -1) * w).sum().backward()
    torch.testing.assert_close(ours, x.grad)


def test_softmax_errors():
    with pytest.raises(TypeError, match="floating-point"):
        softmax(torch.tensor([1, 2, 3]))
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError, match="temperature"):
            softmax(torch.randn(3), temperature=bad)
    with pytest.raises(ValueError, match="scalar"):
        softmax(torch.tensor(1.0))


# ---- cross-entropy ------------------------------------------------------------------------------------------
def test_worked_example_roof():
    logits = torch.log(torch.tensor([[0.9, 0.05, 0.05]]))
    assert cross_entropy(logits, torch.tensor([0])).item() == pytest.approx(-math.log(0.9), abs=1e-6)
    assert -math.log(0.9) == pytest.approx(0.105, abs=1e-3)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_matches_torch_2d(gen, reduction):
    logits = torch.randn(10, 7, generator=gen) * 3
    targets = torch.randint(0, 7, (10,), generator=gen)
    torch.testing.assert_close(cross_entropy(logits, targets, reduction=reduction),
                               F.cross_entropy(logits, targets, reduction=reduction))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_3d_and_ignore_index(gen, reduction):
    logits = torch.randn(2, 5, 11, generator=gen)
    targets = torch.randint(0, 11, (2, 5), generator=gen)
    targets[0, :2] = -100
    targets[1, 4] = -100
    expected = F.cross_entropy(logits.transpose(1, 2), targets, reduction=reduction, ignore_index=-100)
    torch.testing.assert_close(cross_entropy(logits, targets, reduction=reduction), expected)


def test_cross_entropy_custom_ignore_index(gen):
    logits = torch.randn(6, 4, generator=gen)
    targets = torch.tensor([0, 1, 2, 3, 0, 1])
    torch.testing.assert_close(cross_entropy(logits, targets, ignore_index=0),
                               F.cross_entropy(logits, targets, ignore_index=0))


def test_cross_entropy_huge_logits():
    logits = torch.tensor([[1e4, 0.0, -1e4], [1000.0, 1001.0, 999.0]])
    targets = torch.tensor([1, 2])
    ours = cross_entropy(logits, targets)
    assert torch.isfinite(ours)
    torch.testing.assert_close(ours, F.cross_entropy(logits, targets))


def test_cross_entropy_gradient_matches_torch(gen):
    logits = torch.randn(5, 6, generator=gen, requires_grad=True)
    targets = torch.tensor([0, 5, -100, 2, 2])
    cross_entropy(logits, targets).backward()
    ours = logits.grad.clone()
    logits.grad = None
    F.cross_entropy(logits, targets).backward()
    torch.testing.assert_close(ours, logits.grad)


def test_cross_entropy_errors():
    logits = torch.randn(4, 5)
    with pytest.raises(TypeError, match="floating-point"):
        cross_entropy(torch.ones(4, 5, dtype=torch.long), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"targets must have shape \(4,\)"):
        cross_entropy(logits, torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"outside \[0, 5\)"):
        cross_entropy(logits, torch.tensor([0, 1, 5, 2]))
    with pytest.raises(ValueError, match="outside"):
        cross_entropy(logits, torch.tensor([0, -3, 1, 2]))
    with pytest.raises(TypeError, match="integer"):
        cross_entropy(logits, torch.zeros(4))
    with pytest.raises(ValueError, match="reduction"):
        cross_entropy(logits, torch.zeros(4, dtype=torch.long), reduction="average")
    with pytest.raises(ValueError, match=r"\(N, V\) or \(B, T, V\)"):
        cross_entropy(torch.randn(5), torch.tensor(1))


# ---- perplexity and entropy -----------------------------------------------------------------------------------
@pytest.mark.parametrize("V", [2, 10, 257])
def test_perplexity_of_uniform_is_vocab_size(V):
    logits = torch.zeros(8, V)
    loss = cross_entropy(logits, torch.arange(8) % V)
    assert perplexity(loss).item() == pytest.approx(V, rel=1e-5)
    assert perplexity(float(loss)) == pytest.approx(V, rel=1e-5)
    assert perplexity(0.0) == 1.0


def test_perplexity_errors():
    with pytest.raises(ValueError, match="never negative"):
        perplexity(-0.1)
    with pytest.raises(TypeError):
        perplexity("1.0")


def test_entropy_matches_torch_distributions(gen):
    probs = torch.softmax(torch.randn(4, 6, generator=gen), dim=-1)
    expected = torch.distributions.Categorical(probs=probs).entropy()
    torch.testing.assert_close(entropy(probs), expected)
    torch.testing.assert_close(entropy(probs, base=2), expected / math.log(2))


def test_entropy_special_cases():
    assert entropy(torch.tensor([1.0, 0.0, 0.0])).item() == 0.0
    assert entropy(torch.full((8,), 1 / 8), base=2).item() == pytest.approx(3.0)
    with pytest.raises(ValueError, match="negative"):
        entropy(torch.tensor([1.5, -0.5]))
    with pytest.raises(ValueError, match="sum to 1"):
        entropy(torch.tensor([0.5, 0.2]))
    with pytest.raises(ValueError, match="base"):
        entropy(torch.tensor([0.5, 0.5]), base=1)


# ---- exercise checks ----------------------------------------------------------------------------------------


def test_check_softmax_accepts_references(capsys):
    check_softmax(lambda x: torch.softmax(x, dim=-1))
    check_softmax(softmax)
    assert "✓" in capsys.readouterr().out


def test_check_softmax_hints():
    expect_hint(check_softmax, lambda x: torch.exp(x) / torch.exp(x).sum(-1, keepdim=True),
                 "unstable", "subtract the max")
    expect_hint(check_softmax, lambda x: torch.softmax(x, dim=0), "wrong dim", "last dimension")
    expect_hint(check_softmax, lambda x: torch.exp(x - x.max()) / torch.exp(x - x.max()).sum(),
                 "normalise over the last dimension")
    expect_hint(check_softmax, lambda x: torch.exp(x - x.max(-1, keepdim=True).values), "do not sum to 1")
    expect_hint(check_softmax, lambda x: torch.exp(x).sum(-1), "same shape")



def test_unwritten_exercise_does_not_stop_the_notebook(capsys):
    """A stub prints what to write and leaves the course's version under its name (see checks.core)."""
    namespace: dict = {}
    exec("def softmax(x):\n    'Turn scores into probabilities.'\n    raise NotImplementedError\n", namespace)
    stub = namespace["softmax"]
    check_softmax(stub)  # no exception
    out = capsys.readouterr().out
    assert "not written yet" in out and "Turn scores into probabilities." in out and "carries on" in out
    stand_in = namespace["softmax"]
    assert stand_in is not stub
    assert torch.allclose(stand_in(torch.tensor([[0.0, 1.0]])), torch.softmax(torch.tensor([[0.0, 1.0]]), -1))
    # the stand-in of cross_entropy returns a tensor, like the student's function should
    namespace = {}
    exec("def cross_entropy(logits, targets):\n    raise NotImplementedError\n", namespace)
    check_cross_entropy(namespace["cross_entropy"])
    loss = namespace["cross_entropy"](torch.zeros(2, 3), torch.tensor([0, 1]))
    assert isinstance(loss, torch.Tensor) and abs(loss.item() - math.log(3)) < 1e-6


def test_check_cross_entropy_accepts_references():
    check_cross_entropy(lambda logits, targets: F.cross_entropy(logits, targets))
    check_cross_entropy(cross_entropy)

    def stable_softmax_then_log(logits, targets):
        p = torch.softmax(logits, dim=-1)
        return -torch.log(p[torch.arange(len(targets)), targets]).mean()

    check_cross_entropy(stable_softmax_then_log)


def _naive_log_probs(logits):
    return torch.log(torch.exp(logits) / torch.exp(logits).sum(-1, keepdim=True))


def test_check_cross_entropy_hints():
    rows = lambda t: torch.arange(len(t))  # noqa: E731
    expect_hint(check_cross_entropy, lambda l, t: F.log_softmax(l, -1)[rows(t), t].mean(), "wrong sign")
    expect_hint(check_cross_entropy, lambda l, t: F.cross_entropy(l, t, reduction="sum"), "sum", "mean")
    expect_hint(check_cross_entropy, lambda l, t: F.cross_entropy(l, t, reduction="none"), "one loss per example")
    expect_hint(check_cross_entropy, lambda l, t: -_naive_log_probs(l)[rows(t), t].mean(), "unstable softmax")
    expect_hint(check_cross_entropy, lambda l, t: -F.log_softmax(l, -1)[:, t], "torch.arange(N)")
    expect_hint(check_cross_entropy, lambda l, t: F.cross_entropy(l, t) / math.log(2), "natural logarithm")
