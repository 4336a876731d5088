"""Fine-tuning the course GPT for classification, and a bag-of-words baseline to compare it with.

A language model ends with a head that scores every token of the vocabulary. For a classification task
(is this review positive or negative?) we keep everything up to the final LayerNorm, the *body*, and put a
new, small head on top: one Linear layer from the width C of the residual stream to the number of classes::

    token ids (B, T)  -> GPT body (embeddings, blocks, final LayerNorm) -> hidden states (B, T, C)
                      -> the hidden state of each review's LAST real token   (B, C)
                      -> Linear(C, n_classes)                                 logits (B, n_classes)

Why the last token: attention is causal, so position t has only seen tokens 0..t. The last token of a
review is the only position that has read the whole review.

Padding: reviews have different lengths, but a batch is one rectangular tensor. We *right-pad*: the real
tokens come first and the row is filled up with ``pad_id`` after them. Because attention is causal, a real
token never looks at the padding that comes after it, so its hidden state is exactly what it would be
without any padding (positions are unchanged too). The classifier then reads position ``length - 1`` of
each row. (Left padding would move every real token to a later position and let it attend to the pads,
unless an attention mask were added; right padding needs no mask.) The pad id can be any valid id: no
real token ever sees it. The course tokenizer has no special padding token, so ``pad_id=0`` it is.

Two ways to fine-tune:

- everything (``freeze_body=False``): the body's weights move too, usually with a small learning rate;
- head only (``freeze_body=True``): the body is fixed; only ``C * n_classes + n_classes`` numbers learn.
  This tests how much of the task the pretrained features already make linearly readable. Since those
  features never change, ``last_token_features`` can compute them once, and ``LogisticRegression`` (with
  ``solver="lbfgs"``) fits the best linear head on them directly.

The baseline: ``BagOfWords`` counts the words of each text over the training vocabulary (optionally also
pairs of neighbouring words, *bigrams*), and ``LogisticRegression`` learns one weight per word by plain
gradient descent. ``BowClassifier`` puts the two together.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from nbutils.device import device_of, pick_device
from nbutils.model import GPT

__all__ = [
    "hidden_states", "encode_texts", "pad_batch", "last_token_states", "GPTClassifier", "train_classifier",
    "predict", "predict_proba", "last_token_features", "last_word_positions", "pooled_features", "accuracy",
    "confusion_matrix",
    "BagOfWords", "LogisticRegression", "BowClassifier",
]


# ------------------------------------------------------------------------------------------ the body
def hidden_states(gpt: GPT, idx: torch.Tensor) -> torch.Tensor:
    """The GPT's hidden states after the final LayerNorm, (B, T, C), *with* gradients.

    This is ``GPT.forward`` without the LM head: embeddings, every block, the final LayerNorm. (The GPT's
    ``residual_stream`` method gives the same stream but runs without gradients, for probes; fine-tuning
    needs gradients to flow into the body.) ``gpt.lm_head(hidden_states(gpt, idx))`` equals ``gpt(idx)[0]``.
    """
    if not isinstance(gpt, GPT):
        raise TypeError(f"hidden_states needs a nbutils.model.GPT, got {type(gpt).__name__}")
    _check_ids(idx, gpt.config.vocab_size, gpt.config.context_length)
    positions = torch.arange(idx.shape[1], device=idx.device)
    x = gpt.drop(gpt.wte(idx) + gpt.wpe(positions))
    for block in gpt.blocks:
        x, _ = block(x)
    return gpt.ln_f(x)


def _check_ids(idx: torch.Tensor, vocab_size: int, context_length: int) -> None:
    if not isinstance(idx, torch.Tensor):
        raise TypeError(f"idx must be a torch.Tensor of token ids, got {type(idx).__name__}")
    if idx.dtype.is_floating_point or idx.dtype == torch.bool:
        raise TypeError(f"idx must hold integer token ids, got dtype {idx.dtype}")
    if idx.dim() != 2 or idx.shape[1] == 0:
        raise ValueError(f"idx must have shape (B, T) with T >= 1, got {tuple(idx.shape)}")
    if idx.shape[1] > context_length:
        raise ValueError(f"sequence length {idx.shape[1]} exceeds the model's context_length {context_length}")
    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= vocab_size):
        raise ValueError(f"token ids must be in [0, {vocab_size}), got ids from {int(idx.min())} to {int(idx.max())}")


# ------------------------------------------------------------------------------------------ batches
def encode_texts(tokenizer, texts: Sequence[str], context_length: int | None = None) -> list[list[int]]:
    """Token ids of every text. A text longer than ``context_length`` keeps its LAST ``context_length``
    tokens (the end of a review, after "but", is what decides it). Empty texts are refused."""
    if isinstance(texts, str):
        raise TypeError("texts must be a list of strings, not one string: wrap it as [text]")
    encoded = []
    for number, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{number}] must be a str, got {type(text).__name__}")
        ids = tokenizer.encode(text)
        if not ids:
            raise ValueError(f"texts[{number}] is empty: a review needs at least one token")
        encoded.append(ids[-context_length:] if context_length is not None else ids)
    return encoded


def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int = 0,
              device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad id lists into one (B, T) tensor, T the longest length; returns ``(ids, lengths)``.

    >>> ids, lengths = pad_batch([[5, 6, 7], [8]], pad_id=0)
    >>> ids.tolist(), lengths.tolist()
    ([[5, 6, 7], [8, 0, 0]], [3, 1])
    """
    if len(sequences) == 0:
        raise ValueError("pad_batch needs at least one sequence")
    lengths = [len(s) for s in sequences]
    if min(lengths) == 0:
        raise ValueError(f"sequence {lengths.index(0)} is empty; every row needs at least one real token")
    ids = torch.full((len(sequences), max(lengths)), pad_id, dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, :len(seq)] = torch.as_tensor(list(seq), dtype=torch.long)
    return ids.to(device), torch.tensor(lengths, dtype=torch.long, device=device)


