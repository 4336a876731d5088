"""Getting text ready for a language model: load it, split it, turn it into ids, cut it into batches.

A language model learns to predict the next token. So a training example is a window of
``context_length`` token ids ``x`` and the same window shifted by one, ``y``: at every position ``t``,
``y[t]`` is the token that follows ``x[t]``.

    >>> import torch
    >>> data = torch.arange(10)
    >>> x, y = get_batch(data, batch_size=2, context_length=4, generator=torch.Generator().manual_seed(0))
    >>> bool((y[:, :-1] == x[:, 1:]).all())
    True

Any tokenizer works if it has ``encode(str) -> list[int]``, ``decode(ids) -> str`` and ``vocab_size``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol, Sequence

import torch

from nbutils.validate import require_int

__all__ = [
    "Tokenizer", "load_text", "train_val_split", "encode_corpus", "get_batch", "lm_windows",
    "language_model_batches", "world_text", "StoryStream",
    "IGNORE_INDEX", "pad_batch", "collate", "shuffled_batches",
]

IGNORE_INDEX = -100  # cross_entropy's ignore_index: targets with this value are left out of the loss


class Tokenizer(Protocol):
    """What ``encode_corpus`` needs from a tokenizer."""

    vocab_size: int

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...


# ------------------------------------------------------------------------------------------ text
def load_text(path: str | os.PathLike) -> str:
    """Read a UTF-8 text file. Windows line endings become ``\\n``; a UTF-8 byte-order mark is dropped.

    Raises FileNotFoundError if there is no such file, and ValueError if it is a folder, is not UTF-8
    or holds no text.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or a pathlib.Path, got {type(path).__name__}")
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"no file at {str(p)!r} (the current folder is {os.getcwd()!r})")
    if p.is_dir():
        raise ValueError(f"{str(p)!r} is a folder; give the path of a text file inside it")
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValueError(f"{str(p)!r} is not UTF-8 text: byte {err.start} is {raw[err.start:err.start + 1]!r}. "
                         "Save the file as UTF-8 (most editors offer it under 'Save as').") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise ValueError(f"{str(p)!r} is empty (or only whitespace): there is nothing to learn from")
    return text


def train_val_split(data: str | torch.Tensor, train_fraction: float = 0.9) -> tuple[str, str] | tuple[torch.Tensor, torch.Tensor]:
    """Split text (or a 1-D tensor of ids) into a training part and a validation part.

    The first ``train_fraction`` goes to training, the rest to validation. Text is cut at the last blank
    line (or else line break) before that point if there is one in the last 10% of the training part,
    so that no paragraph is cut in two; a tensor is cut exactly.
    """
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must be strictly between 0 and 1, got {train_fraction}")
    if isinstance(data, torch.Tensor):
        if data.dim() != 1:
            raise ValueError(f"expected a 1-D tensor of token ids, got shape {tuple(data.shape)}")
        cut = int(len(data) * train_fraction)
        if cut == 0 or cut == len(data):
            raise ValueError(f"{len(data)} ids are too few to split with train_fraction={train_fraction}")
        return data[:cut], data[cut:]
    if not isinstance(data, str):
        raise TypeError(f"data must be a str or a 1-D tensor, got {type(data).__name__}")
    cut = int(len(data) * train_fraction)
    if cut == 0 or cut == len(data):
        raise ValueError(f"a text of {len(data)} characters is too short to split with "
                         f"train_fraction={train_fraction}")
    for sep in ("\n\n", "\n"):
        i = data.rfind(sep, int(cut * 0.9), cut)
        if i > 0:
            return data[:i], data[i + len(sep):]
    return data[:cut], data[cut:]


def encode_corpus(text: str, tokenizer: Tokenizer) -> torch.Tensor:
    """Encode ``text`` with ``tokenizer`` into a 1-D ``torch.long`` tensor of token ids."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not text:
        raise ValueError("cannot encode an empty text")
    if not callable(getattr(tokenizer, "encode", None)):
        raise TypeError(f"the tokenizer must have an encode(str) method; got {type(tokenizer).__name__}")
    ids = torch.tensor(tokenizer.encode(text), dtype=torch.long)
    if ids.dim() != 1 or ids.numel() == 0:
        raise ValueError("the tokenizer returned no ids for a non-empty text")
    vocab_size = getattr(tokenizer, "vocab_size", None)
    if vocab_size is not None and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise ValueError(f"the tokenizer returned ids outside 0..{vocab_size - 1} "
                         f"(min {int(ids.min())}, max {int(ids.max())})")
    return ids


def world_text(split: str = "train", seed: int = 0) -> str:
    """The toy world's corpus text (``"train"``, ``"val"`` or ``"all"``); see :mod:`nbutils.world`."""
    from nbutils.world import default_corpus

    return default_corpus(seed).text_of(split)


