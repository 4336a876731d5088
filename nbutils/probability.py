"""From scores to probabilities, and how surprised a model is: softmax, cross-entropy, perplexity, entropy.

A language model ends every step with one score (a *logit*) per word of its vocabulary. ``softmax`` turns
those scores into a probability distribution over the next word. ``cross_entropy`` measures how much
probability the model gave to the word that really came next: if the model says p("roof") = 0.9 and the
next word is "roof", the loss is -ln 0.9 ≈ 0.105; had it said 0.01, the loss would have been -ln 0.01 ≈ 4.6.
``perplexity`` turns an average loss back into "the model was as unsure as if it chose uniformly among this
many words", and ``entropy`` measures how spread out a distribution is.

Every function here works on torch tensors and is written step by step so that it can be read; the tests
compare each one with the function torch itself provides.
"""

from __future__ import annotations

import math

import torch

__all__ = ["softmax", "log_softmax", "cross_entropy", "perplexity", "entropy"]


def _check_float_logits(logits: torch.Tensor, name: str = "logits") -> None:
    """Raise a clear error unless ``logits`` is a floating-point tensor with at least one dimension."""
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(logits).__name__}")
    if not torch.is_floating_point(logits):
        raise TypeError(f"{name} must be a floating-point tensor (scores such as 2.3 or -0.7), got dtype "
                        f"{logits.dtype}; convert with {name}.float()")
    if logits.dim() == 0:
        raise ValueError(f"{name} must have at least one dimension (one score per word), got a scalar")


def _check_temperature(temperature: float) -> None:
    if not isinstance(temperature, (int, float)) or isinstance(temperature, bool):
        raise TypeError(f"temperature must be a number, got {type(temperature).__name__}")
    if not temperature > 0:  # also rejects NaN
        raise ValueError(f"temperature must be > 0, got {temperature}; a temperature near 0 means "
                         "'always pick the top word', which is greedy decoding, not a softmax")


def _stable_shift(logits: torch.Tensor, dim: int) -> torch.Tensor:
    """The per-row maximum that is subtracted before ``exp``. A row of only -inf gets 0 instead of -inf,
    so that it stays a row of -inf (and gives NaN like torch does) instead of producing -inf - (-inf)."""
    shift = logits.amax(dim=dim, keepdim=True).detach()
    return torch.where(torch.isfinite(shift), shift, torch.zeros_like(shift))


def softmax(logits: torch.Tensor, dim: int = -1, temperature: float = 1.0) -> torch.Tensor:
    """Turn scores into probabilities along ``dim``: ``exp(x_i / T) / sum_j exp(x_j / T)``.

    The result is positive and sums to 1 along ``dim``. For example the scores [2, 1, 0] become about
    [0.665, 0.245, 0.090]. A model that puts 0.9 on "roof" has a loss of -ln 0.9 ≈ 0.105 when "roof" comes next.

    Numerical stability: ``exp(1000)`` is infinite in float32, so naively the answer would be inf/inf = NaN.
    Subtracting the largest score of each row first changes nothing mathematically (the factor ``exp(-max)``
    cancels between numerator and denominator) but keeps every ``exp`` between 0 and 1.

    ``temperature`` divides the scores first: T < 1 sharpens the distribution, T > 1 flattens it.
    A row made only of -inf has no probability to share out and gives NaN, as ``torch.softmax`` does.
    """
    _check_float_logits(logits)
    _check_temperature(temperature)
    scaled = logits / temperature if temperature != 1.0 else logits
    exps = torch.exp(scaled - _stable_shift(scaled, dim))
    return exps / exps.sum(dim=dim, keepdim=True)


def log_softmax(logits: torch.Tensor, dim: int = -1, temperature: float = 1.0) -> torch.Tensor:
    """The logarithm of ``softmax``, computed without ever forming tiny probabilities.

    ``log p_i = x_i - m - log(sum_j exp(x_j - m))`` with ``m`` the row maximum (the "log-sum-exp trick").
    Taking ``log(softmax(x))`` instead would turn a probability that underflows to 0 into -inf.
    For p("roof") = 0.9 the log-probability is ln 0.9 ≈ -0.105.
    """
    _check_float_logits(logits)
    _check_temperature(temperature)
    scaled = logits / temperature if temperature != 1.0 else logits
    shifted = scaled - _stable_shift(scaled, dim)
    return shifted - torch.log(torch.exp(shifted).sum(dim=dim, keepdim=True))


