"""Probes: can a simple classifier read a fact off the model's hidden states? And is that the model's doing?

A *probe* is a small classifier trained to predict a label (where the cat is) from hidden states (the residual
stream at some layer and position). High probe accuracy on held-out stories says the information is there in a
form the probe can read; it does not say the model uses it (that needs an intervention, see
``nbutils.model.patch_hook``). A probe can also score well by memorising surface features, so every probe here
comes with its controls:

- **majority class**: always answer the most common training label;
- **control task** (Hewitt & Liang 2019, "Designing and Interpreting Probes with Control Tasks"): give every
  *word type* a random but fixed label and train the same probe on that. A probe that can learn the control task
  as well as the real one is reading word identity, not the fact; *selectivity* = real accuracy - control
  accuracy;
- **an untrained model** of the same shape (the caller computes its hidden states the same way).

The linear probe is multinomial logistic regression on standardised features, fitted with L-BFGS (a convex
problem: one minimum, found in a few dozen iterations); the small nonlinear probe is a one-hidden-layer MLP
trained with Adam on the whole set.

    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> X = torch.randn(400, 8, generator=g)
    >>> y = (X[:, 0] > 0).long()                        # a label written linearly into the features
    >>> fit_linear_probe(X[:300], y[:300]).accuracy(X[300:], y[300:]) > 0.9
    True
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Hashable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from nbutils.validate import require_float, require_int

__all__ = ["Probe", "fit_linear_probe", "fit_mlp_probe", "control_labels", "majority_accuracy", "ProbeReport",
           "probe_with_controls", "location_classes", "location_label", "ProbeRow", "world_probe_rows",
           "residual_features", "choose_l2"]


def _check_data(X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    X = torch.as_tensor(X)
    y = torch.as_tensor(y)
    if X.dim() != 2 or y.dim() != 1 or X.shape[0] != y.shape[0] or X.shape[0] == 0:
        raise ValueError(f"need features X of shape (N, C) and labels y of shape (N,) with N >= 1, got "
                         f"{tuple(X.shape)} and {tuple(y.shape)}")
    if y.dtype.is_floating_point or y.dtype == torch.bool or (y < 0).any():
        raise ValueError("labels must be non-negative integer class ids (0, 1, 2, ...)")
    return X.double(), y.long()


@dataclass
class Probe:
    """A fitted probe: ``net`` maps standardised features to class logits. ``mean`` and ``std`` are the
    training features' statistics (features are standardised with them, so one L2 penalty suits every layer);
    ``n_classes`` is the number of labels; ``train_accuracy`` how well it fits its own training set."""

    net: nn.Module
    mean: torch.Tensor
    std: torch.Tensor
    n_classes: int
    train_accuracy: float = float("nan")

    @torch.no_grad()
    def logits(self, X: torch.Tensor) -> torch.Tensor:
        X = torch.as_tensor(X).double()
        if X.dim() != 2 or X.shape[1] != self.mean.shape[0]:
            raise ValueError(f"expected features of shape (N, {self.mean.shape[0]}), got {tuple(X.shape)}")
        return self.net((X - self.mean) / self.std)

    def predict(self, X: torch.Tensor) -> torch.Tensor:
        return self.logits(X).argmax(dim=-1)

    def accuracy(self, X: torch.Tensor, y: torch.Tensor) -> float:
        """The share of rows whose label the probe predicts."""
        X, y = _check_data(X, y)
        return (self.predict(X) == y).double().mean().item()


def _standardise(X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    mean = X.mean(dim=0)
    std = X.std(dim=0, unbiased=False).clamp_min(1e-6)
    return (X - mean) / std, mean, std


def fit_linear_probe(X: torch.Tensor, y: torch.Tensor, n_classes: int | None = None, l2: float = 1e-3,
                     max_iter: int = 100) -> Probe:
    """Multinomial logistic regression from features ``X`` (N, C) to labels ``y`` (N,), by L-BFGS.

    The objective is the mean cross-entropy plus ``l2 / 2 * |W|^2`` (biases are not penalised). ``n_classes``
    defaults to ``max(y) + 1``. Deterministic: it starts from zero weights and uses no random numbers.
    """
    X, y = _check_data(X, y)
    n_classes = require_int("n_classes", n_classes if n_classes is not None else int(y.max()) + 1, minimum=2)
    l2 = require_float("l2", l2, minimum=0.0)
    max_iter = require_int("max_iter", max_iter)
    if int(y.max()) >= n_classes:
        raise ValueError(f"label {int(y.max())} is outside [0, {n_classes})")
    Z, mean, std = _standardise(X)
    net = nn.Linear(X.shape[1], n_classes).double()
    nn.init.zeros_(net.weight)
    nn.init.zeros_(net.bias)
    optimiser = torch.optim.LBFGS(net.parameters(), max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = F.cross_entropy(net(Z), y) + 0.5 * l2 * net.weight.pow(2).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    probe = Probe(net.requires_grad_(False), mean, std, n_classes)
    probe.train_accuracy = probe.accuracy(X, y)
    return probe


def fit_mlp_probe(X: torch.Tensor, y: torch.Tensor, n_classes: int | None = None, hidden: int = 64,
                  steps: int = 300, lr: float = 1e-2, l2: float = 1e-4, seed: int = 0) -> Probe:
    """A small nonlinear probe: Linear(C, hidden) -> ReLU -> Linear(hidden, n_classes), trained with Adam
    (weight decay ``l2``) on all of ``X`` at once for ``steps`` steps. Seeded by ``seed``."""
    X, y = _check_data(X, y)
    n_classes = require_int("n_classes", n_classes if n_classes is not None else int(y.max()) + 1, minimum=2)
    hidden, steps = require_int("hidden", hidden), require_int("steps", steps)
    lr, l2 = require_float("lr", lr, minimum=0.0, open_minimum=True), require_float("l2", l2, minimum=0.0)
    Z, mean, std = _standardise(X)
    generator = torch.Generator().manual_seed(require_int("seed", seed, minimum=0))
    net = nn.Sequential(nn.Linear(X.shape[1], hidden), nn.ReLU(), nn.Linear(hidden, n_classes)).double()
    for layer in (net[0], net[2]):
        bound = 1 / layer.in_features ** 0.5
        with torch.no_grad():
            layer.weight.uniform_(-bound, bound, generator=generator)
            layer.bias.uniform_(-bound, bound, generator=generator)
    optimiser = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=l2)
    for _ in range(steps):
        optimiser.zero_grad()
        F.cross_entropy(net(Z), y).backward()
        optimiser.step()
    probe = Probe(net.requires_grad_(False), mean, std, n_classes)
    probe.train_accuracy = probe.accuracy(X, y)
    return probe


def control_labels(types: Sequence[Hashable], labels: Sequence[int], seed: int = 0) -> dict[Hashable, int]:
    """Hewitt & Liang's control task: every distinct word type gets one random label, drawn from the empirical
    distribution of ``labels`` (so the control has the same label frequencies as the real task). Returns the
    map type -> label; label a row with ``mapping[type_of_row]``. Seeded: the same call gives the same map."""
    labels = [int(v) for v in labels]
    if not labels:
        raise ValueError("labels is empty")
    rng = random.Random(require_int("seed", seed, minimum=0))
    return {t: rng.choice(labels) for t in sorted(set(types), key=repr)}


def majority_accuracy(y_train: Sequence[int], y_test: Sequence[int]) -> float:
    """Accuracy on ``y_test`` of always answering the most common label of ``y_train``."""
    y_train, y_test = [int(v) for v in y_train], [int(v) for v in y_test]
    if not y_train or not y_test:
        raise ValueError("need at least one training and one test label")
    majority = Counter(y_train).most_common(1)[0][0]
    return sum(v == majority for v in y_test) / len(y_test)


@dataclass(frozen=True)
class ProbeReport:
    """One probe and its controls, all accuracies in [0, 1] on held-out rows (``train`` on the probe's own rows).
    ``selectivity`` = ``test`` - ``control_test`` (Hewitt & Liang)."""

    train: float
    test: float
    control_train: float
    control_test: float
    majority: float
    n_train: int
    n_test: int

    @property
    def selectivity(self) -> float:
        return self.test - self.control_test


def probe_with_controls(X_train: torch.Tensor, y_train: torch.Tensor, X_test: torch.Tensor, y_test: torch.Tensor,
                        types_train: Sequence[Hashable], types_test: Sequence[Hashable], l2: float = 1e-3,
                        seed: int = 0) -> ProbeReport:
    """Fit a linear probe on the real labels and another on the control task (labels by word type, see
    :func:`control_labels`), and score both on held-out rows, next to the majority class."""
    X_train, y_train = _check_data(X_train, y_train)
    X_test, y_test = _check_data(X_test, y_test)
    if len(types_train) != len(y_train) or len(types_test) != len(y_test):
        raise ValueError("need one word type per row (types_train, types_test)")
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    real = fit_linear_probe(X_train, y_train, n_classes=n_classes, l2=l2)
    mapping = control_labels(list(types_train) + list(types_test), y_train.tolist(), seed=seed)
    c_train = torch.tensor([mapping[t] for t in types_train])
    c_test = torch.tensor([mapping[t] for t in types_test])
    control = fit_linear_probe(X_train, c_train, n_classes=n_classes, l2=l2)
    return ProbeReport(real.train_accuracy, real.accuracy(X_test, y_test), control.train_accuracy,
                       control.accuracy(X_test, c_test), majority_accuracy(y_train.tolist(), y_test.tolist()),
                       len(y_train), len(y_test))


# ---- probing the course's world -------------------------------------------------------------------------------
# The toy world knows, after every sentence, where everything is (``story.states``). These helpers turn stories
# into probe rows (a token position and a label) and read the model's residual stream at those positions.

def location_classes() -> tuple[str, ...]:
    """The labels of a location probe: every place of the world ("on the roof", ...) and the two holders
    ("with girl", "with boy": the story's girl or boy holds it, whoever they are in this story)."""
    from nbutils.world.lexicon import PLACES

    return tuple(place.phrase for place in PLACES.values()) + ("with girl", "with boy")


def location_label(location) -> int:
    """The class id (:func:`location_classes`) of a ``WorldState.where`` value: a Place or "girl"/"boy"."""
    classes = location_classes()
    text = location if isinstance(location, str) else location.phrase
    if text in ("girl", "boy"):
        text = f"with {text}"
    if text not in classes:
        raise ValueError(f"{location!r} is not a location of the world ({len(classes)} classes)")
    return classes.index(text)


@dataclass(frozen=True)
class ProbeRow:
    """One probe example: read the stream of story ``story`` at token ``position`` (in
    ``nbutils.evaluate.encode_story(...).ids``) and predict ``label``.

    ``task``: ``"end:<slot>"`` (the location of the story's pet/group/toy/thing/girl/boy at the last token of
    a sentence), ``"end:holder"`` (which child holds an object, 0 girl / 1 boy, at a sentence end),
    ``"question"`` (the asked entity's location at the question's last token "?"), ``"answer"`` (the same at
    the answer position, the token whose next-token logits start the answer). ``word``: the control task's
    word type (the sentence's last word at sentence ends; the asked entity at questions). ``said_here``: the
    label's place noun (or holder's name) is in this very sentence, so reading the current words suffices.
    ``slot``: the entity's role; ``sentence``: the sentence index."""

    story: int
    position: int
    task: str
    label: int
    word: str
    said_here: bool
    slot: str
    sentence: int


def _label_words(state, location) -> str:
    return location.noun.en if not isinstance(location, str) else state.cast[location].name


def world_probe_rows(stories: Sequence, tokenizer, context_length: int) -> list[ProbeRow]:
    """Every probe row of ``stories`` whose position lies in the first ``context_length`` tokens (one
    forward pass per story reads them all). Labels come from the truth, ``story.states``."""
    from nbutils.evaluate import encode_story, world_questions
    from nbutils.world.corpus import words

    context_length = require_int("context_length", context_length)
    rows: list[ProbeRow] = []
    for k, story in enumerate(stories):
        encoded = encode_story(story, tokenizer)
        n_sep = encoded.first
        stops = encoded.sentence_starts[1:] + [len(encoded.ids) - n_sep]
        for i, (sentence, state) in enumerate(zip(story.sentences, story.states)):
            end = stops[i] - 1
            if end >= context_length:
                break
            sentence_words = words(sentence)
            last_word = [w for w in sentence_words if w.isalpha()][-1]
            for slot, location in state.where.items():
                said = _label_words(state, location) in sentence
                rows.append(ProbeRow(k, end, f"end:{slot}", location_label(location), last_word, said, slot, i))
                if isinstance(location, str) and slot in ("toy", "thing"):
                    rows.append(ProbeRow(k, end, "end:holder", 0 if location == "girl" else 1, last_word, said,
                                         slot, i))
        for q in world_questions(encoded, tokenizer):
            if not q.answerable or q.span[0] - 1 >= context_length:
                continue
            state = story.states[q.sentence - 1]
            slot = state.entity(q.who).slot
            location = state.where[slot]
            label = location_label(location)
            rows.append(ProbeRow(k, stops[q.sentence] - 1, "question", label, q.who, False, slot, q.sentence))
            rows.append(ProbeRow(k, q.span[0] - 1, "answer", label, q.who, False, slot, q.sentence))
    return rows


@torch.no_grad()
def residual_features(model, tokenizer, stories: Sequence, rows: Sequence[ProbeRow],
                      batch_size: int = 16) -> torch.Tensor:
    """The residual stream at every row's position, at every depth: a tensor (n_layer + 1, len(rows), C)
    (depth 0 = the embeddings, depth i = after block i; ``GPT.residual_stream``). Each story is read once,
    from its start, cropped to the model's context (right-padded in batches: the causal mask keeps padding
    from touching earlier positions)."""
    from nbutils.evaluate import encode_story

    batch_size = require_int("batch_size", batch_size)
    context = model.config.context_length
    was_training = model.training
    model.eval()
    by_story: dict[int, list[int]] = {}
    for j, row in enumerate(rows):
        by_story.setdefault(row.story, []).append(j)
    order = sorted(by_story)
    out = torch.zeros(model.config.n_layer + 1, len(rows), model.config.n_embd)
    try:
        for b in range(0, len(order), batch_size):
            chunk = order[b:b + batch_size]
            seqs = [encode_story(stories[k], tokenizer).ids[:context] for k in chunk]
            length = max(len(s) for s in seqs)
            idx = torch.zeros(len(seqs), length, dtype=torch.long)
            for r, s in enumerate(seqs):
                idx[r, :len(s)] = torch.tensor(s)
            stream = torch.stack(model.residual_stream(idx.to(next(model.parameters()).device))).cpu()
            for r, k in enumerate(chunk):
                js = by_story[k]
                out[:, js] = stream[:, r, [rows[j].position for j in js]].float()
    finally:
        model.train(was_training)
    return out


def choose_l2(X: torch.Tensor, y: torch.Tensor, groups: Sequence[int], grid: Sequence[float] = (1e-3, 1e-2, 1e-1, 1.0),
              n_classes: int | None = None, held_out: int = 5) -> tuple[float, dict[float, tuple[float, float]]]:
    """Pick the L2 penalty of a linear probe on the training rows alone: hold out every ``held_out``-th group
    (story), fit on the rest with each penalty of ``grid`` and keep the best held-out accuracy (ties go to the
    larger penalty, the simpler probe). Returns ``(best, {l2: (train accuracy, held-out accuracy)})``."""
    X, y = _check_data(X, y)
    groups = torch.as_tensor(list(groups))
    if groups.shape[0] != y.shape[0]:
        raise ValueError("need one group (story index) per row")
    held = (groups % require_int("held_out", held_out, minimum=2)) == 0
    if held.all() or not held.any():
        raise ValueError("the held-out split is empty or takes every row: use more stories")
    n_classes = n_classes if n_classes is not None else int(y.max()) + 1
    scores: dict[float, tuple[float, float]] = {}
    for l2 in grid:
        probe = fit_linear_probe(X[~held], y[~held], n_classes=n_classes, l2=l2)
        scores[l2] = (probe.train_accuracy, probe.accuracy(X[held], y[held]))
    best = max(sorted(scores, reverse=True), key=lambda l2: scores[l2][1])
    return best, scores
