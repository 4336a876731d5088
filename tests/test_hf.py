"""The two-way converter between the course GPT and transformers' GPT2LMHeadModel, and the tokenizer files.

The reference is transformers' own GPT-2 implementation: a converted model must give the same logits and the
same greedy continuation, and GPT2Tokenizer reading our files must give the course tokenizer's ids."""

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
transformers = pytest.importorskip("transformers")

from nbutils.generate import generate  # noqa: E402
from nbutils.hf import course_name, from_hf, hf_name, hf_state_dict, save_hf, save_hf_tokenizer, to_hf  # noqa: E402
from nbutils.model import GPT, GPTConfig  # noqa: E402

SMALL = dict(vocab_size=97, context_length=24, n_layer=2, n_head=2, n_embd=16)


@pytest.fixture(scope="module")
def course_tokenizer():
    from nbutils.pretrain import course_tokenizer

    return course_tokenizer()


def random_gpt(seed: int = 0, **overrides) -> GPT:
    torch.manual_seed(seed)
    model = GPT(GPTConfig(**{**SMALL, **overrides})).eval()
    with torch.no_grad():  # move every weight away from its initial value, biases and LayerNorms included
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


@pytest.mark.parametrize("bias", [True, False])
def test_logits_equal_on_random_inputs(bias):
    model = random_gpt(bias=bias)
    hf_model = to_hf(model)
    idx = torch.randint(0, SMALL["vocab_size"], (3, SMALL["context_length"]), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours, _ = model(idx)
        theirs = hf_model(idx).logits
    assert theirs.shape == ours.shape
    torch.testing.assert_close(theirs, ours, atol=1e-5, rtol=1e-4)


def test_gpt2s_own_gelu_would_differ():
    """The exact GELU is what makes the logits agree: with GPT-2's tanh approximation they do not (to 1e-6)."""
    model = random_gpt()
    hf_model = to_hf(model)
    assert hf_model.config.activation_function == "gelu"
    hf_model.config.activation_function = "gelu_new"
    approx = transformers.GPT2LMHeadModel(hf_model.config)
    approx.load_state_dict(hf_model.state_dict())
    idx = torch.randint(0, SMALL["vocab_size"], (2, 16))
    with torch.no_grad():
        assert (approx.eval()(idx).logits - model(idx)[0]).abs().max() > 1e-6


def test_generation_equal():
    model = random_gpt(seed=3)
    hf_model = to_hf(model)
    prompt = torch.tensor([[5, 17, 42, 8]])
    ours = generate(model, prompt, max_new_tokens=12, temperature=0.0)
    theirs = hf_model.generate(prompt, max_new_tokens=12, do_sample=False, pad_token_id=0)
    assert ours.tolist() == theirs.tolist()


def test_reverse_direction_round_trips():
    model = random_gpt(seed=4)
    back = from_hf(to_hf(model))
    assert back.config == model.config
    for name, tensor in model.state_dict().items():
        assert torch.equal(back.state_dict()[name], tensor), name
    assert back.lm_head.weight is back.wte.weight  # tied again


def test_reverse_from_a_fresh_hf_model():
    """A GPT2LMHeadModel built by transformers itself (random weights) converts to the same logits."""
    config = transformers.GPT2Config(vocab_size=50, n_positions=16, n_embd=16, n_layer=2, n_head=4,
                                     activation_function="gelu", resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    torch.manual_seed(0)
    hf_model = transformers.GPT2LMHeadModel(config).eval()
    ours = from_hf(hf_model)
    idx = torch.randint(0, 50, (2, 16))
    with torch.no_grad():
        torch.testing.assert_close(ours(idx)[0], hf_model(idx).logits, atol=1e-5, rtol=1e-4)


def test_reverse_refuses_gpt2s_tanh_gelu():
    config = transformers.GPT2Config(vocab_size=50, n_positions=16, n_embd=16, n_layer=1, n_head=4)
    with pytest.raises(ValueError, match="gelu_new"):
        from_hf(transformers.GPT2LMHeadModel(config))


def test_wrong_shape_state_dict_gets_a_clear_error():
    model = random_gpt()
    hf_model = transformers.GPT2LMHeadModel(to_hf(model).config)
    state = hf_state_dict(model)
    state["transformer.h.0.attn.c_attn.weight"] = state["transformer.h.0.attn.c_attn.weight"].t()  # not transposed
    from nbutils.hf import _load_checked

    with pytest.raises(ValueError, match=r"transformer\.h\.0\.attn\.c_attn\.weight has shape \(48, 16\).*\(16, 48\)"):
        _load_checked(hf_model, state, "GPT2LMHeadModel")
    del state["transformer.ln_f.weight"]
    with pytest.raises(ValueError, match="missing.*ln_f"):
        _load_checked(hf_model, state, "GPT2LMHeadModel")


def test_modern_options_are_refused():
    with pytest.raises(ValueError, match="GPT2LMHeadModel cannot hold"):
        to_hf(random_gpt(norm="rmsnorm"))


def test_names_map_both_ways():
    model = random_gpt()
    hf_names = set(transformers.GPT2LMHeadModel(to_hf(model).config).state_dict())
    for name in model.state_dict():
        assert hf_name(name) in hf_names, name
        assert course_name(hf_name(name)) == name
    assert hf_name("blocks.1.mlp.c_fc.weight") == "transformer.h.1.mlp.c_fc.weight"
    with pytest.raises(KeyError):
        course_name("h.0.ln_1.weight")


def test_tokenizer_files_give_the_same_ids(tmp_path, course_tokenizer):
    from nbutils.world import default_corpus

    tokenizer = course_tokenizer
    save_hf_tokenizer(tokenizer, tmp_path)
    theirs = transformers.GPT2Tokenizer.from_pretrained(str(tmp_path))
    texts = [s.text for s in default_corpus(0).val_stories[:20]]
    texts += ["The cat is on the", "Zxqv'll  don't\n\n  3.14 !!", "中文句子。", "naïve café 🙂", ""]
    for text in texts:
        assert theirs.encode(text) == tokenizer.encode(text), text
        assert theirs.decode(tokenizer.encode(text)) == text


def test_save_hf_folder_loads_offline(tmp_path, course_tokenizer):
    tokenizer = course_tokenizer
    model = random_gpt(vocab_size=tokenizer.vocab_size)
    save_hf(model, tokenizer, tmp_path)
    loaded = transformers.GPT2LMHeadModel.from_pretrained(str(tmp_path), local_files_only=True).eval()
    ids = torch.tensor([tokenizer.encode("Mia walks to the garden.")])
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids).logits, model(ids)[0], atol=1e-5, rtol=1e-4)
