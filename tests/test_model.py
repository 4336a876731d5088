"""Tests for nbutils.model (compared with torch.nn reference modules) and nbutils.checks.model."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from nbutils.checks.model import check_parameter_count
from nbutils.attention import MultiHeadAttention
from nbutils.model import GPT, HOOK_POINTS, GPTConfig, patch_hook

from hints import expect_hint  # tests/hints.py

SMALL = dict(vocab_size=37, context_length=16, n_layer=2, n_head=4, n_embd=32)


def make_model(seed: int = 0, **overrides) -> GPT:
    torch.manual_seed(seed)
    model = GPT(GPTConfig(**{**SMALL, **overrides}))
    return model.eval()


def random_ids(B: int, T: int, V: int = SMALL["vocab_size"], seed: int = 1) -> torch.Tensor:
    return torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(seed))


# ---- shapes and the basic contract ------------------------------------------------------------------------
def test_forward_shapes_and_loss_matches_cross_entropy():
    model = make_model()
    idx, targets = random_ids(3, 10), random_ids(3, 10, seed=2)
    logits, loss = model(idx, targets)
    assert logits.shape == (3, 10, SMALL["vocab_size"]) and logits.dtype == torch.float32
    torch.testing.assert_close(loss, F.cross_entropy(logits.transpose(1, 2), targets))
    logits_only, none = model(idx)
    assert none is None
    torch.testing.assert_close(logits_only, logits)


def test_ignore_index_minus_100_is_left_out_of_the_loss():
    model = make_model()
    idx, targets = random_ids(2, 8), random_ids(2, 8, seed=2)
    masked = targets.clone()
    masked[:, :5] = -100
    logits, loss = model(idx, masked)
    expected = F.cross_entropy(logits[:, 5:].reshape(-1, logits.shape[-1]), targets[:, 5:].reshape(-1))
    torch.testing.assert_close(loss, expected)


def test_causality_changing_token_t_never_changes_earlier_logits():
    model = make_model()
    idx = random_ids(2, 12)
    logits, _ = model(idx)
    for t in (0, 5, 11):
        changed = idx.clone()
        changed[:, t] = (changed[:, t] + 1) % SMALL["vocab_size"]
        new_logits, _ = model(changed)
        torch.testing.assert_close(new_logits[:, :t], logits[:, :t])
        assert not torch.allclose(new_logits[:, t], logits[:, t])


def test_shorter_sequences_give_the_same_prefix_logits():
    model = make_model()
    idx = random_ids(1, 16)
    full, _ = model(idx)
    part, _ = model(idx[:, :7])
    torch.testing.assert_close(part, full[:, :7], atol=1e-5, rtol=1e-5)


def test_gradients_reach_every_parameter():
    model = make_model(dropout=0.1).train()
    _, loss = model(random_ids(4, 16), random_ids(4, 16, seed=2))
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert p.grad.abs().sum() > 0, name


# ---- parameters ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("overrides", [{}, {"bias": False}, {"n_layer": 1, "n_head": 1, "n_embd": 8},
                                       {"vocab_size": 65, "context_length": 64, "n_layer": 4, "n_head": 4,
                                        "n_embd": 128}])
def test_parameter_count_formula(overrides):
    model = make_model(**overrides)
    by_hand = sum(p.numel() for p in model.parameters())
    assert model.num_parameters() == by_hand == GPT.parameter_count_formula(model.config)
    embeddings = model.wte.weight.numel() + model.wpe.weight.numel()
    assert model.num_parameters(non_embedding=True) == by_hand - embeddings


def test_weight_tying_shares_storage():
    model = make_model()
    assert model.lm_head.weight is model.wte.weight
    assert model.lm_head.weight.data_ptr() == model.wte.weight.data_ptr()
    assert model.lm_head.bias is None
    with torch.no_grad():
        model.wte.weight[3, 0] += 1.0
    assert model.lm_head.weight[3, 0] == model.wte.weight[3, 0]
    assert "lm_head.weight" not in dict(model.named_parameters())  # listed once


def test_untrained_loss_is_close_to_log_vocab_size():
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=100, context_length=64, n_layer=4, n_head=4, n_embd=128)
    model = GPT(config).eval()
    idx = torch.randint(0, 100, (8, 64))
    targets = torch.randint(0, 100, (8, 64))
    _, loss = model(idx, targets)
    assert abs(loss.item() - math.log(100)) < 0.1


def test_gpt2_initialisation():
    model = make_model(n_layer=8, n_embd=64, vocab_size=500, context_length=64)
    assert model.wte.weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert model.blocks[0].attn.c_attn.weight.std().item() == pytest.approx(0.02, rel=0.05)
    for block in model.blocks:
        for proj in (block.attn.c_proj, block.mlp.c_proj):
            assert proj.weight.std().item() == pytest.approx(0.02 / math.sqrt(16), rel=0.1)
            assert (proj.bias == 0).all()
        assert (block.ln_1.weight == 1).all() and (block.ln_1.bias == 0).all()


# ---- one path: hidden states, attention weights --------------------------------------------------------------
def test_forward_always_returns_logits_and_loss():
    model = make_model()
    idx = random_ids(2, 5)
    out = model(idx)
    assert isinstance(out, tuple) and len(out) == 2 and out[1] is None
    out = model(idx, random_ids(2, 5, seed=2))
    assert isinstance(out, tuple) and len(out) == 2 and out[1].dim() == 0
    with pytest.raises(TypeError):
        model(idx, return_attention=True)  # gone: the weights come from the hook point blocks.{i}.attn


def test_lm_head_of_hidden_states_is_the_forward_logits_with_gradients():
    model = make_model(dropout=0.1)
    idx = random_ids(3, 12)
    hidden = model.hidden_states(idx)
    assert hidden.shape == (3, 12, SMALL["n_embd"]) and hidden.requires_grad
    torch.testing.assert_close(model.lm_head(hidden), model(idx)[0], rtol=0, atol=0)
    # the stream after the last block, through the final LayerNorm
    torch.testing.assert_close(hidden, model.ln_f(model.residual_stream(idx)[-1]))
    hidden.sum().backward()
    assert model.wte.weight.grad is not None and model.blocks[0].attn.c_attn.weight.grad is not None
    with pytest.raises(ValueError, match="exceeds the model's context_length"):
        model.hidden_states(random_ids(1, 17))


def test_fused_path_equals_step_by_step_attention_path():
    """A hook on the weights switches that layer to the step-by-step attention of nbutils.attention;
    the logits and loss agree with the fused kernel to float rounding."""
    model = make_model()
    idx, targets = random_ids(3, 16), random_ids(3, 16, seed=2)
    fused_logits, fused_loss = model(idx, targets)
    seen = []
    with model.hooked({f"blocks.{i}.attn": lambda w, name: seen.append(name) for i in range(SMALL["n_layer"])}):
        logits, loss = model(idx, targets)
    assert seen == ["blocks.0.attn", "blocks.1.attn"]
    torch.testing.assert_close(logits, fused_logits, atol=1e-5, rtol=0)
    torch.testing.assert_close(loss, fused_loss, atol=1e-5, rtol=0)
    maps = model.attention_maps(idx)
    assert len(maps) == SMALL["n_layer"] and not maps[0].requires_grad
    assert model.hooks == {}


def test_attention_rows_sum_to_one_and_are_zero_above_the_diagonal():
    model = make_model()
    future = torch.ones(9, 9, dtype=torch.bool).triu(1)
    for weights in model.attention_maps(random_ids(2, 9)):
        assert weights.shape == (2, SMALL["n_head"], 9, 9)
        torch.testing.assert_close(weights.sum(-1), torch.ones(2, SMALL["n_head"], 9))
        assert (weights[..., future] == 0).all()


def test_attention_maps_equal_the_plain_formula():
    """Layer 0's weights by hand: softmax(q k^T / sqrt(d)) with the causal mask (True = may attend)."""
    model = make_model()
    idx = random_ids(2, 7)
    x = model.residual_stream(idx)[0]  # the embeddings, which block 0 reads
    block = model.blocks[0]
    q, k, _ = block.attn.c_attn(block.ln_1(x)).split(SMALL["n_embd"], dim=-1)
    q, k = (t.view(2, 7, SMALL["n_head"], -1).transpose(1, 2) for t in (q, k))
    allowed = torch.ones(7, 7, dtype=torch.bool).tril()
    scores = (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).masked_fill(~allowed, float("-inf"))
    torch.testing.assert_close(model.attention_maps(idx)[0], torch.softmax(scores, dim=-1))