def last_token_states(hidden: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The hidden state of each row's last real token: ``hidden[b, lengths[b] - 1]``, shape (B, C).

    ``hidden`` is (B, T, C) for a right-padded batch, ``lengths`` (B,) the number of real tokens per row.
    (``hidden[:, -1]`` would be wrong: for a short review that position is padding.)
    """
    if hidden.dim() != 3:
        raise ValueError(f"hidden must have shape (B, T, C), got {tuple(hidden.shape)}")
    lengths = torch.as_tensor(lengths, device=hidden.device)
    if lengths.shape != (hidden.shape[0],):
        raise ValueError(f"lengths must have shape ({hidden.shape[0]},), one length per row; "
                         f"got {tuple(lengths.shape)}")
    if int(lengths.min()) < 1 or int(lengths.max()) > hidden.shape[1]:
        raise ValueError(f"every length must be between 1 and T={hidden.shape[1]}, got {lengths.tolist()}")
    rows = torch.arange(hidden.shape[0], device=hidden.device)
    return hidden[rows, lengths.long() - 1]


# ------------------------------------------------------------------------------------------ the classifier
class GPTClassifier(nn.Module):
    """A GPT body with a classification head on the last real token.

    ``gpt`` is used as it is (not copied): fine-tuning changes its weights. Pass a copy
    (``copy.deepcopy(model)``) to keep the original. With ``freeze_body=True`` the body's parameters get
    ``requires_grad=False`` and only ``head`` learns (set ``requires_grad`` back on some of them, e.g. the
    last block's, to fine-tune those too).
    """

    def __init__(self, gpt: GPT, n_classes: int = 2, freeze_body: bool = False) -> None:
        super().__init__()
        if not isinstance(gpt, GPT):
            raise TypeError(f"GPTClassifier needs a nbutils.model.GPT as body, got {type(gpt).__name__}")
        if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 2:
            raise ValueError(f"n_classes must be an int >= 2, got {n_classes!r}")
        self.body = gpt
        self.n_classes = n_classes
        self.head = nn.Linear(gpt.config.n_embd, n_classes)
        nn.init.normal_(self.head.weight, mean=0.0, std=0.02)  # like every Linear of the GPT
        nn.init.zeros_(self.head.bias)
        self.head.to(device_of(gpt))
        for p in self.body.parameters():
            p.requires_grad_(not freeze_body)

    @property
    def context_length(self) -> int:
        return self.body.config.context_length

    @property
    def body_frozen(self) -> bool:
        """True when no parameter of the body learns (then the body runs without gradients: quicker)."""
        return not any(p.requires_grad for p in self.body.parameters())

    def features(self, idx: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The (B, C) hidden states the head reads."""
        if self.body_frozen:
            with torch.no_grad():
                return last_token_states(hidden_states(self.body, idx), lengths)
        return last_token_states(hidden_states(self.body, idx), lengths)

    def forward(self, idx: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Class logits (B, n_classes) for a right-padded batch ``idx`` (B, T) with ``lengths`` (B,) real
        tokens per row; ``lengths=None`` means no padding (every row has T tokens)."""
        if lengths is None:
            _check_ids(idx, self.body.config.vocab_size, self.context_length)
            lengths = torch.full((idx.shape[0],), idx.shape[1], dtype=torch.long, device=idx.device)
        return self.head(self.features(idx, lengths))

    def num_trainable(self) -> int:
        """How many numbers fine-tuning changes."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


def _check_labels(labels: Sequence[int], n: int, n_classes: int) -> torch.Tensor:
    labels = torch.as_tensor(list(labels), dtype=torch.long)
    if labels.shape != (n,):
        raise ValueError(f"there are {n} texts but {labels.numel()} labels")
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= n_classes):
        raise ValueError(f"labels must be class numbers in [0, {n_classes}), got {sorted(set(labels.tolist()))}")
    return labels


def train_classifier(classifier: GPTClassifier, texts: Sequence[str], labels: Sequence[int], tokenizer, *,
                     steps: int | None = None, epochs: int | None = None, lr: float = 1e-3,
                     batch_size: int = 32, weight_decay: float = 0.01, warmup_steps: int | None = None,
                     seed: int = 0, device: torch.device | str | None = None, pad_id: int = 0) -> list[float]:
    """Fine-tune ``classifier`` on labelled texts with the cross-entropy loss; returns the loss of every step.

    Give either ``steps`` or ``epochs`` (one epoch = every text once, in batches of ``batch_size``). The
    batches walk through shuffled copies of the data (a new order every epoch, from ``seed``). The
    optimiser and the learning-rate schedule are the course's: ``nbutils.train.make_optimizer`` (AdamW, no
    decay on biases and LayerNorms) and ``nbutils.train.lr_at`` (linear warm-up, cosine decay to lr / 10).
    """
    from nbutils.train import TrainConfig, lr_at, make_optimizer

    if not isinstance(classifier, GPTClassifier):
        raise TypeError(f"train_classifier needs a GPTClassifier, got {type(classifier).__name__}")
    if (steps is None) == (epochs is None):
        raise ValueError("give exactly one of steps= or epochs=")
    n = len(texts)
    if n == 0:
        raise ValueError("there are no texts to train on")
    y_all = _check_labels(labels, n, classifier.n_classes)
    batch_size = min(batch_size, n)
    if steps is None:
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"epochs must be a positive int, got {epochs!r}")
        steps = epochs * math.ceil(n / batch_size)
    if warmup_steps is None:
        warmup_steps = min(20, steps // 10)
    cfg = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, min_lr=lr / 10, warmup_steps=warmup_steps,
                      weight_decay=weight_decay, grad_clip=1.0, seed=seed, device="auto")
    target = pick_device(None if device is None else str(device))
    classifier.to(target)
    encoded = encode_texts(tokenizer, texts, classifier.context_length)
    optimizer = make_optimizer(classifier, cfg)
    generator = torch.Generator().manual_seed(seed)
    order: list[int] = []
    losses: list[float] = []
    classifier.train()
    if classifier.body_frozen:
        classifier.body.eval()  # a frozen body keeps dropout off
    for step in range(steps):
        if len(order) < batch_size:  # start a new epoch (the leftover of the old one goes first)
            order += torch.randperm(n, generator=generator).tolist()
        chosen, order = order[:batch_size], order[batch_size:]
        idx, lengths = pad_batch([encoded[i] for i in chosen], pad_id, target)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, cfg)
        loss = F.cross_entropy(classifier(idx, lengths), y_all[chosen].to(target))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_([p for p in classifier.parameters() if p.requires_grad], cfg.grad_clip)
        optimizer.step()
        losses.append(loss.item())
    classifier.eval()
    return losses


