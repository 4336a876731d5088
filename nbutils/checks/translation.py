"""Checks for the translation notebook: the loss mask, and character n-gram precision and recall."""

from __future__ import annotations

from typing import Any

import torch

from nbutils.checks.core import Case, CheckFailed, describe, run_check
from nbutils.metrics import chrf_statistics
from nbutils.data import IGNORE_INDEX
from nbutils.tasks.translation import mask_prompt

__all__ = ["check_mask_prompt", "check_ngram_precision_recall", "ngram_precision_recall"]


# ------------------------------------------------------------------------------------------- the loss mask
def _as_list(value: Any) -> list | None:
    try:
        return torch.as_tensor(value).tolist()
    except (TypeError, ValueError, RuntimeError):
        return None


def _same_targets(got: Any, expected: torch.Tensor) -> bool:
    return isinstance(got, torch.Tensor) and got.shape == expected.shape and torch.equal(got.long(), expected)


def _masked_first(targets: torch.Tensor, count: int) -> torch.Tensor:
    out = targets.clone()
    out[..., :max(0, count)] = IGNORE_INDEX
    return out


def _diagnose_mask(case: Case, got: Any, expected: torch.Tensor) -> str | None:
    targets, prompt_length = case.args
    if not isinstance(got, torch.Tensor):
        return "return a tensor: a copy of targets with -100 at the prompt positions"
    if got.shape != expected.shape:
        return (f"the result should have the shape of targets {tuple(targets.shape)}: replace values, do not "
                f"cut the prompt positions out (the model needs a target at every position)")
    got = got.long()
    if torch.equal(got, targets):
        return "nothing was masked: set the targets of the prompt positions to -100"
    answer_masked = targets.clone()
    answer_masked[..., prompt_length - 1:] = IGNORE_INDEX
    if torch.equal(got, answer_masked):
        return ("you masked the answer and kept the prompt: it is the other way round. The model should learn to "
                "write the French, so the French targets stay and the prompt's targets become -100")
    for wrong_count, hint in (
            (prompt_length, "off by one: you also masked targets[prompt_length - 1], which is the first answer "
                            "token (position prompt_length - 1 is the last prompt token, and it predicts the "
                            "first French token). Mask targets[:prompt_length - 1]"),
            (prompt_length - 2, "off by one: targets[prompt_length - 2] is still a prompt token (the last one), "
                                "mask it too: targets[:prompt_length - 1]"),
            (prompt_length + 1, "you masked two answer tokens too many: targets[t] is the token *after* position "
                                "t, so only targets[:prompt_length - 1] are prompt tokens")):
        if torch.equal(got, _masked_first(targets, wrong_count)):
            return hint
    changed = got != targets
    if torch.equal(changed, expected != targets) and not (got[changed] == IGNORE_INDEX).all():
        values = sorted({int(v) for v in got[changed].unique()})
        return (f"the right positions are masked, but with {values} instead of -100: -100 is the value that "
                f"cross_entropy (ignore_index) leaves out of the loss")
    if targets.dim() == 2:
        return "with a batch of shape (B, T), mask the first positions of every row: targets[..., :prompt_length - 1]"
    return None


def check_mask_prompt(fn) -> None:
    """Check ``fn(targets, prompt_length) -> masked targets`` against ``nbutils.tasks.translation.mask_prompt``.

    Also checks that ``fn`` leaves its input unchanged (the same targets are often used again).
    """
    name = "mask_prompt"
    arange = torch.arange(101, 111)  # targets 101, 102, ...: the value shows the position
    cases = [
        Case((arange.clone(), 4), label="targets = 101, 102, ..., 110 (10 positions), prompt_length = 4"),
        Case((arange.clone(), 1), label="the same targets, prompt_length = 1 (nothing to mask)"),
        Case((arange.clone(), 10), label="the same targets, prompt_length = 10 (only the last target is answer)"),
        Case((torch.tensor([[5, 6, 7, 8, 9, 10], [15, 16, 17, 18, 19, 20]]), 3),
             label="a batch of two rows [[5..10], [15..20]], prompt_length = 3"),
    ]
    run_check(name, fn, mask_prompt, cases, compare=_same_targets, diagnose=_diagnose_mask)
    original = arange.clone()
    try:
        fn(original, 4)
    except NotImplementedError:  # not written yet: run_check said so, and the notebook uses the course's version
        return
    if not torch.equal(original, arange):
        raise CheckFailed(f"{name}: your function changed the tensor it was given (now {describe(original)}). "
                          f"hint: work on a copy, targets.clone(), so the caller's targets stay as they were")