def test_a_hook_can_replace_the_attention_weights():
    """Weights replaced by the identity (every position looks only at itself): attention passes each
    position's own value through c_proj."""
    model = make_model()
    attn = model.blocks[0].attn
    x = torch.randn(2, 6, SMALL["n_embd"], generator=torch.Generator().manual_seed(5))
    with model.hooked({"blocks.0.attn": lambda w, name: torch.eye(6).expand_as(w)}):
        out = attn(x)
    values = attn.c_attn(x).split(SMALL["n_embd"], dim=-1)[2]
    torch.testing.assert_close(out, attn.c_proj(values))


def test_gpt_attention_is_the_multihead_attention_of_nbutils_attention():
    """One implementation: CausalSelfAttention is MultiHeadAttention with causal=True (fused kernel inside)."""
    model = make_model()
    attn = model.blocks[1].attn
    assert isinstance(attn, MultiHeadAttention)
    plain = MultiHeadAttention(SMALL["n_embd"], SMALL["n_head"]).eval()
    plain.load_state_dict(attn.state_dict())
    x = torch.randn(2, 7, SMALL["n_embd"], generator=torch.Generator().manual_seed(4))
    out, weights = plain(x, causal=True, return_weights=True)
    torch.testing.assert_close(attn(x), out)
    with model.hooked({"blocks.1.attn": lambda w, name: None}):
        torch.testing.assert_close(attn(x), out)
    with pytest.raises(ValueError, match="always causal"):
        attn.attend(*attn.queries_keys_values(x), causal=False)