@torch.no_grad()
def predict_proba(classifier: GPTClassifier, texts: Sequence[str], tokenizer, batch_size: int = 256,
                  pad_id: int = 0) -> torch.Tensor:
    """Class probabilities (N, n_classes) for every text (on the CPU), in eval mode."""
    if len(texts) == 0:
        raise ValueError("there are no texts to classify")
    was_training = classifier.training
    classifier.eval()
    device = device_of(classifier)
    encoded = encode_texts(tokenizer, texts, classifier.context_length)
    # sorting by length keeps the padding in each batch small; the answers go back to the input order
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    probs = torch.empty(len(encoded), classifier.n_classes)
    try:
        for start in range(0, len(order), batch_size):
            chosen = order[start:start + batch_size]
            idx, lengths = pad_batch([encoded[i] for i in chosen], pad_id, device)
            probs[chosen] = torch.softmax(classifier(idx, lengths).float(), dim=-1).cpu()
    finally:
        classifier.train(was_training)
    return probs


@torch.no_grad()
def last_token_features(gpt: GPT, texts: Sequence[str], tokenizer, batch_size: int = 256,
                        pad_id: int = 0) -> torch.Tensor:
    """The hidden state (after the final LayerNorm) of each text's last token: a (N, C) tensor on the CPU.

    These are exactly the vectors a classification head on a *frozen* body reads, so with a frozen body they
    can be computed once and any linear classifier fitted on them (see ``LogisticRegression``)."""
    return pooled_features(gpt, texts, tokenizer, "last", batch_size=batch_size, pad_id=pad_id)