def cross_entropy(
    logits: torch.Tensor,
    targets: torch.Tensor,
    reduction: str = "mean",
    ignore_index: int = -100,
) -> torch.Tensor:
    """The language-model loss: minus the log-probability the model gave to the token that came next.

    ``logits`` has shape (N, V) (N predictions over a vocabulary of V tokens) or (B, T, V) (a batch of B
    sequences of T positions, the layout a GPT produces). ``targets`` holds the correct token ids, with shape
    (N,) or (B, T). Positions whose target equals ``ignore_index`` (default -100) do not count: they give a
    loss of 0 with ``reduction="none"`` and are left out of the sum and the mean (fine-tuning uses this to
    score only the answer tokens).

    Worked example: the model says p("roof") = 0.9 and the next word is "roof": the loss is -ln 0.9 ≈ 0.105.

    ``reduction``: ``"mean"`` (average over the counted positions; NaN if none counts, like torch),
    ``"sum"``, or ``"none"`` (one loss per position, shaped like ``targets``).

    Note: torch's ``F.cross_entropy`` expects the class dimension second, (B, V, T); this function takes the
    (B, T, V) layout a language model naturally produces.
    """
    _check_float_logits(logits)
    if not isinstance(targets, torch.Tensor):
        raise TypeError(f"targets must be a torch.Tensor of token ids, got {type(targets).__name__}")
    if targets.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
        raise TypeError(f"targets must hold integer token ids, got dtype {targets.dtype}")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    if logits.dim() not in (2, 3):
        raise ValueError(f"logits must have shape (N, V) or (B, T, V), got shape {tuple(logits.shape)}")
    if tuple(targets.shape) != tuple(logits.shape[:-1]):
        raise ValueError(f"targets must have shape {tuple(logits.shape[:-1])} to match logits of shape "
                         f"{tuple(logits.shape)} (one target per row of scores), got {tuple(targets.shape)}")
    vocab_size = logits.shape[-1]
    targets = targets.long()
    counted = targets != ignore_index
    bad = counted & ((targets < 0) | (targets >= vocab_size))
    if bool(bad.any()):
        example = int(targets[bad].flatten()[0])
        raise ValueError(f"target id {example} is outside [0, {vocab_size}) (the vocabulary size is the last "
                         f"dimension of logits); use {ignore_index} to mark positions that should not count")

    log_probs = log_softmax(logits, dim=-1)
    safe_targets = torch.where(counted, targets, torch.zeros_like(targets))  # any valid id; masked below
    picked = log_probs.gather(-1, safe_targets.unsqueeze(-1)).squeeze(-1)     # log p(target) per position
    losses = torch.where(counted, -picked, torch.zeros_like(picked))
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    return losses.sum() / counted.sum()


def perplexity(mean_loss: float | torch.Tensor) -> float | torch.Tensor:
    """``exp(mean cross-entropy)``: the number of equally likely words the model was, on average, choosing from.

    A model that guesses uniformly over V words has loss ln V and perplexity exactly V; a perfect model has
    loss 0 and perplexity 1. A loss of -ln 0.9 ≈ 0.105 gives perplexity 1/0.9 ≈ 1.11.
    Returns a float for a number and a tensor for a tensor. The loss must be in natural-log units (nats).
    """
    if isinstance(mean_loss, torch.Tensor):
        if not torch.is_floating_point(mean_loss):
            raise TypeError(f"mean_loss must be a floating-point tensor, got dtype {mean_loss.dtype}")
        if bool((mean_loss < 0).any()):
            raise ValueError("a cross-entropy loss is never negative; got a negative mean_loss")
        return torch.exp(mean_loss)
    if isinstance(mean_loss, bool) or not isinstance(mean_loss, (int, float)):
        raise TypeError(f"mean_loss must be a number or a tensor, got {type(mean_loss).__name__}")
    if mean_loss < 0:
        raise ValueError(f"a cross-entropy loss is never negative, got {mean_loss}")
    return math.exp(mean_loss)


def entropy(probs: torch.Tensor, base: float = math.e, dim: int = -1) -> torch.Tensor:
    """How uncertain a distribution is: ``H(p) = -sum_i p_i log p_i`` along ``dim``.

    ``base=math.e`` (the default) gives nats, ``base=2`` gives bits. Terms with p_i = 0 count as 0
    (the limit of p log p). A distribution sure of one word has entropy 0; a uniform one over V words has
    entropy log V. ``probs`` must be non-negative and sum to 1 along ``dim`` (within 1e-3).
    """
    if not isinstance(probs, torch.Tensor):
        raise TypeError(f"probs must be a torch.Tensor, got {type(probs).__name__}")
    if not torch.is_floating_point(probs):
        raise TypeError(f"probs must be a floating-point tensor of probabilities, got dtype {probs.dtype}")
    if probs.dim() == 0:
        raise ValueError("probs must have at least one dimension (one probability per outcome)")
    if isinstance(base, bool) or not isinstance(base, (int, float)) or base <= 0 or base == 1:
        raise ValueError(f"base must be a positive number other than 1 (math.e for nats, 2 for bits), got {base!r}")
    if bool((probs < 0).any()):
        raise ValueError("probs contains negative numbers; pass probabilities (for instance softmax(logits))")
    totals = probs.sum(dim=dim)
    if not bool(torch.allclose(totals, torch.ones_like(totals), atol=1e-3, rtol=0)):
        raise ValueError("probs does not sum to 1 along dim; pass a distribution (for instance softmax(logits))")
    terms = torch.where(probs > 0, probs * torch.log(probs), torch.zeros_like(probs))
    nats = -terms.sum(dim=dim)
    return nats / math.log(base) if base != math.e else nats