def test_block_matches_torch_transformer_encoder_layer():
    """A pre-norm torch.nn.TransformerEncoderLayer with GELU and a 4x MLP is the same block."""
    model = make_model()
    block = model.blocks[0]
    C = SMALL["n_embd"]
    reference = nn.TransformerEncoderLayer(C, SMALL["n_head"], dim_feedforward=4 * C, dropout=0.0,
                                           activation="gelu", batch_first=True, norm_first=True).eval()
    with torch.no_grad():
        reference.self_attn.in_proj_weight.copy_(block.attn.c_attn.weight)
        reference.self_attn.in_proj_bias.copy_(block.attn.c_attn.bias)
        reference.self_attn.out_proj.load_state_dict(block.attn.c_proj.state_dict())
        reference.linear1.load_state_dict(block.mlp.c_fc.state_dict())
        reference.linear2.load_state_dict(block.mlp.c_proj.state_dict())
        reference.norm1.load_state_dict(block.ln_1.state_dict())
        reference.norm2.load_state_dict(block.ln_2.state_dict())
    x = torch.randn(2, 10, C, generator=torch.Generator().manual_seed(3))
    blocked = nn.Transformer.generate_square_subsequent_mask(10)
    expected = reference(x, src_mask=blocked, is_causal=True)
    torch.testing.assert_close(block(x), expected, atol=1e-5, rtol=1e-4)


def test_attention_weights_match_torch_multiheadattention():
    model = make_model()
    attn = model.blocks[1].attn
    C = SMALL["n_embd"]
    reference = nn.MultiheadAttention(C, SMALL["n_head"], batch_first=True)
    with torch.no_grad():
        reference.in_proj_weight.copy_(attn.c_attn.weight)
        reference.in_proj_bias.copy_(attn.c_attn.bias)
        reference.out_proj.load_state_dict(attn.c_proj.state_dict())
    x = torch.randn(2, 7, C, generator=torch.Generator().manual_seed(4))
    blocked = torch.ones(7, 7, dtype=torch.bool).triu(1)  # nn.MultiheadAttention's convention: True = blocked
    expected, expected_weights = reference(x, x, x, attn_mask=blocked, average_attn_weights=False)
    seen = {}
    with model.hooked({"blocks.1.attn": lambda w, name: seen.setdefault(name, w)}):
        ours = attn(x)
    torch.testing.assert_close(ours, expected)
    torch.testing.assert_close(seen["blocks.1.attn"], expected_weights)


