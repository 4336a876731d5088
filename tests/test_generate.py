"""Tests of nbutils.generate and of the exercise checks in nbutils.checks.generation.

Filters are compared with plain-Python references (sorting lists by hand), sampling with torch's own
argmax / multinomial, and the log-likelihood with torch.nn.functional.cross_entropy.
"""

from __future__ import annotations

import math
import warnings

import pytest
import torch
import torch.nn.functional as F

from nbutils.checks.core import CheckFailed
from nbutils.checks.generation import check_min_p, check_top_k, check_top_p, min_p_reference
from nbutils.generate import (
    apply_temperature, generate, generate_text, greedy_until, sample_next, sequence_log_likelihood, top_k_filter,
    top_p_filter,
)
from nbutils.model import GPT, GPTConfig
from nbutils.tokenizers import CharTokenizer

NEG_INF = float("-inf")


@pytest.fixture(scope="module")
def model() -> GPT:
    torch.manual_seed(0)
    gpt = GPT(GPTConfig(vocab_size=13, context_length=8, n_layer=1, n_head=2, n_embd=16))
    with torch.no_grad():  # larger weights than the init, so that the distributions are far from uniform
        for parameter in gpt.parameters():
            parameter.mul_(20.0 if parameter.dim() == 2 else 1.0)
    return gpt.eval()


# ------------------------------------------------------------------------------------------- references
def reference_top_k(row: list[float], k: int) -> list[float]:
    """Keep the k largest values of a list (by sorting indices by hand), -inf elsewhere."""
    keep = sorted(range(len(row)), key=lambda i: row[i], reverse=True)[:k]
    return [value if i in keep else NEG_INF for i, value in enumerate(row)]


def reference_top_p(row: list[float], p: float) -> list[float]:
    """Nucleus filter with Python floats: walk the tokens from most to least likely, keep while mass < p."""
    top = max(row)
    weights = [math.exp(v - top) for v in row]
    probs = [w / sum(weights) for w in weights]
    keep, mass = set(), 0.0
    for i in sorted(range(len(row)), key=lambda i: probs[i], reverse=True):
        if mass >= p:
            break
        keep.add(i)
        mass += probs[i]
    return [value if i in keep else NEG_INF for i, value in enumerate(row)]


# ------------------------------------------------------------------------------------------- filters
def test_apply_temperature_divides_and_rejects_bad_values():
    logits = torch.tensor([1.0, -2.0, 0.5])
    assert torch.allclose(apply_temperature(logits, 0.5), logits / 0.5)
    assert torch.allclose(torch.softmax(apply_temperature(logits, 1e-3), -1), F.one_hot(torch.tensor(0), 3).float())
    with pytest.raises(ValueError, match="greedy"):
        apply_temperature(logits, 0)
    with pytest.raises(ValueError, match=">= 0"):
        apply_temperature(logits, -1.0)
    with pytest.raises(TypeError):
        apply_temperature([1.0, 2.0], 1.0)


@pytest.mark.parametrize("k", [1, 2, 5, 10, 50])
def test_top_k_matches_sorting_reference(k):
    logits = torch.randn(4, 10, generator=torch.Generator().manual_seed(k))
    got = top_k_filter(logits, k)
    expected = torch.tensor([reference_top_k(row, k) for row in logits.tolist()])
    assert torch.equal(got, expected)
    assert torch.equal(logits, torch.randn(4, 10, generator=torch.Generator().manual_seed(k)))  # input unchanged


def test_top_k_rejects_bad_k():
    with pytest.raises(ValueError, match=">= 1"):
        top_k_filter(torch.zeros(5), 0)
    with pytest.raises(TypeError):
        top_k_filter(torch.zeros(5), 2.5)


@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 0.77, 0.9, 0.999, 1.0])
def test_top_p_matches_loop_reference(p):
    logits = 2.0 * torch.randn(6, 12, generator=torch.Generator().manual_seed(int(p * 1000)))
    got = top_p_filter(logits, p)
    expected = torch.tensor([reference_top_p(row, p) for row in logits.tolist()])
    assert torch.equal(got, expected)


