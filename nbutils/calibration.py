"""Calibration: does the model's confidence in its answers match how often it is right? (notebook 12)

For every answerable "Where is X?" of a story (``nbutils.evaluate.world_questions``) the model writes its
greedy answer, token by token. Its **confidence** is the probability it gives that greedy answer: the product,
over the answer's tokens, of its largest next-token probability (read from one forward pass over the story, with
the true tokens before each position, as ``nbutils.evaluate.answer_correct`` grades). When the answer is right
this is exactly the probability of the answer it writes; when it is wrong, the first wrong token's probability
is exact and the later ones are read after the true prefix (a close, slightly different quantity).

A model is **calibrated** when, among the answers it gives with confidence about p, a share p is right. Sort the
answers into bins of confidence; in each bin compare the mean confidence with the accuracy (the reliability
diagram); the **expected calibration error** is the mean gap weighted by the bins' sizes (Guo et al. 2017):

    ECE = sum_b (n_b / n) * | accuracy_b - confidence_b |
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import torch

from nbutils.validate import require_int

__all__ = ["AnswerConfidence", "answer_confidences", "reliability_bins", "expected_calibration_error", "Bin"]


@dataclass(frozen=True)
class AnswerConfidence:
    """One answerable question: which story, the confidence of the greedy answer, whether it is right, and
    whether the truth is a child holding the object (``holder``) rather than a place."""

    story: int
    confidence: float
    correct: bool
    holder: bool


@torch.no_grad()
def answer_confidences(model: torch.nn.Module, tokenizer, stories: Iterable) -> list[AnswerConfidence]:
    """The confidence and correctness of every answerable world question in ``stories`` (see the module
    docstring): one forward pass per story (``nbutils.evaluate.story_logits``)."""
    from nbutils.evaluate import answer_correct, encode_story, story_logits, world_questions

    was_training = model.training
    model.eval()
    out: list[AnswerConfidence] = []
    try:
        for index, story in enumerate(stories):
            encoded = encode_story(story, tokenizer)
            logits = story_logits(model, encoded.ids)
            logp = torch.log_softmax(logits.float(), dim=-1)
            for question in world_questions(encoded, tokenizer):
                if not question.answerable:
                    continue
                start, stop = question.span
                confidence = math.exp(logp[start - 1:stop - 1].max(dim=-1).values.sum().item())
                out.append(AnswerConfidence(index, confidence, answer_correct(logits, encoded.ids, question.span),
                                            question.truth.startswith("with ")))
    finally:
        model.train(was_training)
    return out


@dataclass(frozen=True)
class Bin:
    """One confidence bin [low, high): how many answers, their mean confidence and their accuracy
    (NaN for an empty bin)."""

    low: float
    high: float
    count: int
    confidence: float
    accuracy: float


def reliability_bins(confidences: Sequence[float], correct: Sequence[bool], n_bins: int = 10) -> list[Bin]:
    """Equal-width bins of confidence over [0, 1]; a confidence of exactly 1 goes into the last bin."""
    require_int("n_bins", n_bins)
    if len(confidences) != len(correct):
        raise ValueError(f"{len(confidences)} confidences but {len(correct)} correctness flags")
    if any(not 0.0 <= c <= 1.0 for c in confidences):
        raise ValueError("confidences must be probabilities in [0, 1]")
    members: list[list[int]] = [[] for _ in range(n_bins)]
    for i, c in enumerate(confidences):
        members[min(int(c * n_bins), n_bins - 1)].append(i)
    bins = []
    for b, idx in enumerate(members):
        n = len(idx)
        conf = sum(confidences[i] for i in idx) / n if n else math.nan
        acc = sum(bool(correct[i]) for i in idx) / n if n else math.nan
        bins.append(Bin(b / n_bins, (b + 1) / n_bins, n, conf, acc))
    return bins


def expected_calibration_error(confidences: Sequence[float], correct: Sequence[bool], n_bins: int = 10) -> float:
    """ECE: the bins' |accuracy - mean confidence|, weighted by their share of the answers."""
    bins = reliability_bins(confidences, correct, n_bins)
    n = sum(b.count for b in bins)
    if n == 0:
        raise ValueError("no answers to calibrate")
    return sum(b.count / n * abs(b.accuracy - b.confidence) for b in bins if b.count)
