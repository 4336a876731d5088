"""FLOP counting against torch's own counter, the scaling-law fit against planted laws, the sweep recipe."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from nbutils.model import GPT, GPTConfig
from nbutils.scaling import (ACCELERATORS, CHINCHILLA_REFIT, REAL_MODELS, ScalingLaw, block_forward_flops,
                             block_params, bootstrap_fits, compute_optimal, count_training_flops, fit_law,
                             forward_flops_per_token, non_embedding_params, tokens_for_compute_optimal,
                             training_days, training_flops, training_flops_per_token)

CONFIG = GPTConfig(vocab_size=96, context_length=16, n_layer=2, n_head=2, n_embd=24)


def test_block_flops_and_params_from_shapes():
    assert block_forward_flops(8, 4) == 24 * 64 + 4 * 4 * 8
    assert block_params(8) == 12 * 64 + 13 * 8
    with pytest.raises((TypeError, ValueError)):
        block_forward_flops(0, 4)


def test_parameter_count_matches_the_model():
    model = GPT(CONFIG)
    counted = sum(p.numel() for name, p in model.named_parameters() if not name.startswith(("wte", "wpe")))
    assert non_embedding_params(CONFIG) == counted


def test_flop_formula_matches_torch_counter():
    torch.manual_seed(0)
    model = GPT(CONFIG)
    by_hand = forward_flops_per_token(CONFIG)
    step_by_step = count_training_flops(model, batch_size=2)
    assert step_by_step["forward"] == by_hand
    assert training_flops_per_token(CONFIG) == 3 * by_hand
    # backward = 2 x forward, plus the scores q.k computed once more: the fused kernel recomputes them
    # instead of keeping the T x T weights from the forward pass
    recompute = CONFIG.n_layer * 2 * CONFIG.context_length * CONFIG.n_embd
    assert step_by_step["backward"] == 2 * by_hand + recompute
    fused = count_training_flops(model, batch_size=2, count_attention=False)  # the counter alone
    attention = CONFIG.n_layer * 4 * CONFIG.context_length * CONFIG.n_embd
    assert fused["forward"] == by_hand - attention


def planted_runs(law: ScalingLaw, noise: float = 0.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    N = [n for n in (2e4, 1e5, 3e5, 8e5) for _ in range(4)]
    D = [d for _ in range(4) for d in (2.5e5, 5e5, 1e6, 2e6)]
    L = [float(law.loss(n, d)) * (1 + noise * rng.standard_normal()) for n, d in zip(N, D)]
    return N, D, L


def test_fit_recovers_a_planted_law():
    law = ScalingLaw(E=0.8, A=50.0, alpha=0.4, B=300.0, beta=0.35)
    N, D, L = planted_runs(law)
    for fitted in (fit_law(N, D, L), fit_law(N, D, L, E=0.8)):
        assert fitted.E == pytest.approx(0.8, rel=1e-4)
        assert (fitted.alpha, fitted.beta) == pytest.approx((0.4, 0.35), rel=1e-3)
        assert (fitted.A, fitted.B) == pytest.approx((50.0, 300.0), rel=1e-2)
    with pytest.raises(ValueError):
        fit_law(N, D, L, E=5.0)  # above the measured losses


def test_bootstrap_gives_an_interval_that_holds_the_truth():
    law = ScalingLaw(E=0.8, A=50.0, alpha=0.4, B=300.0, beta=0.35)
    N, D, L = planted_runs(law, noise=0.003)
    laws = bootstrap_fits(N, D, L, E=0.8, samples=20)
    low, high = np.percentile([f.alpha for f in laws], [2.5, 97.5])
    assert len(laws) >= 15 and low < 0.4 < high + 0.05


def test_compute_optimal_minimises_the_law_along_a_budget():
    C = 5.76e23
    N_opt, D_opt = compute_optimal(CHINCHILLA_REFIT, C)
    assert 6 * N_opt * D_opt == pytest.approx(C)
    grid = np.exp(np.linspace(math.log(N_opt) - 2, math.log(N_opt) + 2, 4001))
    brute = grid[np.argmin(CHINCHILLA_REFIT.loss(grid, C / (6 * grid)))]
    assert brute == pytest.approx(N_opt, rel=2e-3)
    assert 15 < D_opt / N_opt < 25  # the replication's law agrees with the paper's ~20 tokens per parameter
    assert tokens_for_compute_optimal(70e9) == pytest.approx(1.4e12)


def test_real_models_by_arithmetic():
    gpt3, chinchilla = REAL_MODELS["GPT-3 175B"], REAL_MODELS["Chinchilla 70B"]
    assert training_flops(gpt3["params"], gpt3["tokens"]) == pytest.approx(gpt3["paper_flops"], rel=0.01)
    assert training_flops(chinchilla["params"], chinchilla["tokens"]) == pytest.approx(chinchilla["paper_flops"], rel=0.03)
    days = training_days(3.15e23, ACCELERATORS["A100 SXM"], utilisation=0.5, devices=1000)
    assert days == pytest.approx(3.15e23 / (312e12 * 0.5 * 1000) / 86400)
    with pytest.raises(ValueError):
        training_days(1e20, 1e12, utilisation=1.5)


def test_sweep_recipe_quick(tmp_path):
    from nbutils.recipes import scaling

    out = tmp_path / "sweep.json"
    assert scaling.main(["--quick", "--out", str(out)]) == 0
    record = json.loads(out.read_text())
    assert len(record["runs"]) == 2 and record["floor_per_token"] > 0
    for run in record["runs"]:
        assert run["val_loss"] > record["floor_per_token"]
        assert run["N"] == non_embedding_params(GPTConfig(1024, 256, run["n_layer"], run["n_head"], run["n_embd"]))
    assert scaling.main(["--quick", "--out", str(out)]) == 0  # done runs are skipped, not trained again
    assert len(json.loads(out.read_text())["runs"]) == 2
