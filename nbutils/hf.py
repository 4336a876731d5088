"""The course GPT as a Hugging Face ``transformers`` model, and back (notebook 12).

The course's ``nbutils.model.GPT`` has GPT-2's architecture: learned positions, pre-norm blocks, a fused
query-key-value projection, a 4C MLP, a final LayerNorm and a head tied to the token embedding. So its weights
fit ``transformers.GPT2LMHeadModel`` one to one, with three things to get right:

1. **names**: ours ``blocks.{i}.attn.c_attn.weight``, theirs ``transformer.h.{i}.attn.c_attn.weight``
   (``wte``, ``wpe`` and ``ln_f`` sit under ``transformer.``; see :func:`hf_name`);
2. **layout**: GPT-2 stores its projections as ``Conv1D`` layers whose weight is (in, out), the transpose of
   ``torch.nn.Linear``'s (out, in), so every projection matrix is transposed on the way;
3. **GELU**: the course uses the exact GELU (``torch.nn.GELU()``, with erf), GPT-2 the tanh approximation
   (``activation_function="gelu_new"``). The converted config sets ``activation_function="gelu"``, the exact
   one, so that the logits agree to float rounding (with ``gelu_new`` the world model's logits would differ by
   about 1e-2).

``to_hf(model)`` and ``from_hf(hf_model)`` convert the models; ``save_hf_tokenizer(tokenizer, folder)`` writes
the course's byte-level BPE tokenizer as GPT-2's two files (``vocab.json``, ``merges.txt``), which
``transformers.GPT2Tokenizer.from_pretrained(folder)`` reads; ``save_hf(model, tokenizer, folder)`` writes both.
Nothing here touches the network: loading a local folder needs none.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from nbutils.model import GPT, GPTConfig

__all__ = ["hf_name", "course_name", "hf_config", "to_hf", "from_hf", "hf_state_dict", "course_state_dict",
           "save_hf_tokenizer", "save_hf", "TRANSPOSED"]

#: The projections that GPT-2 stores transposed (Conv1D: weight (in, out)).
TRANSPOSED = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")


def hf_name(name: str) -> str:
    """Our parameter name -> GPT-2's in ``GPT2LMHeadModel``: ``blocks.0.ln_1.weight`` ->
    ``transformer.h.0.ln_1.weight``, ``wte.weight`` -> ``transformer.wte.weight``; ``lm_head.weight`` stays."""
    if name == "lm_head.weight":
        return name
    if name.startswith("blocks."):
        return "transformer.h." + name[len("blocks."):]
    return "transformer." + name


def course_name(name: str) -> str:
    """GPT-2's parameter name -> ours (the inverse of :func:`hf_name`)."""
    if name == "lm_head.weight":
        return name
    if not name.startswith("transformer."):
        raise KeyError(f"{name!r} is not a GPT2LMHeadModel parameter name (they start with 'transformer.')")
    name = name[len("transformer."):]
    return "blocks." + name[len("h."):] if name.startswith("h.") else name


def _check_gpt2_shaped(config: GPTConfig) -> None:
    modern = {k: getattr(config, k) for k, default in (("norm", "layernorm"), ("position", "learned"),
                                                        ("mlp", "gelu")) if getattr(config, k) != default}
    if modern:
        raise ValueError(f"GPT-2 has LayerNorm, learned positions and a GELU MLP; this model has {modern}, "
                         f"which GPT2LMHeadModel cannot hold (a Llama-style model could)")


def hf_config(config: GPTConfig):
    """The ``transformers.GPT2Config`` of a course ``GPTConfig`` (exact GELU, no dropout, eps 1e-5)."""
    from transformers import GPT2Config

    _check_gpt2_shaped(config)
    return GPT2Config(vocab_size=config.vocab_size, n_positions=config.context_length, n_embd=config.n_embd,
                      n_layer=config.n_layer, n_head=config.n_head, activation_function="gelu",
                      resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, layer_norm_epsilon=1e-5,
                      tie_word_embeddings=True, bos_token_id=None, eos_token_id=None, pad_token_id=None)


def hf_state_dict(model: GPT) -> dict[str, torch.Tensor]:
    """Our weights under GPT-2's names and layout (projection matrices transposed). A model without biases
    (``bias=False``) gets zero biases, which change nothing."""
    config = model.config
    _check_gpt2_shaped(config)
    state = {}
    for name, tensor in model.state_dict().items():
        if name == "lm_head.weight":
            continue  # tied to wte: GPT2LMHeadModel ties it again itself
        tensor = tensor.detach().clone()
        state[hf_name(name)] = tensor.t().contiguous() if name.endswith(TRANSPOSED) else tensor
    if not config.bias:  # GPT-2 always has biases: zeros are the same as none
        C = config.n_embd
        sizes = {"ln_1.bias": C, "ln_2.bias": C, "attn.c_attn.bias": 3 * C, "attn.c_proj.bias": C,
                 "mlp.c_fc.bias": 4 * C, "mlp.c_proj.bias": C}
        for i in range(config.n_layer):
            for suffix, size in sizes.items():
                state[f"transformer.h.{i}.{suffix}"] = torch.zeros(size)
        state["transformer.ln_f.bias"] = torch.zeros(C)
    return state


def to_hf(model: GPT):
    """A ``transformers.GPT2LMHeadModel`` (in eval mode, on the CPU) that computes the same logits as ``model``."""
    from transformers import GPT2LMHeadModel

    if not isinstance(model, GPT):
        raise TypeError(f"to_hf converts an nbutils.model.GPT, got {type(model).__name__}")
    hf_model = GPT2LMHeadModel(hf_config(model.config))
    _load_checked(hf_model, {k: v.cpu() for k, v in hf_state_dict(model).items()}, "GPT2LMHeadModel")
    return hf_model.eval()


