"""Baselines that know nothing of language models: a bag of words and logistic regression.

A strong baseline tells how much a big model actually brings. For sentiment, counting words goes far:
"great" and "awful" decide most reviews. ``BagOfWords`` counts the words of each text over the training
vocabulary (optionally also pairs of neighbouring words, *bigrams*, so that "not bad" is a feature), and
``LogisticRegression`` learns one weight per word. ``BowClassifier`` puts the two together.

``LogisticRegression(solver="lbfgs")`` is also how the course fits the *best* linear head on frozen features
(``nbutils.tasks.classification.last_token_features``): a linear probe.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Sequence

import torch
import torch.nn.functional as F

__all__ = ["BagOfWords", "LogisticRegression", "BowClassifier"]

_WORD = re.compile(r"[a-z]+")


class BagOfWords:
    """Turn texts into vectors of word counts over a fixed vocabulary (the words seen by ``fit``).

    Words are runs of lowercase letters ("It is NOT bad!" -> it, is, not, bad). With ``bigrams=True``
    every pair of neighbouring words ("not bad") is a feature too. Words never seen by ``fit`` are ignored.
    """

    def __init__(self, bigrams: bool = False) -> None:
        self.bigrams = bool(bigrams)
        self.vocabulary: dict[str, int] = {}

    def features(self, text: str) -> list[str]:
        """The words (and bigrams) of one text, in order, with repeats."""
        if not isinstance(text, str):
            raise TypeError(f"a text must be a str, got {type(text).__name__}")
        words = _WORD.findall(text.lower())
        if self.bigrams:
            words = words + [f"{a} {b}" for a, b in zip(words, words[1:])]
        return words

    def fit(self, texts: Sequence[str]) -> "BagOfWords":
        """Learn the vocabulary: every feature of ``texts``, sorted alphabetically."""
        if isinstance(texts, str) or len(texts) == 0:
            raise ValueError("fit needs a non-empty list of texts")
        seen = sorted({feature for text in texts for feature in self.features(text)})
        self.vocabulary = {feature: i for i, feature in enumerate(seen)}
        return self

    def transform(self, texts: Sequence[str]) -> torch.Tensor:
        """A (N, V) float tensor: entry [i, j] counts how often feature j occurs in text i."""
        if not self.vocabulary:
            raise ValueError("call fit(texts) first: the vocabulary is empty")
        if isinstance(texts, str):
            raise TypeError("transform needs a list of texts, not one string: wrap it as [text]")
        counts = torch.zeros(len(texts), len(self.vocabulary))
        for row, text in enumerate(texts):
            for feature, count in Counter(self.features(text)).items():
                column = self.vocabulary.get(feature)
                if column is not None:
                    counts[row, column] = count
        return counts


class LogisticRegression:
    """Binary logistic regression, $p(y=1 \\mid x) = \\sigma(x \\cdot w + b)$.

    The loss is the mean binary cross-entropy plus ``l2 / 2 * |w|^2`` (the bias is not penalised). It is
    convex: there is one minimum, and two ways to get there.

    - ``solver="gd"`` (the default): plain gradient descent, ``steps`` steps of size ``lr``, with the
      gradient written out by hand: with $p = \\sigma(Xw + b)$, $\\nabla_w = X^T (p - y) / N + l_2 w$ and
      $\\partial_b = \\text{mean}(p - y)$. Simple, but slow when features are correlated.
    - ``solver="lbfgs"``: torch's L-BFGS (a quasi-Newton method with a line search, at most ``steps``
      iterations; ``lr`` is not used), which gets to the minimum in far fewer steps. Use it when you need the
      *best* linear classifier on some features, e.g. to probe a model's hidden states.
    """

    def __init__(self, lr: float = 0.5, steps: int = 1000, l2: float = 1e-3, solver: str = "gd") -> None:
        if not lr > 0 or isinstance(steps, bool) or not isinstance(steps, int) or steps < 1 or l2 < 0:
            raise ValueError(f"need lr > 0, steps >= 1 (an int) and l2 >= 0; got lr={lr}, steps={steps}, l2={l2}")
        if solver not in ("gd", "lbfgs"):
            raise ValueError(f"solver must be 'gd' or 'lbfgs', got {solver!r}")
        self.lr, self.steps, self.l2, self.solver = lr, steps, l2, solver
        self.weight: torch.Tensor | None = None
        self.bias = 0.0
        self.final_loss: float | None = None

    def loss(self, X: torch.Tensor, y) -> float:
        """The training objective (mean cross-entropy + the L2 penalty) at the current weights."""
        if self.weight is None:
            raise ValueError("call fit(X, y) first")
        z = torch.as_tensor(X).double() @ self.weight + self.bias
        data = F.binary_cross_entropy_with_logits(z, torch.as_tensor(y).double()).item()
        return data + 0.5 * self.l2 * float(self.weight @ self.weight)

    def fit(self, X: torch.Tensor, y) -> "LogisticRegression":
        """Learn ``weight`` (V,) and ``bias`` from features X (N, V) and 0/1 labels y (N,)."""
        X = torch.as_tensor(X).double()
        y = torch.as_tensor(y).double()
        if X.dim() != 2 or y.shape != (X.shape[0],) or X.shape[0] == 0:
            raise ValueError(f"need X of shape (N, V) and y of shape (N,), N >= 1; got {tuple(X.shape)} and "
                             f"{tuple(y.shape)}")
        if not bool(((y == 0) | (y == 1)).all()):
            raise ValueError("labels must be 0 or 1")
        if self.solver == "gd":
            self.weight, self.bias = self._gradient_descent(X, y)
        else:
            self.weight, self.bias = self._lbfgs(X, y)
        self.final_loss = self.loss(X, y)
        return self

    def _gradient_descent(self, X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, float]:
        n = X.shape[0]
        w = torch.zeros(X.shape[1], dtype=torch.float64)
        b = 0.0
        for _ in range(self.steps):
            error = torch.sigmoid(X @ w + b) - y        # p - y, (N,)
            w = w - self.lr * (X.T @ error / n + self.l2 * w)
            b = b - self.lr * float(error.mean())
        return w, b

    def _lbfgs(self, X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, float]:
        w = torch.zeros(X.shape[1], dtype=torch.float64, requires_grad=True)
        b = torch.zeros((), dtype=torch.float64, requires_grad=True)
        optimizer = torch.optim.LBFGS([w, b], lr=1.0, max_iter=self.steps, line_search_fn="strong_wolfe",
                                      tolerance_grad=1e-10, tolerance_change=1e-14)

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            objective = F.binary_cross_entropy_with_logits(X @ w + b, y) + 0.5 * self.l2 * (w @ w)
            objective.backward()
            return objective

        optimizer.step(closure)
        return w.detach(), float(b.detach())

    def predict_proba(self, X: torch.Tensor) -> torch.Tensor:
        """p(y = 1 | x) for every row of X, (N,)."""
        if self.weight is None:
            raise ValueError("call fit(X, y) first")
        X = torch.as_tensor(X).double()
        if X.dim() != 2 or X.shape[1] != self.weight.shape[0]:
            raise ValueError(f"X must have shape (N, {self.weight.shape[0]}), got {tuple(X.shape)}")
        return torch.sigmoid(X @ self.weight + self.bias)

    def predict(self, X: torch.Tensor) -> torch.Tensor:
        """The class (0 or 1) of every row: 1 where p(y = 1 | x) > 0.5."""
        return (self.predict_proba(X) > 0.5).long()


class BowClassifier:
    """Bag of words + logistic regression: ``BowClassifier().fit(texts, labels).predict(texts)``."""

    def __init__(self, bigrams: bool = False, lr: float = 0.5, steps: int = 1000, l2: float = 1e-3) -> None:
        self.vectoriser = BagOfWords(bigrams=bigrams)
        self.model = LogisticRegression(lr=lr, steps=steps, l2=l2)

    def fit(self, texts: Sequence[str], labels: Sequence[int]) -> "BowClassifier":
        self.model.fit(self.vectoriser.fit(texts).transform(texts), torch.as_tensor(list(labels)))
        return self

    def predict_proba(self, texts: Sequence[str]) -> torch.Tensor:
        return self.model.predict_proba(self.vectoriser.transform(texts))

    def predict(self, texts: Sequence[str]) -> torch.Tensor:
        return self.model.predict(self.vectoriser.transform(texts))

    def top_words(self, k: int = 8) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
        """The k most positive and the k most negative features with their weights."""
        if self.model.weight is None:
            raise ValueError("call fit(texts, labels) first")
        names = list(self.vectoriser.vocabulary)
        order = torch.argsort(self.model.weight)
        negative = [(names[i], float(self.model.weight[i])) for i in order[:k]]
        positive = [(names[i], float(self.model.weight[i])) for i in order.flip(0)[:k]]
        return positive, negative
