"""Fine-tuning the course GPT for classification: the model-side pieces.

A language model ends with a head that scores every token of the vocabulary. For a classification task
(is this review positive or negative?) we keep everything up to the final LayerNorm, the *body*, and put a
new, small head on top: one Linear layer from the width C of the residual stream to the number of classes::

    token ids (B, T)  -> GPT body (embeddings, blocks, final LayerNorm) -> hidden states (B, T, C)
                      -> the hidden state of each review's LAST real token   (B, C)
                      -> Linear(C, n_classes)                                 logits (B, n_classes)

Why the last token: attention is causal, so position t has only seen tokens 0..t. The last token of a
review is the only position that has read the whole review.

Padding: reviews have different lengths, but a batch is one rectangular tensor. We *right-pad*
(``nbutils.data.pad_batch``): the real tokens come first and the row is filled up with ``pad_id`` after them.
Because attention is causal, a real token never looks at the padding that comes after it, so its hidden state
is exactly what it would be without any padding (positions are unchanged too). The classifier then reads
position ``length - 1`` of each row. (Left padding would move every real token to a later position and let it
attend to the pads, unless an attention mask were added; right padding needs no mask.) The pad id can be any
valid id: no real token ever sees it. The course tokenizer has no special padding token, so ``pad_id=0`` it
is.

Two ways to fine-tune:

- everything (``freeze_body=False``): the body's weights move too, usually with a small learning rate;
- head only (``freeze_body=True``): the body is fixed; only ``C * n_classes + n_classes`` numbers learn.
  This tests how much of the task the pretrained features already make linearly readable. Since those
  features never change, ``last_token_features`` can compute them once, and
  ``nbutils.baselines.LogisticRegression`` (with ``solver="lbfgs"``) fits the best linear head on them directly.

Training: ``train_classifier`` hands the course's one loop (``nbutils.train.Trainer``) shuffled batches
``(ids, lengths, labels)`` and ``classification_loss``. The baselines (bag of words, logistic regression)
live in ``nbutils.baselines``, the scores (accuracy, confusion matrix) in ``nbutils.metrics``.
"""

from __future__ import annotations

import re
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from nbutils.data import pad_batch
from nbutils.device import device_of, pick_device
from nbutils.model import GPT
from nbutils.validate import require_int

__all__ = [
    "encode_texts", "last_token_states", "GPTClassifier", "classification_loss", "train_classifier",
    "predict", "predict_proba", "last_token_features", "last_word_positions", "pooled_features",
]


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
        require_int("n_classes", n_classes, minimum=2)
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
                return last_token_states(self.body.hidden_states(idx), lengths)
        return last_token_states(self.body.hidden_states(idx), lengths)

    def forward(self, idx: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Class logits (B, n_classes) for a right-padded batch ``idx`` (B, T) with ``lengths`` (B,) real
        tokens per row; ``lengths=None`` means no padding (every row has T tokens)."""
        if lengths is None:
            if not isinstance(idx, torch.Tensor) or idx.dim() != 2:
                raise ValueError("idx must be a (B, T) tensor of token ids")
            lengths = torch.full((idx.shape[0],), idx.shape[1], dtype=torch.long, device=idx.device)
        return self.head(self.features(idx, lengths))

    def train(self, mode: bool = True) -> "GPTClassifier":
        """Training mode for the head (and the body, unless it is frozen: a frozen body keeps dropout off)."""
        super().train(mode)
        if self.body_frozen:
            self.body.eval()
        return self

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


def classification_loss(model: nn.Module, batch: Sequence[torch.Tensor]) -> torch.Tensor:
    """The cross-entropy of a classification batch ``(ids, lengths, labels)`` (a ``Trainer`` loss_fn)."""
    idx, lengths, labels = batch
    return F.cross_entropy(model(idx, lengths), labels)


def train_classifier(classifier: GPTClassifier, texts: Sequence[str], labels: Sequence[int], tokenizer, *,
                     steps: int | None = None, epochs: int | None = None, lr: float = 1e-3,
                     batch_size: int = 32, weight_decay: float = 0.01, warmup_steps: int | None = None,
                     seed: int = 0, device: torch.device | str | None = None, pad_id: int = 0) -> list[float]:
    """Fine-tune ``classifier`` on labelled texts with the cross-entropy loss; returns the loss of every step.

    Give either ``steps`` or ``epochs`` (one epoch = every text once, in batches of ``batch_size``). The
    batches walk through shuffled copies of the data (``nbutils.data.shuffled_batches``: a new order every
    epoch, from ``seed``). The loop is the course's ``nbutils.train.Trainer``: AdamW (no decay on biases and
    LayerNorms), linear warm-up (default: 10% of the steps, at most 20) and cosine decay to lr / 10,
    gradient clipping at 1.0. ``device`` None: ``pick_device()``.
    """
    from nbutils.data import shuffled_batches
    from nbutils.train import TrainConfig, Trainer

    if not isinstance(classifier, GPTClassifier):
        raise TypeError(f"train_classifier needs a GPTClassifier, got {type(classifier).__name__}")
    if (steps is None) == (epochs is None):
        raise ValueError("give exactly one of steps= or epochs=")
    n = len(texts)
    if n == 0:
        raise ValueError("there are no texts to train on")
    y_all = _check_labels(labels, n, classifier.n_classes)
    batch_size = min(require_int("batch_size", batch_size), n)
    if steps is None:
        steps = require_int("epochs", epochs) * -(-n // batch_size)
    steps = require_int("steps", steps)
    if warmup_steps is None:
        warmup_steps = min(20, steps // 10)
    target = pick_device(None if device is None else str(device))
    cfg = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, min_lr=lr / 10, warmup_steps=warmup_steps,
                      weight_decay=weight_decay, grad_clip=1.0, log_every=1, seed=seed, device=str(target))
    examples = list(zip(encode_texts(tokenizer, texts, classifier.context_length), y_all.tolist()))

    def make_batch(chosen: list[tuple[list[int], int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        idx, lengths = pad_batch([ids for ids, _ in chosen], pad_id)
        return idx, lengths, torch.tensor([label for _, label in chosen])

    batches = shuffled_batches(examples, batch_size, make_batch, torch.Generator().manual_seed(seed))
    trainer = Trainer(classifier, batches, config=cfg, loss_fn=classification_loss)
    history = trainer.train()
    classifier.eval()
    return history.train_loss

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
            hidden = gpt.hidden_states(idx)
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
