"""Checks for the classification notebook: the classification head, and accuracy.

- ``check_last_token_logits(fn)``: ``fn(hidden, lengths, head) -> logits`` reads each row's last *real*
  token of a right-padded batch and applies the head. Hints for the usual slips: the padding position
  (``hidden[:, -1]``), the off-by-one (``hidden[b, lengths[b]]``), the first token.
- ``check_accuracy(fn)``: ``fn(logits, labels) -> float``, the fraction of rows whose highest logit is
  the label. Hints: comparing the logits themselves (not their argmax), returning a count instead of a
  fraction.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn as nn

from nbutils.checks.core import Case, run_check

__all__ = ["last_token_logits", "accuracy_from_logits", "check_last_token_logits", "check_accuracy"]


# ------------------------------------------------------------------------------------ the head
def last_token_logits(hidden: torch.Tensor, lengths: torch.Tensor, head: nn.Module) -> torch.Tensor:
    """Class logits (B, n_classes): ``head`` applied to ``hidden[b, lengths[b] - 1]`` for every row b."""
    rows = torch.arange(hidden.shape[0])
    return head(hidden[rows, lengths - 1])


def _head(C: int, n_classes: int, seed: int) -> nn.Linear:
    generator_state = torch.get_rng_state()
    torch.manual_seed(seed)
    head = nn.Linear(C, n_classes)
    torch.set_rng_state(generator_state)  # leave the notebook's random numbers alone
    return head


def _hidden(B: int, T: int, C: int, seed: int) -> torch.Tensor:
    return torch.randn(B, T, C, generator=torch.Generator().manual_seed(seed))


def _diagnose_head(case: Case, got: Any, expected: torch.Tensor) -> str | None:
    hidden, lengths, head = case.args
    if not isinstance(got, torch.Tensor):
        return "return a tensor of logits, shape (B, n_classes)"
    if got.shape != expected.shape:
        if got.dim() == 3:
            return ("the answer still has a time dimension: pick ONE position per row (its last real token) "
                    "before or after the head, so that the result is (B, n_classes)")
        return f"the logits should have shape (B, n_classes) = {tuple(expected.shape)}"
    rows = torch.arange(hidden.shape[0])

    def same(positions: torch.Tensor) -> bool:
        positions = positions.clamp(0, hidden.shape[1] - 1)
        with torch.no_grad():
            return bool(torch.allclose(got.detach(), head(hidden[rows, positions]), atol=1e-5))

    if same(torch.full_like(lengths, hidden.shape[1] - 1)):
        return ("you used the last position of the padded batch (hidden[:, -1]); for a review shorter than T "
                "that position is padding. Read position lengths[b] - 1 of row b")
    if same(lengths):
        return ("off by one: a review with lengths[b] = 3 real tokens has them at positions 0, 1, 2, so its "
                "last real token is at lengths[b] - 1")
    if same(torch.zeros_like(lengths)):
        return "you used the first token; the last real token is the one that has read the whole review"
    if same(lengths - 2):
        return "that is one position too early: the last real token is at lengths[b] - 1"
    with torch.no_grad():
        if torch.allclose(got.detach(), hidden[rows, lengths - 1] @ head.weight.T, atol=1e-5):
            return "the head's bias is missing: call head(x) rather than multiplying by its weight"
    return None


def check_last_token_logits(fn: Callable) -> None:
    """Check ``fn(hidden (B, T, C), lengths (B,), head) -> logits (B, n_classes)`` on right-padded batches."""
    cases = [
        Case((_hidden(3, 5, 4, 1), torch.tensor([2, 4, 3]), _head(4, 2, 1)),
             label="B=3, T=5, C=4, lengths [2, 4, 3] (every row has padding), 2 classes"),
        Case((_hidden(4, 6, 8, 2), torch.tensor([6, 1, 3, 5]), _head(8, 3, 2)),
             label="B=4, T=6, C=8, lengths [6, 1, 3, 5] (one full row, one review of a single token), 3 classes"),
        Case((_hidden(2, 3, 4, 3), torch.tensor([3, 3]), _head(4, 2, 3)),
             label="B=2, T=3, lengths [3, 3] (no padding at all)"),
    ]
    run_check("last_token_logits", fn, last_token_logits, cases, diagnose=_diagnose_head)


# ------------------------------------------------------------------------------------ accuracy
def accuracy_from_logits(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The fraction (a float in [0, 1]) of rows whose largest logit sits at the label's index."""
    return (logits.argmax(dim=-1) == labels).float().mean().item()