def last_word_positions(tokenizer, texts: Sequence[str], words: Sequence[str]) -> list[int | None]:
    """For each text, the index of the token that ends the *last* occurrence of any of ``words`` (whole
    words, case-insensitive), or ``None`` when the text contains none of them.

    Token boundaries come from ``tokenizer.token_str``: the token strings of a text must add up to the text
    (true for the course tokenizers). "I do not hate it." with ``words=["hate"]`` gives the position of " hate".
    """
    if not words:
        raise ValueError("need at least one word")
    pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b", flags=re.IGNORECASE)
    positions: list[int | None] = []
    for text in texts:
        ids = tokenizer.encode(text)
        pieces = [tokenizer.token_str(i) for i in ids]
        if "".join(pieces) != text:
            raise ValueError(f"the token strings of {text!r} do not add up to the text")
        found = list(pattern.finditer(text))
        if not found:
            positions.append(None)
            continue
        end = found[-1].end()  # the character just after the word
        position, covered = 0, 0
        for position, piece in enumerate(pieces):
            covered += len(piece)
            if covered >= end:
                break
        positions.append(position)
    return positions


@torch.no_grad()
def pooled_features(gpt: GPT, texts: Sequence[str], tokenizer, pooling: str = "last",
                    positions: Sequence[int | None] | None = None, batch_size: int = 256,
                    pad_id: int = 0) -> torch.Tensor:
    """One vector per text from the frozen body's hidden states (after the final LayerNorm), (N, C) on the CPU.

    ``pooling="last"``: the last real token (as ``last_token_features``); ``"mean"``: the average over the
    real tokens (never the padding); ``"position"``: the token at ``positions[i]`` of text ``i`` (e.g. from
    ``last_word_positions``; ``None`` falls back to the last real token).
    """
    if pooling not in ("last", "mean", "position"):
        raise ValueError(f"pooling must be 'last', 'mean' or 'position', got {pooling!r}")
    if len(texts) == 0:
        raise ValueError("there are no texts")
    if (pooling == "position") != (positions is not None):
        raise ValueError("positions go with pooling='position' (and only with it)")
    if positions is not None and len(positions) != len(texts):
        raise ValueError(f"{len(positions)} positions for {len(texts)} texts")
    was_training = gpt.training
    gpt.eval()
    device = device_of(gpt)
    encoded = encode_texts(tokenizer, texts, gpt.config.context_length)
    features = torch.empty(len(encoded), gpt.config.n_embd)
    try:
        for start in range(0, len(encoded), batch_size):
            idx, lengths = pad_batch(encoded[start:start + batch_size], pad_id, device)
            hidden = hidden_states(gpt, idx)
            if pooling == "mean":
                mask = (torch.arange(idx.shape[1], device=device)[None, :] < lengths[:, None]).to(hidden.dtype)
                vectors = (hidden * mask[..., None]).sum(dim=1) / lengths[:, None].to(hidden.dtype)
            else:
                at = lengths - 1
                if pooling == "position":
                    chosen = [p for p in positions[start:start + len(lengths)]]
                    for b, p in enumerate(chosen):
                        if p is not None:
                            if not 0 <= p < int(lengths[b]):
                                raise ValueError(f"position {p} is outside text {start + b} "
                                                 f"({int(lengths[b])} tokens)")
                            at[b] = p
                vectors = hidden[torch.arange(len(lengths), device=device), at]
            features[start:start + len(lengths)] = vectors.float().cpu()
    finally:
        gpt.train(was_training)
    return features