# ------------------------------------------------------------------------------------------- n-gram overlap
def ngram_precision_recall(hypothesis: str, reference: str, n: int) -> tuple[float, float]:
    """Precision and recall of the character n-grams of one order ``n`` (spaces removed, counts clipped)."""
    counts = chrf_statistics(hypothesis, reference, n)[n - 1]
    return counts.matches / counts.hypothesis, counts.matches / counts.reference


def _close_pair(got: Any, expected: tuple[float, float]) -> bool:
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return False
    try:
        values = [float(v) for v in got]
    except (TypeError, ValueError):
        return False
    return all(abs(a - b) <= 1e-9 for a, b in zip(values, expected))


def _unclipped(hypothesis: str, reference: str, n: int) -> tuple[float, float]:
    hyp, ref = hypothesis.replace(" ", ""), reference.replace(" ", "")
    hyp_grams = [hyp[i:i + n] for i in range(len(hyp) - n + 1)]
    ref_grams = [ref[i:i + n] for i in range(len(ref) - n + 1)]
    return (sum(g in ref_grams for g in hyp_grams) / len(hyp_grams),
            sum(g in hyp_grams for g in ref_grams) / len(ref_grams))


def _diagnose_overlap(case: Case, got: Any, expected: tuple[float, float]) -> str | None:
    hypothesis, reference, n = case.args
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return "return two numbers: (precision, recall)"
    try:
        values = tuple(float(v) for v in got)
    except (TypeError, ValueError):
        return "precision and recall should be numbers between 0 and 1"
    if _close_pair(values, expected[::-1]):
        return ("precision and recall are swapped: precision divides by the hypothesis' n-grams (how much of what "
                "the model wrote is right), recall by the reference's (how much of the reference it found)")
    if _close_pair(values, (100 * expected[0], 100 * expected[1])):
        return "return fractions between 0 and 1, not percentages"
    with_spaces = chrf_statistics(hypothesis, reference, n, whitespace=True)[n - 1]
    if with_spaces.hypothesis and with_spaces.reference and _close_pair(
            values, (with_spaces.matches / with_spaces.hypothesis, with_spaces.matches / with_spaces.reference)):
        return "remove the spaces before cutting the n-grams (text.replace(' ', '')), as chrF does"
    if _close_pair(values, _unclipped(hypothesis, reference, n)):
        return ("clip the counts: an n-gram found twice in the hypothesis but once in the reference matches only "
                "once. Counter(hyp_ngrams) & Counter(ref_ngrams) keeps the smaller count of each n-gram")
    return None


def check_ngram_precision_recall(fn) -> None:
    """Check ``fn(hypothesis, reference, n) -> (precision, recall)`` for one n-gram order."""
    cases = [
        Case(("Le chat", "Le chat", 2), label="identical: 'Le chat' / 'Le chat', n=2"),
        Case(("La chat noir.", "Le chat noir.", 1), label="'La chat noir.' / 'Le chat noir.', n=1"),
        Case(("La chat noir.", "Le chat noir.", 3), label="'La chat noir.' / 'Le chat noir.', n=3"),
        Case(("les toits", "le toit", 2), label="'les toits' / 'le toit', n=2 (different lengths)"),
        Case(("aaaa", "aab", 1), label="'aaaa' / 'aab', n=1 ('a' occurs 4 times in one and 2 times in the other)"),
        Case(("sur le lit", "sous le lit", 4), label="'sur le lit' / 'sous le lit', n=4"),
    ]
    run_check("ngram_precision_recall", fn, ngram_precision_recall, cases, compare=_close_pair,
              diagnose=_diagnose_overlap)
