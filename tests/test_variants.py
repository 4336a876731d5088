"""The modern options of the course GPT (RMSNorm, rotary embeddings, SwiGLU), against reference implementations
(torch.nn.RMSNorm, transformers' Llama rotary code, the formulas), and their checkpoints."""

import itertools
import json

import pytest
import torch
import torch.nn.functional as F

from nbutils.checkpoint import load_checkpoint, save_checkpoint
from nbutils.model import GPT, GPTConfig, RMSNorm, SwiGLU, apply_rope, rope_tables, swiglu_hidden

SMALL = dict(vocab_size=61, context_length=20, n_layer=2, n_head=2, n_embd=16)
OPTIONS = [dict(zip(("norm", "position", "mlp"), combo))
           for combo in itertools.product(("layernorm", "rmsnorm"), ("learned", "rope"), ("gelu", "swiglu"))]


def make(seed=0, **options) -> GPT:
    torch.manual_seed(seed)
    model = GPT(GPTConfig(**SMALL, **options)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


def test_rmsnorm_matches_torch():
    x = torch.randn(3, 5, 16)
    ours = RMSNorm(16)
    with torch.no_grad():
        ours.weight.copy_(torch.randn(16))
    reference = torch.nn.RMSNorm(16, eps=1e-5)
    reference.weight.data.copy_(ours.weight.data)
    torch.testing.assert_close(ours(x), reference(x))
    assert [name for name, _ in ours.named_parameters()] == ["weight"]  # no bias, no mean


def test_rope_matches_transformers_llama():
    llama = pytest.importorskip("transformers.models.llama.modeling_llama")
    B, H, T, D = 2, 3, 7, 8
    q, k = torch.randn(B, H, T, D), torch.randn(B, H, T, D)
    cos, sin = rope_tables(T, D)
    # transformers repeats the half-size tables to the full head size (its rotate_half layout)
    full_cos, full_sin = torch.cat([cos, cos], -1)[None], torch.cat([sin, sin], -1)[None]
    q_ref, k_ref = llama.apply_rotary_pos_emb(q, k, full_cos, full_sin)
    torch.testing.assert_close(apply_rope(q, cos, sin), q_ref)
    torch.testing.assert_close(apply_rope(k, cos, sin), k_ref)


def test_rope_scores_depend_only_on_the_distance():
    D = 8
    cos, sin = rope_tables(12, D)
    q, k = torch.randn(D), torch.randn(D)

    def score(m, n):  # the query at position m, the key at position n
        qs = apply_rope(q.expand(12, D), cos, sin)[m]
        ks = apply_rope(k.expand(12, D), cos, sin)[n]
        return (qs @ ks).item()

    assert score(5, 3) == pytest.approx(score(9, 7), abs=1e-5)
    assert score(2, 2) == pytest.approx((q @ k).item(), abs=1e-5)   # distance 0: no rotation at all
    assert score(5, 3) != pytest.approx(score(5, 1), abs=1e-3)


def test_rope_keeps_lengths():
    cos, sin = rope_tables(10, 6)
    x = torch.randn(4, 10, 6)
    torch.testing.assert_close(apply_rope(x, cos, sin).norm(dim=-1), x.norm(dim=-1))


def test_swiglu_formula():
    config = GPTConfig(**SMALL, mlp="swiglu")
    mlp = SwiGLU(config)
    h = swiglu_hidden(16)
    assert h == 42 and mlp.c_fc.weight.shape == (2 * h, 16) and mlp.c_proj.weight.shape == (16, h)
    x = torch.randn(2, 3, 16)
    gate = x @ mlp.c_fc.weight[:h].T + mlp.c_fc.bias[:h]
    up = x @ mlp.c_fc.weight[h:].T + mlp.c_fc.bias[h:]
    expected = (gate * torch.sigmoid(gate) * up) @ mlp.c_proj.weight.T + mlp.c_proj.bias
    torch.testing.assert_close(mlp(x), expected)


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(o.values()))
@pytest.mark.parametrize("bias", [True, False])
def test_parameter_count_formula(options, bias):
    model = GPT(GPTConfig(**SMALL, bias=bias, **options))
    assert model.num_parameters() == GPT.parameter_count_formula(model.config)


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(o.values()))
def test_causal_and_hooks(options):
    model = make(**options)
    idx = torch.randint(0, SMALL["vocab_size"], (2, 12))
    changed = idx.clone()
    changed[:, 8:] = (changed[:, 8:] + 1) % SMALL["vocab_size"]
    with torch.no_grad():
        a, b = model(idx)[0], model(changed)[0]
    torch.testing.assert_close(a[:, :8], b[:, :8])          # the future does not leak
    logits, cache = model.run_with_cache(idx)                # the step-by-step attention (a hook wants it)
    torch.testing.assert_close(logits, a, atol=1e-5, rtol=1e-5)
    assert cache["blocks.0.attn"].shape == (2, 2, 12, 12)