def _diagnose_accuracy(case: Case, got: Any, expected: float) -> str | None:
    logits, labels = case.args
    n = labels.shape[0]
    if isinstance(got, torch.Tensor):
        if got.numel() != 1:
            return (f"return one number, not a tensor of shape {tuple(got.shape)}: compare argmax with the "
                    f"labels, then take the mean of the matches")
        got = got.item()
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        return "return one number: the fraction of correct predictions"
    if abs(got - expected * n) < 1e-6 and n > 1:
        return (f"you returned the number of correct predictions ({got:g} of {n}); accuracy is the fraction: "
                f"divide by the number of examples")
    max_values = (logits.max(dim=-1).values == labels).float().mean().item()
    raw = (logits == labels[:, None]).float().mean().item()
    if abs(got - raw) < 1e-6 or abs(got - max_values) < 1e-6:
        return ("you compared the logits themselves with the labels; the prediction is the INDEX of the largest "
                "logit, logits.argmax(dim=-1), and that is what should equal the label")
    if not 0.0 <= got <= 1.0:
        return "an accuracy is a fraction between 0 and 1"
    return None


def check_accuracy(fn: Callable) -> None:
    """Check ``fn(logits (N, n_classes), labels (N,)) -> float``."""
    logits_a = torch.tensor([[2.0, -1.0], [0.1, 0.3], [-0.5, 0.5], [1.0, 1.5]])
    logits_b = torch.tensor([[0.2, 1.0, -0.3], [2.0, 0.0, 1.0], [0.0, 0.1, 3.0], [1.0, 2.0, 0.5], [0.0, 0.0, 2.0]])
    logits_c = torch.randn(10, 4, generator=torch.Generator().manual_seed(4))
    cases = [
        Case((logits_a, torch.tensor([0, 1, 0, 1])), label="4 reviews, 2 classes, 3 predicted right"),
        Case((logits_b, torch.tensor([1, 0, 2, 0, 2])), label="5 examples, 3 classes, 4 predicted right"),
        Case((logits_c, logits_c.argmax(dim=-1)), label="10 examples, 4 classes, all right"),
        Case((logits_c, (logits_c.argmax(dim=-1) + 1) % 4), label="10 examples, 4 classes, all wrong"),
    ]
    _keep_the_imported_accuracy(fn)
    run_check("accuracy_from_logits", fn, accuracy_from_logits, cases, diagnose=_diagnose_accuracy)


def _keep_the_imported_accuracy(fn: Callable) -> None:
    """A student who calls the function ``accuracy`` has replaced the notebook's ``accuracy`` (imported from
    ``nbutils.metrics``, which later cells call with predicted classes, not logits). Put the imported one
    back, keep the student's function as ``accuracy_from_logits``, and say so."""
    namespace = getattr(fn, "__globals__", None)
    if getattr(fn, "__name__", None) != "accuracy" or not isinstance(namespace, dict) or namespace.get("accuracy") is not fn:
        return
    from nbutils.metrics import accuracy

    namespace["accuracy"] = accuracy
    namespace["accuracy_from_logits"] = fn
    print("note: your function is called `accuracy`, the name of `nbutils.metrics.accuracy`, which the cells "
          "below call with predicted classes (not logits). Your function is now `accuracy_from_logits` and "
          "`accuracy` is the imported one again.")