# ---- residual stream -----------------------------------------------------------------------------------------
def test_residual_stream():
    model = make_model()
    idx = random_ids(2, 6)
    states = model.residual_stream(idx)
    assert len(states) == SMALL["n_layer"] + 1
    assert all(s.shape == (2, 6, SMALL["n_embd"]) and not s.requires_grad for s in states)
    torch.testing.assert_close(states[0], model.wte(idx) + model.wpe(torch.arange(6)))
    logits, _ = model(idx)
    torch.testing.assert_close(model.lm_head(model.ln_f(states[-1])), logits)


def test_dropout_only_in_training_mode():
    model = make_model(dropout=0.5)
    idx = random_ids(2, 8)
    torch.testing.assert_close(model(idx)[0], model(idx)[0])
    model.train()
    assert not torch.allclose(model(idx)[0], model(idx)[0])


# ---- errors -----------------------------------------------------------------------------------------------------
def test_error_messages():
    model = make_model()
    idx = random_ids(2, 8)
    with pytest.raises(TypeError, match="integer token ids"):
        model(idx.float())
    with pytest.raises(ValueError, match=r"shape \(B, T\)"):
        model(idx[0])
    with pytest.raises(ValueError, match="sequence length 17 exceeds the model's context_length 16"):
        model(random_ids(1, 17))
    with pytest.raises(ValueError, match=r"token id 37 is outside \[0, 37\)"):
        model(torch.tensor([[1, 37]]))
    with pytest.raises(ValueError, match=r"token id -1"):
        model(torch.tensor([[-1, 2]]))
    with pytest.raises(ValueError, match="same shape as idx"):
        model(idx, idx[:, :7])
    with pytest.raises(ValueError, match=r"target id 99"):
        model(idx, torch.full_like(idx, 99))
    with pytest.raises(TypeError, match="integer"):
        model(idx, idx.float())
    with pytest.raises(TypeError, match="GPTConfig"):
        GPT({"vocab_size": 10})


@pytest.mark.parametrize("overrides, fragment", [
    ({"n_embd": 30}, "divisible by n_head"),
    ({"vocab_size": 0}, "vocab_size must be an int >= 1"),
    ({"dropout": 1.0}, "dropout"),
    ({"context_length": 2.5}, "context_length"),
])
def test_config_errors(overrides, fragment):
    with pytest.raises(ValueError, match=fragment):
        GPTConfig(**{**SMALL, **overrides})