def test_rope_model_has_no_position_table_and_sees_order():
    model = make(position="rope")
    assert not hasattr(model, "wpe") and "wpe.weight" not in model.state_dict()
    assert not any("rope" in name for name in model.state_dict())   # the tables are not saved
    idx = torch.tensor([[3, 4, 5, 6]])
    with torch.no_grad():
        assert not torch.allclose(model(idx)[0][0, -1], model(idx.flip(1))[0][0, -1])


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="norm must be one of"):
        GPTConfig(**SMALL, norm="batchnorm")
    with pytest.raises(ValueError, match="must be even"):
        GPTConfig(vocab_size=10, n_embd=6, n_head=2, position="rope")


@pytest.mark.parametrize("options", [OPTIONS[0], OPTIONS[-1], dict(position="rope")], ids=["default", "all", "rope"])
def test_checkpoint_round_trip(tmp_path, options):
    model = make(**options)
    save_checkpoint(tmp_path, model)
    meta = json.loads((tmp_path / "checkpoint.json").read_text())
    assert all(meta["model_config"][k] == getattr(model.config, k) for k in ("norm", "position", "mlp"))
    loaded = load_checkpoint(tmp_path).model.eval()
    assert loaded.config == model.config
    idx = torch.randint(0, SMALL["vocab_size"], (2, 10))
    with torch.no_grad():
        assert torch.equal(loaded(idx)[0], model(idx)[0])


def test_old_checkpoint_without_the_options_loads(tmp_path):
    """A checkpoint written before the options existed (its config has no norm/position/mlp) still loads,
    as the default model; one that says another option does not load into a default model."""
    model = make()
    save_checkpoint(tmp_path, model)
    meta = json.loads((tmp_path / "checkpoint.json").read_text())
    for key in ("norm", "position", "mlp"):
        del meta["model_config"][key]
    (tmp_path / "checkpoint.json").write_text(json.dumps(meta))
    loaded = load_checkpoint(tmp_path).model
    assert loaded.config == model.config
    load_checkpoint(tmp_path, model=make())  # given a default model: no complaint
    with pytest.raises(ValueError, match="norm"):
        load_checkpoint(tmp_path, model=make(norm="rmsnorm"))


def test_default_forward_is_gpt2s():
    """The default model computes exactly the GPT-2 block written out by hand (LayerNorm, learned positions,
    GELU), so the options changed nothing when they are off."""
    model = make()
    idx = torch.randint(0, SMALL["vocab_size"], (1, 9))
    with torch.no_grad():
        x = model.wte(idx) + model.wpe(torch.arange(9))
        for block in model.blocks:
            h = F.layer_norm(x, (16,), block.ln_1.weight, block.ln_1.bias)
            q, k, v = (h @ block.attn.c_attn.weight.T + block.attn.c_attn.bias).split(16, -1)
            q, k, v = (t.view(1, 9, 2, 8).transpose(1, 2) for t in (q, k, v))
            att = (q @ k.transpose(-1, -2) / 8 ** 0.5).masked_fill(~torch.ones(9, 9, dtype=torch.bool).tril(), -1e9)
            y = (att.softmax(-1) @ v).transpose(1, 2).reshape(1, 9, 16)
            x = x + y @ block.attn.c_proj.weight.T + block.attn.c_proj.bias
            h = F.layer_norm(x, (16,), block.ln_2.weight, block.ln_2.bias)
            hidden = F.gelu(h @ block.mlp.c_fc.weight.T + block.mlp.c_fc.bias)
            x = x + hidden @ block.mlp.c_proj.weight.T + block.mlp.c_proj.bias
        logits = F.layer_norm(x, (16,), model.ln_f.weight, model.ln_f.bias) @ model.wte.weight.T
        torch.testing.assert_close(model(idx)[0], logits, atol=1e-5, rtol=1e-5)