def test_top_p_keeps_smallest_set_reaching_p():
    logits = torch.randn(20, 9, generator=torch.Generator().manual_seed(3))
    for p in (0.2, 0.6, 0.95):
        filtered = top_p_filter(logits, p)
        probs = torch.softmax(logits, -1)
        for row_probs, row_filtered in zip(probs, filtered):
            kept = ~torch.isinf(row_filtered)
            assert row_probs[kept].sum() >= p - 1e-6                          # enough mass
            smallest_kept = row_probs[kept].min()
            assert row_probs[kept].sum() - smallest_kept < p                   # and no token too many
            assert kept[row_probs.argmax()]                                    # the top token is always kept


def test_top_p_always_keeps_top_token_and_rejects_bad_p():
    logits = torch.tensor([5.0, 1.0, 0.0])
    assert torch.equal(torch.isinf(top_p_filter(logits, 1e-9)), torch.tensor([False, True, True]))
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"\(0, 1\]"):
            top_p_filter(logits, bad)


# ------------------------------------------------------------------------------------------- sampling
def test_sample_next_greedy_seeded_and_filtered():
    logits = torch.randn(5, 13, generator=torch.Generator().manual_seed(0))
    assert torch.equal(sample_next(logits, temperature=0), logits.argmax(-1))
    assert torch.equal(sample_next(logits, top_k=1, generator=torch.Generator().manual_seed(1)), logits.argmax(-1))
    a = sample_next(logits, generator=torch.Generator().manual_seed(7))
    b = sample_next(logits, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b) and a.shape == (5,) and a.dtype == torch.long
    assert sample_next(logits[0], generator=torch.Generator().manual_seed(7)).shape == ()
    allowed = torch.topk(logits, 3).indices
    for seed in range(20):
        picked = sample_next(logits, top_k=3, generator=torch.Generator().manual_seed(seed))
        assert all(picked[i] in allowed[i] for i in range(5))


def test_sample_next_matches_torch_multinomial():
    logits = torch.tensor([2.0, 0.5, -1.0, 1.0])
    got = sample_next(logits, temperature=0.7, generator=torch.Generator().manual_seed(11))
    expected = torch.multinomial(torch.softmax(logits / 0.7, -1).unsqueeze(0), 1,
                                 generator=torch.Generator().manual_seed(11))
    assert int(got) == int(expected)
    generator = torch.Generator().manual_seed(0)
    draws = sample_next(logits.expand(4000, 4), generator=generator)  # 4000 independent draws
    frequencies = torch.bincount(draws, minlength=4).float() / len(draws)
    assert torch.allclose(frequencies, torch.softmax(logits, -1), atol=0.03)


