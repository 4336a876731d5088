"""Writing text with a trained model, and scoring how likely a text is.

A language model gives, for the next position, one score (a *logit*) per token of the vocabulary. To write
text we turn the last position's logits into probabilities, pick one token, append it, and repeat. How we
pick decides what the text looks like:

- greedy: always the most likely token (``argmax``). Deterministic, and often repetitive.
- sampling: draw a token at random with its probability. ``temperature`` reshapes the distribution first
  (``logits / t``: below 1 sharper, above 1 flatter, 0 means greedy); ``top_k`` keeps only the k most likely
  tokens; ``top_p`` (nucleus sampling) keeps the smallest set of most likely tokens whose probabilities add
  up to at least p. Filtered tokens get the logit ``-inf``, that is probability 0.

``greedy_until`` is greedy decoding for many prompts at once, each answer stopping at its own stop token (how
``nbutils.tasks.translation`` translates a test set). ``sequence_log_likelihood`` goes the other way: given a
text, how probable does the model find it?

Context: the model reads at most ``context_length`` tokens. ``generate`` feeds it the last
``context_length`` tokens at every step; when the *prompt itself* is longer, a ``UserWarning`` (one line)
says that the beginning of the prompt is not seen.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from typing import Any, Sequence

import torch
import torch.nn as nn

from nbutils.device import device_of
from nbutils.validate import require_int

__all__ = [
    "apply_temperature", "top_k_filter", "top_p_filter", "sample_next", "generate", "generate_text",
    "greedy_until", "sequence_log_likelihood", "next_token_logits", "sampling_distribution",
]


# ------------------------------------------------------------------------------------------- checks
def _check_logits(logits: Any) -> torch.Tensor:
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"logits must be a torch.Tensor, got {type(logits).__name__}")
    if not logits.is_floating_point():
        raise TypeError(f"logits must be floating-point, got dtype {logits.dtype}")
    if logits.dim() == 0 or logits.shape[-1] == 0:
        raise ValueError(f"logits need a last dimension with one entry per token, got shape {tuple(logits.shape)}")
    return logits


def _check_temperature(temperature: Any) -> float:
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise TypeError(f"temperature must be a number, got {type(temperature).__name__}")
    if not temperature >= 0:  # also catches NaN
        raise ValueError(f"temperature must be >= 0 (0 means greedy), got {temperature}")
    return float(temperature)


def _check_top_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"top_k must be an int, got {type(k).__name__}")
    if k < 1:
        raise ValueError(f"top_k must be >= 1 (the number of tokens to keep), got {k}")
    return k


def _check_top_p(p: Any) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)):
        raise TypeError(f"top_p must be a number, got {type(p).__name__}")
    if not 0.0 < p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1] (a probability mass to keep), got {p}")
    return float(p)


# ------------------------------------------------------------------------------------------- filters
def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Divide the logits by ``temperature`` (> 0). t < 1 sharpens the distribution, t > 1 flattens it.

    Temperature 0 is the limit "all probability on the largest logit" and cannot be written as a division;
    ``sample_next`` and ``generate`` treat it as greedy decoding. Here it raises a ValueError.
    """
    _check_logits(logits)
    temperature = _check_temperature(temperature)
    if temperature == 0:
        raise ValueError("temperature 0 means greedy decoding (argmax), which is not a rescaling of the logits; "
                         "use sample_next(..., temperature=0) or greedy=True")
    return logits / temperature


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the ``k`` largest logits along the last dimension, set the others to ``-inf``.

    Logits equal to the k-th largest are all kept (so ties can keep more than k). ``k`` larger than the
    vocabulary keeps everything. Returns a new tensor; the input is not changed.
    """
    _check_logits(logits)
    k = min(_check_top_k(k), logits.shape[-1])
    kth_largest = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth_largest, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filtering: keep the smallest set of most likely tokens whose probabilities sum to >= ``p``.

    Sort the probabilities from large to small and walk down the list adding them up; a token is kept if
    the mass *before* it is still below ``p``. So the token that crosses ``p`` is kept, and the most likely
    token is always kept (the mass before it is 0). Returns a new tensor with ``-inf`` for dropped tokens.
    """
    _check_logits(logits)
    p = _check_top_p(p)
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    sorted_probs = torch.softmax(sorted_logits, dim=-1)
    mass_before = torch.cumsum(sorted_probs, dim=-1) - sorted_probs
    drop_sorted = mass_before >= p
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)  # back to vocabulary order
    return logits.masked_fill(drop, float("-inf"))