def predict(classifier: GPTClassifier, texts: Sequence[str], tokenizer, batch_size: int = 256) -> torch.Tensor:
    """The predicted class of every text: a (N,) tensor of class numbers."""
    return predict_proba(classifier, texts, tokenizer, batch_size).argmax(dim=-1)


# ------------------------------------------------------------------------------------------ scores
def accuracy(predictions, labels) -> float:
    """The fraction of predictions equal to the labels. ``predictions`` are class numbers (N,) or logits
    / probabilities (N, n_classes), whose argmax is the predicted class."""
    predictions = torch.as_tensor(predictions)
    labels = torch.as_tensor(labels)
    if predictions.dim() == 2:
        predictions = predictions.argmax(dim=-1)
    if predictions.shape != labels.shape or labels.dim() != 1:
        raise ValueError(f"predictions {tuple(predictions.shape)} and labels {tuple(labels.shape)} must both "
                         f"have shape (N,) (or predictions (N, n_classes))")
    if labels.numel() == 0:
        raise ValueError("accuracy of nothing: there are no labels")
    return (predictions.cpu() == labels.cpu()).double().mean().item()


def confusion_matrix(predictions, labels, n_classes: int = 2) -> torch.Tensor:
    """A (n_classes, n_classes) table of counts: row = true class, column = predicted class."""
    predictions = torch.as_tensor(predictions).cpu().long()
    labels = torch.as_tensor(labels).cpu().long()
    if predictions.dim() == 2:
        predictions = predictions.argmax(dim=-1)
    if predictions.shape != labels.shape or labels.dim() != 1:
        raise ValueError(f"predictions {tuple(predictions.shape)} and labels {tuple(labels.shape)} must both "
                         f"have shape (N,)")
    for name, values in (("predictions", predictions), ("labels", labels)):
        if values.numel() and (int(values.min()) < 0 or int(values.max()) >= n_classes):
            raise ValueError(f"{name} must be in [0, {n_classes}), got values up to {int(values.max())}")
    return torch.bincount(labels * n_classes + predictions, minlength=n_classes * n_classes).view(n_classes, n_classes)


# ------------------------------------------------------------------------------------------ bag of words
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