# ------------------------------------------------------------------------------------------- generation
def test_greedy_is_argmax_at_every_step(model):
    prompt = [1, 2, 3]
    out = generate(model, prompt, 12, greedy=True)
    assert out.shape == (15,) and out[:3].tolist() == prompt
    ids = torch.tensor([prompt])
    for _ in range(12):  # the reference: the whole loop written out with argmax
        logits, _ = model(ids[:, -8:])
        ids = torch.cat([ids, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(out, ids[0])
    assert torch.equal(generate(model, prompt, 12, temperature=0), out)
    assert torch.equal(generate(model, prompt, 12, top_k=1, generator=torch.Generator().manual_seed(3)), out)


def test_greedy_until_is_each_prompt_alone_cut_at_its_stop(model):
    """Batched greedy decoding with a stop token: every answer equals greedy ``generate`` on its prompt alone,
    cut before the first stop token, whatever the other prompts are (prompts of other lengths included)."""
    prompts = [[1, 2, 3], [4], [5, 6, 7], [8, 9], [1, 2, 3]]
    model.train()
    for stop in (0, 5, 11):
        answers = greedy_until(model, prompts, stop, max_new_tokens=4, batch_size=2)
        for prompt, answer in zip(prompts, answers):
            alone = generate(model, prompt, min(4, 8 - len(prompt)), greedy=True)[len(prompt):].tolist()
            assert answer == (alone[:alone.index(stop)] if stop in alone else alone), (stop, prompt)
    assert model.training  # the mode is given back
    model.eval()
    assert len(greedy_until(model, [[1] * 7], 0, max_new_tokens=9)[0]) <= 1  # the context (8) is full
    with pytest.raises(ValueError, match="no room"):
        greedy_until(model, [[1] * 8], 0, max_new_tokens=3)
    with pytest.raises(ValueError, match="non-empty"):
        greedy_until(model, [], 0, max_new_tokens=3)
    with pytest.raises(ValueError, match="max_new_tokens"):
        greedy_until(model, [[1]], 0, max_new_tokens=0)


def test_sampling_is_reproducible_with_a_seeded_generator(model):
    runs = [generate(model, [0], 20, temperature=1.3, top_p=0.9, generator=torch.Generator().manual_seed(5))
            for _ in range(2)]
    assert torch.equal(runs[0], runs[1])
    other = generate(model, [0], 20, temperature=1.3, top_p=0.9, generator=torch.Generator().manual_seed(6))
    assert not torch.equal(runs[0], other)


def test_generate_batches_crops_long_prompts_and_restores_mode(model):
    batch = torch.tensor([[1, 2], [3, 4]])
    assert generate(model, batch, 5, greedy=True).shape == (2, 7)
    model.train()
    with pytest.warns(UserWarning, match="only its last 8 tokens"):
        long = generate(model, list(range(12)), 3, greedy=True)
    assert model.training
    model.eval()
    assert torch.equal(long[-3:], generate(model, list(range(4, 12)), 3, greedy=True)[-3:])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        generate(model, [1] * 8, 10, greedy=True)  # a prompt that fits: no warning, even when the text grows
    with pytest.raises(ValueError, match="empty"):
        generate(model, [], 3)
    with pytest.raises(ValueError, match="top_p"):
        generate(model, [1], 3, top_p=0.0)
    with pytest.raises(ValueError, match="temperature"):
        generate(model, [1], 3, temperature=-0.5)
    with pytest.raises(ValueError, match="top_k"):
        generate(model, [1], 3, top_k=0)


def test_generate_text_round_trip(model):
    tokenizer = CharTokenizer.train("abcdefghijklm")  # 13 characters = the model's vocabulary
    text = generate_text(model, tokenizer, "abc", 6, greedy=True)
    assert text.startswith("abc") and len(text) == 9
    assert generate_text(model, tokenizer, "abc", 6, greedy=True, include_prompt=False) == text[3:]
    with pytest.raises(ValueError, match="empty"):
        generate_text(model, tokenizer, "", 5)


# ------------------------------------------------------------------------------------------- log-likelihood
def test_log_likelihood_equals_cross_entropy(model):
    ids = torch.tensor([3, 1, 4, 1, 5, 9, 2, 6, 5])
    total, per_token = sequence_log_likelihood(model, ids)
    logits, _ = model(ids[:-1].unsqueeze(0))
    reference = -F.cross_entropy(logits[0], ids[1:], reduction="none")
    assert per_token.shape == (8,)
    assert torch.allclose(per_token, reference, atol=1e-5)
    assert math.isclose(total, -F.cross_entropy(logits[0], ids[1:], reduction="sum").item(), rel_tol=1e-5)
    given_total, given = sequence_log_likelihood(model, ids.tolist(), prompt_length=4)
    assert torch.allclose(given, reference[3:], atol=1e-5)
    assert math.isclose(given_total, reference[3:].sum().item(), rel_tol=1e-5)
    with pytest.raises(ValueError, match="at most"):
        sequence_log_likelihood(model, list(range(10)))
    with pytest.raises(ValueError, match="nothing to score"):
        sequence_log_likelihood(model, [4])


# ------------------------------------------------------------------------------------------- exercise checks
def test_checks_accept_the_reference(capsys):
    check_top_k(top_k_filter)
    check_top_p(top_p_filter)
    check_min_p(min_p_reference)
    assert capsys.readouterr().out.count("✓") == 3


def test_min_p_reference_agrees_with_probabilities_and_the_paper_example():
    """min-p in logits (z_i - z_max >= log m) keeps exactly the tokens with p_i >= m * p_max."""
    torch.manual_seed(0)
    logits = torch.randn(5, 50) * 3
    for m in (0.01, 0.1, 0.5, 1.0):
        probs = torch.softmax(logits.double(), dim=-1)
        wanted = probs >= m * probs.max(dim=-1, keepdim=True).values
        got = min_p_reference(logits, m)
        assert torch.equal(~torch.isneginf(got), wanted)
        assert torch.equal(got[wanted], logits[wanted])
    # the paper's picture: a confident top token (0.9) keeps few, a flat distribution keeps many
    confident = torch.log(torch.tensor([0.9] + [0.1 / 20] * 20))
    flat = torch.log(torch.full((21,), 1 / 21))
    assert (min_p_reference(confident, 0.1) > NEG_INF).sum() == 1
    assert (min_p_reference(flat, 0.1) > NEG_INF).sum() == 21
    with pytest.raises(ValueError, match="m must be in"):
        min_p_reference(confident, 0.0)


def _kth_plus_one(logits, k):
    threshold = torch.sort(logits, dim=-1, descending=True).values[..., min(k, logits.shape[-1] - 1)]
    return logits.masked_fill(logits < threshold.unsqueeze(-1), NEG_INF)


def _zeros_instead_of_inf(logits, k):
    threshold = torch.topk(logits, k).values[..., -1:]
    return logits.masked_fill(logits < threshold, 0.0)


def _drop_crossing(logits, p):
    probs, order = torch.sort(torch.softmax(logits, -1), descending=True)
    drop = torch.cumsum(probs, -1) > p  # drops the token that crosses p
    drop[..., 0] = False
    return logits.masked_fill(torch.zeros_like(drop).scatter(-1, order, drop), NEG_INF)


def _none_kept(logits, p):
    """Right, except when the top token alone already has more than p: then nothing is kept."""
    if torch.softmax(logits, -1).max() >= p:
        return torch.full_like(logits, NEG_INF)
    return top_p_filter(logits, p)


def _absolute_min_p(logits, m):
    probs = torch.softmax(logits, -1)
    return logits.masked_fill(probs < m, NEG_INF)


def _min_p_on_logits(logits, m):
    return logits.masked_fill(logits < m * logits.max(dim=-1, keepdim=True).values, NEG_INF)


def _unsorted(logits, p):
    probs = torch.softmax(logits, -1)
    return logits.masked_fill(torch.cumsum(probs, -1) - probs >= p, NEG_INF)


@pytest.mark.parametrize("check, wrong, hint", [
    (check_top_k, _kth_plus_one, "kept 4 tokens instead of k=3"),
    (check_top_k, _zeros_instead_of_inf, "-inf"),
    (check_top_p, _drop_crossing, "dropped the token that crosses p"),
    (check_top_p, _none_kept, "at least the most likely token"),
    (check_top_p, _unsorted, "sort them from largest to smallest"),
    (check_min_p, _absolute_min_p, "a *fraction* of the top token's"),
    (check_min_p, _min_p_on_logits, "in logits: z_i - z_max >= log(m)"),
])
def test_checks_explain_typical_mistakes(check, wrong, hint):
    with pytest.raises(CheckFailed, match="hint") as info:
        check(wrong)
    assert hint in str(info.value)