# --------------------------------------------------------------------------------------- batches
def _check_ids(data: torch.Tensor, context_length: int) -> None:
    if not isinstance(data, torch.Tensor):
        raise TypeError(f"data must be a torch tensor of token ids (see encode_corpus), got {type(data).__name__}")
    if data.dim() != 1:
        raise ValueError(f"data must be 1-D (one long sequence of ids), got shape {tuple(data.shape)}")
    if data.dtype.is_floating_point or data.dtype == torch.bool:
        raise TypeError(f"data must hold integer token ids, got dtype {data.dtype}")
    require_int("context_length", context_length)
    if len(data) < context_length + 1:
        raise ValueError(f"context_length={context_length} needs at least {context_length + 1} tokens "
                         f"(inputs plus the shifted targets), but data has only {len(data)}")


def get_batch(data: torch.Tensor, batch_size: int, context_length: int, *,
              generator: torch.Generator | None = None,
              device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch_size`` random windows of ``data``: inputs ``x`` and targets ``y``, both (batch_size, context_length).

    ``y`` is ``x`` shifted by one position: ``y[b, t] == data[start_b + t + 1]``. Window starts are drawn
    uniformly with ``generator`` (a CPU ``torch.Generator``; pass a seeded one to get the same batches
    every run). The batch is moved to ``device`` at the end.
    """
    _check_ids(data, context_length)
    require_int("batch_size", batch_size)
    n_starts = len(data) - context_length
    starts = torch.randint(n_starts, (batch_size,), generator=generator)
    index = starts[:, None] + torch.arange(context_length + 1)
    windows = data[index.to(data.device)]
    x, y = windows[:, :-1], windows[:, 1:]
    if device is not None:
        x, y = x.to(device), y.to(device)
    return x, y


def lm_windows(data: torch.Tensor, context_length: int, stride: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Every window of ``data`` in order, ``stride`` apart (default: ``context_length``, no overlap).

    Returns ``(x, y)`` of shape (n_windows, context_length) with ``y`` shifted by one. Useful to
    measure the loss on a whole validation text; a tail shorter than a window is left out.
    """
    _check_ids(data, context_length)
    stride = context_length if stride is None else stride
    require_int("stride", stride)
    starts = torch.arange(0, len(data) - context_length, stride)
    windows = data[starts[:, None] + torch.arange(context_length + 1)]
    return windows[:, :-1], windows[:, 1:]


def language_model_batches(data: torch.Tensor, batch_size: int, context_length: int, n_batches: int, *,
                           generator: torch.Generator | None = None,
                           device: torch.device | str | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``n_batches`` random batches from :func:`get_batch` (a training loop's ``for x, y in ...``)."""
    if not isinstance(n_batches, int) or n_batches < 0:
        raise ValueError(f"n_batches must be a non-negative int, got {n_batches!r}")
    _check_ids(data, context_length)
    for _ in range(n_batches):
        yield get_batch(data, batch_size, context_length, generator=generator, device=device)


class StoryStream:
    """An endless stream of fresh toy-world stories, packed into training rows that start at a story's beginning.

    Each row is ``SEP + story + SEP + story + ...`` (``SEP`` is the blank line between stories), filled up to
    ``context_length + 1`` tokens. Every story is new (drawn from ``random.Random(seed)``), so nothing repeats
    and the model cannot memorise; and every story is seen from its first sentence, as the entropy floor assumes.

    **Packing.** The stream keeps ``buffer`` stories waiting. A row begins with the oldest waiting story and is
    filled with the first waiting story that still fits the room left (first fit); when none fits, the room
    is filled with the *opening* of the oldest waiting story, which stays waiting and is read in full later
    (``tokens_repeated`` counts these copies). So no story loses its end, except one longer than a row
    (``tokens_cut``). With ``buffer=1`` a row is simply the next stories in order, the last one cut, which
    drops the ends of stories and so trains their late sentences (and the questions asked there) less than
    their openings. ``stories_used`` counts the stories drawn.

    ``sample`` has the signature ``Trainer`` expects of a batch source. The stream's own ``random.Random``
    decides the stories; the ``generator`` argument is not needed.
    """

    def __init__(self, tokenizer, seed: int = 1, buffer: int = 16) -> None:
        import random

        self.seed = require_int("seed", seed, minimum=0)
        self.buffer = require_int("buffer", buffer)
        self.tokenizer = tokenizer
        self.rng = random.Random(seed)
        self.separator = list(tokenizer.encode("\n\n"))
        self.waiting: list[list[int]] = []
        self.stories_used = 0
        self.tokens_cut = 0
        self.tokens_repeated = 0

    def next_story_ids(self) -> list[int]:
        """A new story's ids, led by the separator."""
        from nbutils.world import generate_story

        self.stories_used += 1
        return self.separator + list(self.tokenizer.encode(generate_story(self.rng).text))

    def row(self, length: int) -> list[int]:
        """``length`` token ids: whole stories from their beginning, packed first-fit (see the class docstring)."""
        ids: list[int] = []
        while len(ids) < length:
            while len(self.waiting) < self.buffer:
                self.waiting.append(self.next_story_ids())
            room = length - len(ids)
            if self.buffer == 1 or not ids:
                pick = 0  # the oldest story opens the row, so every story is read in turn
            else:
                pick = next((i for i, story in enumerate(self.waiting) if len(story) <= room), None)
            if pick is None:  # nothing fits: the oldest story's opening fills the room, the story stays waiting
                ids.extend(self.waiting[0][:room])
                self.tokens_repeated += room
                continue
            story = self.waiting.pop(pick)
            self.tokens_cut += max(0, len(story) - room)
            ids.extend(story[:room])
        return ids

    def sample(self, batch_size: int, context_length: int, generator: torch.Generator | None = None,
               device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        rows = torch.tensor([self.row(context_length + 1) for _ in range(batch_size)], dtype=torch.long)
        x, y = rows[:, :-1], rows[:, 1:]
        if device is not None:
            x, y = x.to(device), y.to(device)
        return x, y


# --------------------------------------------------------------------------------------- task batches
def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int = 0,
              device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad id lists into one (B, T) tensor, T the longest length; returns ``(ids, lengths)``.

    The real tokens come first and the row is filled up with ``pad_id`` after them. Attention is causal, so
    a real token never looks at the padding that follows it: its hidden state is what it would be without
    any padding, and no attention mask is needed.

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


def collate(examples: Sequence[tuple[torch.Tensor, torch.Tensor]],
            pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack ``(ids, targets)`` examples of different lengths into a batch ``(x, y)`` of shape (B, T).

    Shorter examples are padded on the right (``pad_batch``): inputs with ``pad_id``, targets with
    ``IGNORE_INDEX``, so the padding costs nothing in the loss and changes no prediction.
    """
    if len(examples) == 0:
        raise ValueError("collate needs at least one example")
    for i, pair in enumerate(examples):
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise TypeError(f"example {i} must be a pair (ids, targets)")
        ids, targets = pair
        if not isinstance(ids, torch.Tensor) or not isinstance(targets, torch.Tensor):
            raise TypeError(f"example {i}: ids and targets must be tensors")
        if ids.dim() != 1 or ids.shape != targets.shape:
            raise ValueError(f"example {i}: ids and targets must be 1-D and equally long, got shapes "
                             f"{tuple(ids.shape)} and {tuple(targets.shape)}")
    x, _ = pad_batch([ids.tolist() for ids, _ in examples], pad_id)
    y, _ = pad_batch([targets.tolist() for _, targets in examples], IGNORE_INDEX)
    return x, y


def shuffled_batches(examples: Sequence[Any], batch_size: int, make_batch: Callable[[list[Any]], Any],
                     generator: torch.Generator | None = None) -> Iterator[Any]:
    """Endless batches of labelled examples: ``make_batch(chosen)`` for the next ``batch_size`` examples of a
    shuffled pass over ``examples``, a new order every pass (the leftover of a pass goes first).

    ``generator`` (a seeded CPU ``torch.Generator``) makes the order the same every run. ``Trainer`` reads
    fine-tuning batches from this iterator.
    """
    if len(examples) == 0:
        raise ValueError("there are no examples to make batches of")
    require_int("batch_size", batch_size)
    order: list[int] = []
    while True:
        if len(order) < batch_size:  # a new shuffled pass over the examples
            order += torch.randperm(len(examples), generator=generator).tolist()
        chosen, order = order[:batch_size], order[batch_size:]
        yield make_batch([examples[i] for i in chosen])
