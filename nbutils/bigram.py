"""The bigram language model: the next token depends only on the current one.

A bigram model is the smallest language model worth training. It answers ``P(next | current)`` from a
table with one row per token of the vocabulary and one column per possible next token. Notebook 02 gets
that table in two ways, and they meet:

- by **counting**: ``bigram_counts(ids, V)`` counts how often token ``b`` follows token ``a``;
  ``bigram_log_probs(counts, smoothing)`` divides each row by its total (the maximum-likelihood estimate),
  after adding ``smoothing`` to every count so that no pair gets probability 0;
- by **training**: ``BigramLanguageModel(V)`` holds a (V, V) table of *logits* (an ``nn.Embedding``) and
  learns it by gradient descent on the cross-entropy loss. ``BigramLanguageModel.from_counts`` fills the
  table with counted log-probabilities instead: a log-probability is a perfectly good logit, because
  ``softmax(log p) = p``.

``bigram_loss(log_probs, ids)`` is the mean cross-entropy (nats per predicted token) of a token sequence
under a table of log-probabilities. The model has the interface of ``nbutils.model.GPT``
(``model(idx, targets) -> (logits, loss)``), so the course's generation and training code can use it as a
baseline.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["bigram_counts", "bigram_log_probs", "bigram_loss", "BigramLanguageModel"]

_INT_DTYPES = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8)


def _check_vocab_size(vocab_size: int) -> None:
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int):
        raise TypeError(f"vocab_size must be an int, got {type(vocab_size).__name__}")
    if vocab_size < 1:
        raise ValueError(f"vocab_size must be at least 1, got {vocab_size}")


def _check_ids(ids: torch.Tensor, vocab_size: int, name: str = "ids", min_length: int = 2) -> None:
    """A 1-D tensor of integer ids in [0, vocab_size), at least ``min_length`` long."""
    if not isinstance(ids, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of token ids, got {type(ids).__name__}")
    if ids.dtype not in _INT_DTYPES:
        raise TypeError(f"{name} must hold integer token ids, got dtype {ids.dtype}")
    if ids.dim() != 1:
        raise ValueError(f"{name} must be a 1-D sequence of token ids, got shape {tuple(ids.shape)}")
    if len(ids) < min_length:
        raise ValueError(f"{name} has {len(ids)} token(s); a bigram needs at least two (a token and the next)")
    low, high = int(ids.min()), int(ids.max())
    if low < 0 or high >= vocab_size:
        bad = low if low < 0 else high
        raise ValueError(f"token id {bad} in {name} is outside [0, {vocab_size}) (vocab_size)")


def bigram_counts(ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """Count consecutive pairs: ``counts[a, b]`` is how often token ``b`` directly follows token ``a``.

    ``ids`` is a 1-D tensor of token ids. Returns a (vocab_size, vocab_size) ``torch.long`` tensor on the
    same device; its entries add up to ``len(ids) - 1``, the number of pairs. For the ids [0, 1, 0, 1] of a
    vocabulary of 2 the pairs are (0, 1), (1, 0), (0, 1), so ``counts`` is [[0, 2], [1, 0]].
    """
    _check_vocab_size(vocab_size)
    _check_ids(ids, vocab_size)
    ids = ids.long()
    pair_index = ids[:-1] * vocab_size + ids[1:]  # one number per pair (a, b): row a, column b
    return torch.bincount(pair_index, minlength=vocab_size * vocab_size).view(vocab_size, vocab_size)


def bigram_log_probs(counts: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
    """Turn a (V, V) table of counts into log P(next = b | current = a), one row per current token.

    Each row is ``log((counts[a] + smoothing) / sum(counts[a] + smoothing))``. With ``smoothing = 0`` a pair
    never seen gets probability 0 (log-probability ``-inf``), and a row never seen at all (a token that
    never had a successor) becomes uniform, 1/V each, rather than 0/0. A small ``smoothing`` such as 0.01
    gives every pair a little probability, so that a new pair in other text does not cost an infinite loss.
    Returns a float32 tensor on the device of ``counts``.
    """
    if not isinstance(counts, torch.Tensor):
        raise TypeError(f"counts must be a torch.Tensor (see bigram_counts), got {type(counts).__name__}")
    if counts.dim() != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"counts must be a square (V, V) table, got shape {tuple(counts.shape)}")
    if counts.shape[0] == 0:
        raise ValueError("counts is empty (a vocabulary of 0 tokens)")
    if isinstance(smoothing, bool) or not isinstance(smoothing, (int, float)):
        raise TypeError(f"smoothing must be a number, got {type(smoothing).__name__}")
    if not smoothing >= 0:  # also rejects NaN
        raise ValueError(f"smoothing must be >= 0, got {smoothing}")
    table = counts.float() + float(smoothing)
    if bool((table < 0).any()):
        raise ValueError("counts must not be negative")
    totals = table.sum(dim=1, keepdim=True)
    empty = totals == 0
    table = torch.where(empty, torch.ones_like(table), table)  # unseen rows: uniform instead of 0/0
    return torch.log(table) - torch.log(table.sum(dim=1, keepdim=True))


def bigram_loss(log_probs: torch.Tensor, ids: torch.Tensor) -> float:
    """Mean cross-entropy, in nats per predicted token, of the sequence ``ids`` under ``log_probs``.

    Every token but the first is predicted from the one before it: the loss is the mean over the
    ``len(ids) - 1`` pairs (a, b) of ``-log_probs[a, b]``. It is ``inf`` if some pair has probability 0.
    """
    if not isinstance(log_probs, torch.Tensor) or not torch.is_floating_point(log_probs):
        raise TypeError("log_probs must be a floating-point torch.Tensor (see bigram_log_probs)")
    if log_probs.dim() != 2 or log_probs.shape[0] != log_probs.shape[1]:
        raise ValueError(f"log_probs must be a square (V, V) table, got shape {tuple(log_probs.shape)}")
    _check_ids(ids, log_probs.shape[0])
    ids = ids.long().to(log_probs.device)
    return float(-log_probs[ids[:-1], ids[1:]].double().mean())


class BigramLanguageModel(nn.Module):
    """A trainable bigram model: row ``a`` of a (V, V) table holds the logits of the token after ``a``.

    The table is an ``nn.Embedding(V, V)``: looking up token ``a`` returns its row, V scores, one per
    possible next token. It starts at zero, so every next token is equally likely (loss ``ln V``).

    ``forward(idx, targets=None)`` takes ids of shape (T,) or (B, T) and returns ``(logits, loss)`` like
    ``nbutils.model.GPT``: logits of shape ``idx.shape + (V,)``, and the mean cross-entropy against
    ``targets`` (same shape as ``idx``; -100 marks positions left out) or ``None`` without targets.
    """

    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        _check_vocab_size(vocab_size)
        self.vocab_size = vocab_size
        self.logits_table = nn.Embedding(vocab_size, vocab_size)
        nn.init.zeros_(self.logits_table.weight)

    @classmethod
    def from_counts(cls, counts: torch.Tensor, smoothing: float = 0.0) -> BigramLanguageModel:
        """A model whose logits are the counted log-probabilities, so its softmax gives back the counted
        probabilities. Needs ``smoothing > 0`` when some pair was never seen (a logit of ``-inf`` would make
        gradients NaN if the model were trained further)."""
        log_probs = bigram_log_probs(counts, smoothing)
        if not bool(torch.isfinite(log_probs).all()):
            raise ValueError("some pairs were never counted: their log-probability is -inf; pass smoothing > 0")
        model = cls(counts.shape[0])
        with torch.no_grad():
            model.logits_table.weight.copy_(log_probs)
        return model.to(counts.device)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        if not isinstance(idx, torch.Tensor) or idx.dtype not in _INT_DTYPES:
            raise TypeError("idx must be a torch.Tensor of integer token ids")
        if idx.dim() not in (1, 2) or idx.numel() == 0:
            raise ValueError(f"idx must have shape (T,) or (B, T) with at least one token, got {tuple(idx.shape)}")
        low, high = int(idx.min()), int(idx.max())
        if low < 0 or high >= self.vocab_size:
            raise ValueError(f"token id {low if low < 0 else high} is outside [0, {self.vocab_size}) (vocab_size)")
        logits = self.logits_table(idx.long())
        if targets is None:
            return logits, None
        if not isinstance(targets, torch.Tensor) or targets.dtype not in _INT_DTYPES:
            raise TypeError("targets must be a torch.Tensor of integer token ids")
        if targets.shape != idx.shape:
            raise ValueError(f"targets must have the same shape as idx {tuple(idx.shape)}, got {tuple(targets.shape)}")
        bad = (targets != -100) & ((targets < 0) | (targets >= self.vocab_size))
        if bool(bad.any()):
            raise ValueError(f"target id {int(targets[bad][0])} is outside [0, {self.vocab_size}); "
                             "use -100 for positions that should not count in the loss")
        loss = F.cross_entropy(logits.reshape(-1, self.vocab_size), targets.reshape(-1).long(), ignore_index=-100)
        return logits, loss
