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