def _load_checked(target: torch.nn.Module, state: dict[str, torch.Tensor], what: str) -> None:
    """Copy ``state`` into ``target``, saying clearly which names are missing, extra or of the wrong shape."""
    expected = {k: v.shape for k, v in target.state_dict().items() if not k.endswith(".attn.bias")
                and not k.endswith(".attn.masked_bias") and k != "lm_head.weight"}
    problems = []
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if missing:
        problems.append(f"missing {missing[:6]}{' ...' if len(missing) > 6 else ''}")
    if extra:
        problems.append(f"unexpected {extra[:6]}{' ...' if len(extra) > 6 else ''}")
    for name in sorted(set(state) & set(expected)):
        if tuple(state[name].shape) != tuple(expected[name]):
            problems.append(f"{name} has shape {tuple(state[name].shape)} but the {what} needs "
                            f"{tuple(expected[name])}")
    if problems:
        raise ValueError(f"the weights do not fit the {what}: " + "; ".join(problems[:8]))
    target.load_state_dict(state, strict=False)
    if hasattr(target, "tie_weights"):
        target.tie_weights()


def course_state_dict(hf_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """GPT-2's weights under our names and layout (the inverse of :func:`hf_state_dict`); the causal-mask
    buffers some versions of ``transformers`` keep (``attn.bias``, ``attn.masked_bias``) are dropped."""
    state = {}
    for name, tensor in hf_state.items():
        if name.endswith((".attn.bias", ".attn.masked_bias")):
            continue
        ours = course_name(name)
        tensor = tensor.detach().clone()
        state[ours] = tensor.t().contiguous() if ours.endswith(TRANSPOSED) else tensor
    state.setdefault("lm_head.weight", state.get("wte.weight"))
    return state


def from_hf(hf_model) -> GPT:
    """A course ``GPT`` (eval mode, CPU) from a ``GPT2LMHeadModel`` with the exact GELU and a tied head."""
    config = hf_model.config
    if config.activation_function != "gelu":
        raise ValueError(f"the course GPT uses the exact GELU; this model uses "
                         f"activation_function={config.activation_function!r} (GPT-2's own is 'gelu_new', the "
                         f"tanh approximation): its logits would differ")
    if not getattr(config, "tie_word_embeddings", True):
        raise ValueError("the course GPT ties its head to the token embedding; this model does not")
    ours = GPT(GPTConfig(vocab_size=config.vocab_size, context_length=config.n_positions, n_layer=config.n_layer,
                         n_head=config.n_head, n_embd=config.n_embd, dropout=0.0))
    state = course_state_dict(hf_model.state_dict())
    expected = ours.state_dict()
    problems = [f"{k} has shape {tuple(v.shape)} but the GPT needs {tuple(expected[k].shape)}"
                for k, v in state.items() if k in expected and v.shape != expected[k].shape]
    missing = sorted(set(expected) - set(state))
    if problems or missing:
        if missing:
            problems.append(f"missing {missing}")
        raise ValueError("the weights do not fit the course GPT: " + "; ".join(problems[:8]))
    ours.load_state_dict(state)
    return ours.eval()


# ---- the tokenizer -------------------------------------------------------------------------------------------
def save_hf_tokenizer(tokenizer, folder: str | os.PathLike) -> Path:
    """Write a course ``BPETokenizer`` as GPT-2's tokenizer files in ``folder``: ``vocab.json`` (token string ->
    id; each byte written as one character by GPT-2's ``bytes_to_unicode``) and ``merges.txt`` (one merge a
    line, earliest first). GPT-2 applies the merge of lowest rank first, as ``BPETokenizer`` does, and splits
    the text with the same pattern, so both give the same ids."""
    from nbutils.tokenizers.bpe import GPT2_SPLIT_PATTERN, BPETokenizer
    from nbutils.tokenizers.gpt2 import bytes_to_unicode

    if not isinstance(tokenizer, BPETokenizer):
        raise TypeError(f"save_hf_tokenizer writes a BPETokenizer, got {type(tokenizer).__name__}")
    if tokenizer.pattern != GPT2_SPLIT_PATTERN:
        raise ValueError("GPT-2's tokenizer splits text with GPT-2's pattern; this tokenizer uses another one")
    if tokenizer.special_tokens:
        raise ValueError(f"special tokens {sorted(tokenizer.special_tokens)} are not written (the course "
                         f"tokenizer has none)")
    to_char = bytes_to_unicode()

    def text(token_id: int) -> str:
        return "".join(to_char[b] for b in tokenizer.vocab[token_id])

    vocab = {text(i): i for i in sorted(tokenizer.vocab)}
    if len(vocab) != len(tokenizer.vocab):
        raise ValueError("two ids of this tokenizer have the same bytes; GPT-2's vocab.json cannot hold that")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    lines = ["#version: 0.2"] + [f"{text(a)} {text(b)}" for (a, b), _ in tokenizer.merges]
    (folder / "merges.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def save_hf(model: GPT, tokenizer, folder: str | os.PathLike) -> Path:
    """Write ``model`` (as a ``GPT2LMHeadModel``: ``config.json`` + ``model.safetensors``) and its tokenizer
    to ``folder``, which ``from_pretrained(folder)`` then loads without any network."""
    folder = Path(folder)
    to_hf(model).save_pretrained(folder)
    save_hf_tokenizer(tokenizer, folder)
    return folder


def hf_offline() -> dict[str, Any]:
    """Set the environment so that ``transformers`` never tries the network (and say what was set)."""
    settings = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
    os.environ.update(settings)
    return settings
