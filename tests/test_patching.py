"""Patching grids against what must hold for any model: patching a run with itself is a no-op, patching the
whole stream reproduces the donor, a position after the answer cannot matter, and the effect is normalised."""

from __future__ import annotations

import pytest
import torch

from nbutils.model import GPT, GPTConfig
from nbutils.patching import logit_difference, patch_effect, patch_grid


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=20, context_length=16, n_layer=2, n_head=2, n_embd=16)).eval()


def pair():
    clean = torch.tensor([[1, 2, 3, 4, 5, 6, 7, 8]])
    corrupt = clean.clone()
    corrupt[0, 2] = 9  # one token differs
    return clean, corrupt


def test_effect_is_normalised():
    assert patch_effect(3.0, clean=3.0, corrupt=1.0) == 1.0
    assert patch_effect(1.0, clean=3.0, corrupt=1.0) == 0.0
    with pytest.raises(ValueError, match="same logit difference"):
        patch_effect(1.0, 2.0, 2.0)
    logits = torch.zeros(1, 3, 5)
    logits[0, 1, 2], logits[0, 1, 4] = 2.5, 0.5
    assert logit_difference(logits, 1, 2, 4) == 2.0


def test_grid_follows_the_fact(model):
    clean, corrupt = pair()
    grid = patch_grid(model, clean, corrupt, position=6, good=11, bad=12)
    assert grid.shape == (2, 8)
    # before the changed token nothing differs between the runs: patching there changes nothing
    assert torch.allclose(grid[:, :2], torch.zeros(2, 2), atol=1e-5)
    # at the last layer only the answer position itself feeds the answer: patching it restores the clean run
    assert abs(grid[1, 6].item() - 1.0) < 1e-4
    assert torch.allclose(grid[1, :6], torch.zeros(6), atol=1e-5) and abs(grid[1, 7].item()) < 1e-5
    # at the changed position in the embeddings, the whole difference enters: patching it restores everything
    embed = patch_grid(model, clean, corrupt, position=6, good=11, bad=12, kind="embed")
    assert embed.shape == (1, 8) and abs(embed[0, 2].item() - 1.0) < 1e-4


def test_patching_a_run_with_itself_is_a_no_op(model):
    clean, corrupt = pair()
    _, cache = model.run_with_cache(clean, ["blocks.0.resid_post"])
    plain, _ = model(clean)
    with model.patched("blocks.0.resid_post", cache["blocks.0.resid_post"]):
        same, _ = model(clean)
    torch.testing.assert_close(same, plain, atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="same shape"):
        patch_grid(model, clean, corrupt[:, :5], position=3, good=1, bad=2)


def test_patching_everything_reproduces_the_donor_run(model):
    clean, corrupt = pair()
    names = ["embed", "blocks.0.resid_post", "blocks.1.resid_post"]
    donor, cache = model.run_with_cache(clean, names)
    for name in names:
        with model.patched(name, cache[name]):           # every position
            logits, _ = model(corrupt)
        torch.testing.assert_close(logits, donor, atol=1e-5, rtol=0)


def test_steering_by_zero_is_a_no_op_and_a_vector_moves_the_stream(model):
    from nbutils.patching import steered

    clean, _ = pair()
    plain, _ = model(clean)
    with steered(model, "blocks.0.resid_post", torch.zeros(16), [3]):
        same, _ = model(clean)
    torch.testing.assert_close(same, plain, atol=1e-6, rtol=0)
    with steered(model, "blocks.0.resid_post", torch.arange(16.0) - 3.0, [3]):   # not constant: LayerNorm removes a constant
        moved, _ = model(clean)
    torch.testing.assert_close(moved[:, :3], plain[:, :3], atol=1e-6, rtol=0)   # causal: earlier rows untouched
    assert (moved[0, 3] - plain[0, 3]).abs().max() > 1e-3
    with pytest.raises(ValueError, match="shape"):
        steered(model, "blocks.0.resid_post", torch.zeros(2, 16))


@pytest.fixture(scope="module")
def world():
    from nbutils.pretrain import course_tokenizer
    from nbutils.world import generate_corpus

    return generate_corpus(3, n_stories=40, val_fraction=0.0).stories, course_tokenizer()


def test_place_swap_pairs_differ_in_one_fact_the_world_allows(world):
    from nbutils.patching import GROUPS, place_swap_pairs
    from nbutils.world.truth import score_story

    stories, tokenizer = world
    pairs = place_swap_pairs(stories, tokenizer, context_length=256)
    assert len(pairs) >= 3
    for p in pairs:
        assert len(p.clean) == len(p.corrupt) and p.good != p.bad and p.clean_place != p.corrupt_place
        differ = [t for t in range(len(p.clean)) if p.clean[t] != p.corrupt[t]]
        assert differ == p.groups["place word"]            # only the stated place noun differs
        assert sorted(t for g in GROUPS for t in p.groups[g]) == list(range(len(p.clean)))  # groups tile the input
        assert p.groups["answer position"] == [p.position]
        assert tokenizer.decode([p.good]).strip() in p.clean_place and tokenizer.decode([p.bad]).strip() in p.corrupt_place
        # the corrupt story, written out, is one the world's generator can write
        text = tokenizer.decode(p.corrupt).strip()
        assert text.endswith(p.corrupt_place.rsplit(" ", 1)[0])


def test_patch_groups_on_a_pair(world):
    from nbutils.patching import GROUPS, patch_groups, place_swap_pairs

    stories, tokenizer = world
    pair = place_swap_pairs(stories, tokenizer, context_length=256, max_pairs=1)[0]
    torch.manual_seed(0)
    tiny = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, context_length=256, n_layer=2, n_head=2, n_embd=16)).eval()
    effects, clean, corrupt = patch_groups(tiny, pair)
    assert effects.shape == (3, len(GROUPS))
    g = {name: j for j, name in enumerate(GROUPS)}
    # the embeddings differ only at the place word: patching it there restores the clean run, elsewhere nothing
    assert abs(effects[0, g["place word"]].item() - 1) < 1e-3
    assert abs(effects[0, g["question"]].item()) < 1e-4 if pair.groups["question"] else True
    # after the last block only the answer position feeds the answer
    assert abs(effects[-1, g["answer position"]].item() - 1) < 1e-3
    assert abs(effects[-1, g["place word"]].item()) < 1e-4