def sample_next(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                top_p: float | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """Pick one token id per row of ``logits`` (shape (V,) or (B, V)): temperature, then top-k, then top-p,
    then a random draw. ``temperature=0`` means greedy: the argmax, ignoring top_k, top_p and the generator.

    Returns a long tensor of shape () for (V,) logits, (B,) for (B, V). With a ``generator`` the draw is
    reproducible; its device is where the draw happens (a CPU generator works for logits on any device).
    """
    _check_logits(logits)
    temperature = _check_temperature(temperature)
    if top_k is not None:
        _check_top_k(top_k)
    if top_p is not None:
        _check_top_p(top_p)
    if logits.dim() not in (1, 2):
        raise ValueError(f"logits must have shape (V,) or (B, V), got {tuple(logits.shape)}")
    if temperature == 0:
        return logits.argmax(dim=-1)
    probs = sampling_distribution(logits, temperature, top_k, top_p)
    if generator is not None and generator.device != probs.device:
        probs = probs.to(generator.device)
    choice = torch.multinomial(probs.reshape(-1, probs.shape[-1]), 1, generator=generator)
    return choice.reshape(logits.shape[:-1]).to(logits.device)


# ------------------------------------------------------------------------------------------- generation
def _context_length(model: nn.Module) -> int | None:
    return getattr(getattr(model, "config", None), "context_length", None)


def _as_ids(ids: Any, device: torch.device) -> torch.Tensor:
    """A prompt as a (B, T) long tensor on ``device``; accepts a list of ints, a 1-D or a 2-D tensor."""
    if isinstance(ids, torch.Tensor):
        if ids.dtype.is_floating_point or ids.dtype == torch.bool:
            raise TypeError(f"token ids must be integers, got dtype {ids.dtype}")
        tensor = ids.long()
    elif isinstance(ids, (list, tuple)):
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise TypeError("a prompt given as a list must hold int token ids")
        tensor = torch.tensor(list(ids), dtype=torch.long)
    else:
        raise TypeError(f"the prompt must be a list of ids or a tensor, got {type(ids).__name__}")
    if tensor.dim() == 1:
        tensor = tensor.unsqueeze(0)
    if tensor.dim() != 2:
        raise ValueError(f"the prompt must have shape (T,) or (B, T), got {tuple(tensor.shape)}")
    if tensor.shape[1] == 0:
        raise ValueError("the prompt is empty: give at least one token to start from")
    return tensor.to(device)


def _next_logits(model: nn.Module, idx: torch.Tensor) -> torch.Tensor:
    out = model(idx)
    logits = out[0] if isinstance(out, (tuple, list)) else out
    return logits[:, -1, :]


@torch.no_grad()
def generate(model: nn.Module, idx: Sequence[int] | torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None, greedy: bool = False,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """Append ``max_new_tokens`` tokens to the prompt ``idx``, one at a time, and return prompt + new tokens.

    ``idx``: a list of ids or a 1-D tensor (returns a 1-D tensor), or a (B, T) tensor (returns (B, T + new)).
    ``greedy=True`` (or ``temperature=0``) always takes the most likely token; otherwise tokens are sampled
    (see ``sample_next``; pass a seeded ``torch.Generator`` for the same text every time). The model sees the
    last ``context_length`` tokens at each step; a prompt longer than that triggers one ``UserWarning``.
    The model is put in eval mode (no dropout) while generating, and back in its previous mode afterwards.
    """
    require_int("max_new_tokens", max_new_tokens, minimum=0)
    temperature = _check_temperature(temperature)
    if top_k is not None:
        _check_top_k(top_k)
    if top_p is not None:
        _check_top_p(top_p)
    one_sequence = not (isinstance(idx, torch.Tensor) and idx.dim() == 2)
    ids = _as_ids(idx, device_of(model))
    context = _context_length(model)
    if context is not None and ids.shape[1] > context:
        warnings.warn(f"the prompt has {ids.shape[1]} tokens but the model reads at most {context}: "
                      f"only its last {context} tokens are used", UserWarning, stacklevel=2)
    was_training = model.training
    model.eval()
    try:
        for _ in range(max_new_tokens):
            window = ids if context is None else ids[:, -context:]
            logits = _next_logits(model, window)
            if greedy or temperature == 0:
                next_id = logits.argmax(dim=-1)
            else:
                next_id = sample_next(logits, temperature, top_k, top_p, generator)
            ids = torch.cat([ids, next_id.view(-1, 1)], dim=1)
    finally:
        model.train(was_training)
    return ids[0] if one_sequence else ids


def generate_text(model: nn.Module, tokenizer: Any, prompt: str, max_new_tokens: int = 200, *,
                  include_prompt: bool = True, **sampling: Any) -> str:
    """Encode ``prompt``, ``generate`` (``sampling``: temperature, top_k, top_p, greedy, generator) and decode.

    Returns the prompt followed by the new text, or only the new text with ``include_prompt=False``.
    """
    if not isinstance(prompt, str):
        raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
    if not prompt:
        raise ValueError("the prompt is empty: give at least one character to start from")
    prompt_ids = tokenizer.encode(prompt)
    if not prompt_ids:
        raise ValueError(f"the tokenizer turned the prompt {prompt!r} into no tokens")
    ids = generate(model, list(prompt_ids), max_new_tokens, **sampling).tolist()
    return tokenizer.decode(ids if include_prompt else ids[len(prompt_ids):])


@torch.no_grad()
def greedy_until(model: nn.Module, prompts: Sequence[Sequence[int]], stop_id: int, max_new_tokens: int,
                 batch_size: int = 256) -> list[list[int]]:
    """Greedy continuations of many prompts, each until it writes ``stop_id``; returns the new ids of every
    prompt (without the stop token), in the order of ``prompts``.

    Prompts with the same number of tokens are decoded together, ``batch_size`` at a time, so no padding is
    needed and a prompt's answer does not depend on the other prompts. A row that has written ``stop_id`` is
    done; the batch stops when every row is done, or after ``max_new_tokens`` tokens, or when the context is
    full (a prompt must leave room for at least one new token). Runs in eval mode.
    """
    if isinstance(prompts, (str, torch.Tensor)) or len(prompts) == 0:
        raise ValueError("prompts must be a non-empty list of id lists")
    max_new_tokens = require_int("max_new_tokens", max_new_tokens)
    batch_size = require_int("batch_size", batch_size)
    device = device_of(model)
    context = _context_length(model)
    by_length: dict[int, list[int]] = defaultdict(list)
    for index, prompt in enumerate(prompts):
        by_length[len(prompt)].append(index)
    answers: list[list[int]] = [[] for _ in prompts]
    was_training = model.training
    model.eval()
    try:
        for length, indices in sorted(by_length.items()):
            limit = max_new_tokens
            if context is not None:
                if length >= context:
                    raise ValueError(f"a prompt has {length} tokens; the model reads at most {context}, which "
                                     f"leaves no room for a new token")
                limit = min(max_new_tokens, context - length)
            for start in range(0, len(indices), batch_size):
                chunk = indices[start:start + batch_size]
                ids = torch.cat([_as_ids(list(prompts[i]), device) for i in chunk])
                done = torch.zeros(len(chunk), dtype=torch.bool, device=device)
                new: list[torch.Tensor] = []
                for _ in range(limit):
                    next_id = _next_logits(model, ids).argmax(dim=-1)
                    next_id = torch.where(done, torch.full_like(next_id, stop_id), next_id)
                    new.append(next_id)
                    done |= next_id == stop_id
                    if bool(done.all()):
                        break
                    ids = torch.cat([ids, next_id[:, None]], dim=1)
                for i, row in zip(chunk, torch.stack(new, dim=1).tolist()):
                    answers[i] = row[:row.index(stop_id)] if stop_id in row else row
    finally:
        model.train(was_training)
    return answers


# ------------------------------------------------------------------------------------------- scoring
@torch.no_grad()
def sequence_log_likelihood(model: nn.Module, ids: Sequence[int] | torch.Tensor,
                            prompt_length: int = 1) -> tuple[float, torch.Tensor]:
    """How probable the model finds a text: ``(total log-probability, per-token log-probabilities)``.

    ``log P(ids[prompt_length:] | ids[:prompt_length])`` = the sum over positions t >= prompt_length of
    ``log p(ids[t] | ids[:t])``, in nats (natural log). The first ``prompt_length`` tokens (at least one: the
    model needs something to predict from) are given, not scored. ``per_token[i]`` belongs to
    ``ids[prompt_length + i]``. The whole text must fit in the model's context (``len(ids) <= context_length
    + 1``). Runs in eval mode (no dropout).
    """
    tensor = _as_ids(ids, device_of(model))
    if tensor.shape[0] != 1:
        raise ValueError(f"score one sequence at a time (a list or 1-D tensor), got shape {tuple(tensor.shape)}")
    tensor = tensor[0]
    require_int("prompt_length", prompt_length)
    if len(tensor) <= prompt_length:
        raise ValueError(f"nothing to score: the sequence has {len(tensor)} tokens and the first "
                         f"{prompt_length} are the given prompt")
    context = _context_length(model)
    if context is not None and len(tensor) - 1 > context:
        raise ValueError(f"the sequence has {len(tensor)} tokens but the model reads at most {context}: "
                         f"score at most context_length + 1 = {context + 1} tokens")
    was_training = model.training
    model.eval()
    try:
        out = model(tensor[:-1].unsqueeze(0))
    finally:
        model.train(was_training)
    logits = (out[0] if isinstance(out, (tuple, list)) else out)[0].float()  # (T-1, V): position t predicts t+1
    log_probs = torch.log_softmax(logits, dim=-1)
    targets = tensor[1:]
    per_token = log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)[prompt_length - 1:]
    return per_token.sum().item(), per_token.cpu()


# ------------------------------------------------------------------------------------------- inspection
@torch.no_grad()
def next_token_logits(model: nn.Module, ids: Sequence[int] | torch.Tensor) -> torch.Tensor:
    """The model's logits for the token after ``ids`` (a list or 1-D tensor): a float (V,) tensor on the CPU.

    Like one step of ``generate``: in eval mode, on the model's device, reading the last ``context_length``
    tokens (the caller says so when it crops a prompt).
    """
    tensor = _as_ids(ids, device_of(model))
    if tensor.shape[0] != 1:
        raise ValueError(f"give one sequence (a list or 1-D tensor), got shape {tuple(tensor.shape)}")
    context = _context_length(model)
    was_training = model.training
    model.eval()
    try:
        logits = _next_logits(model, tensor if context is None else tensor[:, -context:])
    finally:
        model.train(was_training)
    return logits[0].float().cpu()


def sampling_distribution(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                          top_p: float | None = None) -> torch.Tensor:
    """The probabilities ``sample_next`` draws from for these settings: temperature, then top-k, then top-p,
    then softmax; removed tokens get probability 0. ``temperature=0`` (greedy): all of it on the argmax."""
    _check_logits(logits)
    temperature = _check_temperature(temperature)
    if temperature == 0:
        return torch.nn.functional.one_hot(logits.argmax(dim=-1), logits.shape[-1]).float()
    logits = apply_temperature(logits.float(), temperature)
    if top_k is not None:
        logits = top_k_filter(logits, _check_top_k(top_k))
    if top_p is not None:
        logits = top_p_filter(logits, _check_top_p(top_p))
    return torch.softmax(logits, dim=-1)