# ---- other devices ----------------------------------------------------------------------------------------------
def _accelerators() -> list[str]:
    found = []
    if torch.cuda.is_available():
        found.append("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        found.append("mps")
    return found


@pytest.mark.skipif(not _accelerators(), reason="no CUDA or MPS device")
@pytest.mark.parametrize("device", _accelerators())
def test_same_logits_on_an_accelerator(device):
    model = make_model()
    idx, targets = random_ids(2, 16), random_ids(2, 16, seed=2)
    logits, loss = model(idx, targets)
    moved = model.to(device)
    with moved.hooked({"blocks.0.attn": lambda w, name: None, "blocks.1.attn": lambda w, name: None}):
        on_device, device_loss = moved(idx.to(device), targets.to(device))  # step-by-step attention
    fused, _ = moved(idx.to(device))
    attentions = moved.attention_maps(idx.to(device))
    assert on_device.device.type == device and attentions[0].device.type == device
    torch.testing.assert_close(on_device.cpu(), logits, atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(fused.cpu(), logits, atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(device_loss.cpu(), loss, atol=1e-3, rtol=1e-3)
    device_loss.backward()


# ---- exercise check -----------------------------------------------------------------------------------------------
def _expect_hint(fn, *fragments: str) -> None:
    expect_hint(check_parameter_count, fn, *fragments)


def _count(config: GPTConfig, *, biases=True, layer_norms=True, positions=True, head_twice=False,
           ignore_bias_flag=False, mlp_width=4) -> int:
    """A parameter count written the long way, with switches for the typical mistakes."""
    C, V, L, n = config.n_embd, config.vocab_size, config.context_length, config.n_layer
    b = 1 if (config.bias or ignore_bias_flag) and biases else 0
    ln = (C + b * C) if layer_norms else 0
    attention = (3 * C * C + b * 3 * C) + (C * C + b * C)
    mlp = (mlp_width * C * C + b * mlp_width * C) + (mlp_width * C * C + b * C)
    total = V * C + (L * C if positions else 0) + n * (2 * ln + attention + mlp) + ln
    return total + (V * C if head_twice else 0)


def test_check_parameter_count_accepts_references(capsys):
    check_parameter_count(GPT.parameter_count_formula)
    check_parameter_count(lambda config: GPT(config).num_parameters())
    check_parameter_count(_count)
    assert "✓ parameter count" in capsys.readouterr().out


def test_check_parameter_count_hints():
    _expect_hint(lambda c: _count(c, biases=False), "forgot the biases")
    _expect_hint(lambda c: _count(c, layer_norms=False), "forgot the LayerNorms")
    _expect_hint(lambda c: _count(c, head_twice=True), "tied")
    _expect_hint(lambda c: _count(c, positions=False), "position embeddings")
    _expect_hint(lambda c: _count(c, ignore_bias_flag=True), "config.bias is False")
    _expect_hint(lambda c: _count(c, mlp_width=2), "4 * n_embd")
    _expect_hint(lambda c: _count(c, positions=False, head_twice=True), "two things", "position", "tied")
    _expect_hint(lambda c: float(_count(c)) + 0.5, "whole number")


# ---------------------------------------------------------------- hook points: reading and patching the stream
def _hook_model() -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=50, context_length=16, n_layer=3, n_head=2, n_embd=16)).eval()


def test_run_with_cache_reads_every_hook_point():
    model = _hook_model()
    idx = torch.randint(50, (2, 9))
    logits, cache = model.run_with_cache(idx)
    assert set(cache) == set(model.hook_names())
    assert model.hook_names()[:5] == ["embed"] + [f"blocks.0.{kind}" for kind in HOOK_POINTS]
    assert HOOK_POINTS == ("attn", "head_out", "resid_mid", "resid_post")  # the order a block reaches them
    assert cache["embed"].shape == (2, 9, 16) and cache["blocks.2.head_out"].shape == (2, 2, 9, 8)
    assert cache["blocks.1.attn"].shape == (2, 2, 9, 9)
    torch.testing.assert_close(model.attention_maps(idx)[1], cache["blocks.1.attn"])
    torch.testing.assert_close(logits, model(idx)[0])
    # the last resid_post through the final LayerNorm and the head gives the logits
    torch.testing.assert_close(model.lm_head(model.ln_f(cache["blocks.2.resid_post"])), logits)
    states = model.residual_stream(idx)
    torch.testing.assert_close(states[1], cache["blocks.0.resid_post"])
    assert model.hooks == {}  # nothing left behind


def test_patching_a_run_with_its_own_activations_changes_nothing():
    model = _hook_model()
    clean = torch.randint(50, (2, 10))
    for name in model.hook_names():
        # cached and patched through the same path (an attn hook switches that layer to step-by-step): exact
        logits, cache = model.run_with_cache(clean, [name])
        with model.patched(name, cache[name]):
            torch.testing.assert_close(model(clean)[0], logits, rtol=0, atol=0)
        with model.patched(name, cache[name], positions=[2, 7]):
            torch.testing.assert_close(model(clean)[0], logits, rtol=0, atol=0)
    # everything cached in one run, each point patched alone: the same to float rounding
    logits, cache = model.run_with_cache(clean)
    for name in model.hook_names():
        with model.hooked({name: patch_hook(cache[name])}):
            torch.testing.assert_close(model(clean)[0], logits, rtol=0, atol=1e-6)


@pytest.mark.parametrize("layer", [0, 1, 2])
def test_patching_the_whole_stream_with_another_run_reproduces_that_run_downstream(layer):
    model = _hook_model()
    clean, corrupt = torch.randint(50, (1, 10)), torch.randint(50, (1, 10))
    clean_logits, clean_cache = model.run_with_cache(clean)
    corrupt_logits, _ = model(corrupt)
    name = f"blocks.{layer}.resid_post"
    with model.patched(name, clean_cache[name]):
        patched_logits, _ = model(corrupt)
    torch.testing.assert_close(patched_logits, clean_logits, rtol=0, atol=1e-6)
    assert not torch.allclose(corrupt_logits, clean_logits)


def test_patching_some_positions_changes_only_those_and_later_ones():
    model = _hook_model()
    clean, corrupt = torch.randint(50, (1, 10)), torch.randint(50, (1, 10))
    _, clean_cache = model.run_with_cache(clean)
    corrupt_logits, _ = model(corrupt)
    for name, positions, first in [("blocks.0.resid_post", [6], 6), ("blocks.1.resid_mid", slice(4, 6), 4),
                                   ("embed", torch.tensor([8, 9]), 8), ("blocks.0.head_out", 3, 3),
                                   ("blocks.1.attn", [5], 5)]:
        with model.patched(name, clean_cache[name], positions=positions):
            patched = model(corrupt)[0]
        torch.testing.assert_close(patched[:, :first], corrupt_logits[:, :first], atol=1e-6, rtol=0)
        assert not torch.allclose(patched[:, first], corrupt_logits[:, first]), name


def test_patch_hook_replaces_exactly_the_chosen_positions_and_heads():
    x, source = torch.zeros(2, 3, 5, 4), torch.ones(1, 3, 5, 4)    # (B, n_head, T, head_size); source B = 1
    out = patch_hook(source, positions=[1, -1], heads=2)(x, "blocks.0.head_out")
    expected = torch.zeros(2, 3, 5, 4)
    expected[:, 2, [1, 4]] = 1
    torch.testing.assert_close(out, expected)
    stream = patch_hook(torch.ones(2, 5, 4), positions=slice(3, None))(torch.zeros(2, 5, 4), "embed")
    assert stream[:, :3].eq(0).all() and stream[:, 3:].eq(1).all()
    with pytest.raises(ValueError, match="has shape"):
        patch_hook(torch.ones(2, 4, 4))(torch.zeros(2, 5, 4), "embed")
    with pytest.raises(ValueError, match="no heads"):
        patch_hook(torch.ones(2, 5, 4), heads=0)(torch.zeros(2, 5, 4), "embed")
    with pytest.raises(ValueError, match="cannot pick positions"):
        patch_hook(torch.ones(2, 5, 4), positions=[7])(torch.zeros(2, 5, 4), "embed")
    with pytest.raises(TypeError, match="source must be a torch.Tensor"):
        patch_hook([1.0, 2.0])


def test_patching_one_head_takes_that_head_from_the_other_run_and_keeps_the_others():
    model = _hook_model()
    clean, corrupt = torch.randint(50, (1, 8)), torch.randint(50, (1, 8))
    _, clean_cache = model.run_with_cache(clean)
    corrupt_logits, corrupt_cache = model.run_with_cache(corrupt)
    patch, seen = patch_hook(clean_cache["blocks.0.head_out"], heads=1), {}

    def patch_and_keep(x, name):
        seen[name] = patch(x, name)
        return seen[name]

    with model.hooked({"blocks.0.head_out": patch_and_keep}):
        patched_logits, _ = model(corrupt)
    torch.testing.assert_close(seen["blocks.0.head_out"][:, 1], clean_cache["blocks.0.head_out"][:, 1])
    torch.testing.assert_close(seen["blocks.0.head_out"][:, 0], corrupt_cache["blocks.0.head_out"][:, 0])
    assert not torch.allclose(patched_logits, corrupt_logits)


def test_zero_ablating_a_head_equals_removing_its_columns_of_c_proj():
    model = _hook_model()
    idx = torch.randint(50, (2, 8))

    def zero_head_1(x, name):
        x = x.clone()
        x[:, 1] = 0
        return x

    with model.hooked({"blocks.0.head_out": zero_head_1}):
        ablated = model(idx)[0]
    reference = _hook_model()
    with torch.no_grad():
        reference.blocks[0].attn.c_proj.weight[:, 8:16] = 0  # head 1 reads dimensions 8..15 of the merged output
    torch.testing.assert_close(ablated, reference(idx)[0])


def test_hook_errors_are_clear():
    model = _hook_model()
    idx = torch.randint(50, (1, 4))
    with pytest.raises(KeyError, match="unknown hook points"):
        with model.hooked({"blocks.9.resid_post": lambda x, n: None}):
            pass
    with pytest.raises(TypeError, match="not callable"):
        with model.hooked({"embed": "not a function"}):
            pass
    with pytest.raises(ValueError, match="must return None or a tensor of shape"):
        with model.hooked({"embed": lambda x, n: x[:, :2]}):
            model(idx)
    with model.hooked({"embed": lambda x, n: None}):
        with pytest.raises(RuntimeError, match="do not nest"):
            with model.hooked({"embed": lambda x, n: None}):
                pass
    assert model.hooks == {}
