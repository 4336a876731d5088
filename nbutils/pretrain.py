"""The course's pretrained models: the small recipe, the training run behind it, and the function that loads them.

Training a GPT well takes minutes, too long to wait for in every notebook. So the package ships two
pretrained models, and notebooks load them in a second:

- ``WORLD_MODEL`` (``nbutils/assets/world_model/``): the model notebooks 05-08 and later build on, 4 layers
  x 128, context 256, trained on 24.6M tokens of fresh stories by ``python -m nbutils.recipes.world_model``
  (about an hour); its folder also holds ``record.json`` (the run, judged against the world's truth) and
  snapshots. ``load_course_model(path=WORLD_MODEL)``.
- ``DEFAULT_OUT`` (``nbutils/assets/course_model/``): the small 4-minute model of this module's recipe
  (context 128, 4.9M tokens of ``default_corpus()``), which notebooks 03-04 load and notebook 05 retraces.
  ``load_course_model()``.

    >>> from nbutils.pretrain import WORLD_MODEL, load_course_model   # doctest: +SKIP
    >>> model, tokenizer, info = load_course_model(path=WORLD_MODEL)  # doctest: +SKIP

Both use the same 1024-id tokenizer (``course_tokenizer``; the two ``tokenizer.json`` files are identical).

Anyone can re-train the small one (219 s on this project's idle 2-core CPU, measured) and get the same model; the
command lives in :mod:`nbutils.recipes.pretrain` (it also writes the training log and the README)::

    python -m nbutils.recipes.pretrain                      # writes nbutils/assets/course_model/
    python -m nbutils.recipes.pretrain --out /tmp/mine      # somewhere else
    python -m nbutils.recipes.pretrain --quick --out DIR    # a few steps only, to check that everything works

The recipe, step by step:

1. the corpus: ``nbutils.world.default_corpus()`` (seed 0), its ``train_text`` and ``val_text``;
2. the course tokenizer (``course_tokenizer``): byte-level BPE with 1024 ids, trained on ``train_text`` with
   GPT-2's split pattern and no special token (the stories are already separated by a blank line, which the
   model learns to predict like any other text);
3. the model (``course_model_config``): ``GPTConfig(vocab_size=1024, context_length=128, n_layer=4, n_head=4,
   n_embd=128)``;
4. training (``train_course_model`` with ``course_train_config``): the course's ``Trainer``, AdamW, warm-up
   then cosine decay, gradient clipping;
5. the checkpoint folder (written by the recipe with ``nbutils.checkpoint.save_checkpoint``: weights, configs,
   tokenizer, history, no optimiser state), plus ``training_log.json`` and ``README.md`` with the numbers of
   the run.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F

from nbutils.device import device_of
from nbutils.validate import require_int

__all__ = [
    "DEFAULT_OUT", "WORLD_MODEL", "DEFAULT_STEPS", "VOCAB_SIZE", "BATCH_SIZE", "LOG_FILE", "course_tokenizer",
    "course_model_config", "course_train_config", "CourseRun", "train_course_model", "validation_loss",
    "load_course_model", "segment_starts", "sliding_window_losses",
]

DEFAULT_OUT = Path(__file__).resolve().parent / "assets" / "course_model"
WORLD_MODEL = Path(__file__).resolve().parent / "assets" / "world_model"
RECORD_FILE = "record.json"
DEFAULT_STEPS = 1200
VOCAB_SIZE = 1024
BATCH_SIZE = 32
LOG_FILE = "training_log.json"

# quick=True: the same recipe, shrunk so that it runs in seconds (for tests and for checking an installation)
_QUICK = {"steps": 4, "batch_size": 4, "eval_every": 2, "eval_batches": 2, "warmup_steps": 2}


# ----------------------------------------------------------------------------------------- the recipe
def course_tokenizer(text: str | None = None):
    """The course tokenizer: ``BPETokenizer.train(text, vocab_size=1024)`` with GPT-2's split pattern.

    ``text`` defaults to the training text of ``nbutils.world.default_corpus()``. Training is deterministic,
    so this always gives the tokenizer that the shipped model was trained with.
    """
    from nbutils.tokenizers.bpe import GPT2_SPLIT_PATTERN, BPETokenizer

    if text is None:
        from nbutils.world import default_corpus

        text = default_corpus(0).train_text
    return BPETokenizer.train(text, vocab_size=VOCAB_SIZE, pattern=GPT2_SPLIT_PATTERN)


def course_model_config(vocab_size: int = VOCAB_SIZE):
    """The shape of the course model: 4 layers, 4 heads, width 128, a context of 128 tokens, no dropout."""
    from nbutils.model import GPTConfig

    return GPTConfig(vocab_size=vocab_size, context_length=128, n_layer=4, n_head=4, n_embd=128, dropout=0.0)


def course_train_config(steps: int = DEFAULT_STEPS, device: str = "auto", seed: int = 0, quick: bool = False):
    """The training settings of the course model (``quick=True``: the shrunk version of a quick run).

    Peak learning rate 2e-3 after 100 warm-up steps, cosine decay to 2e-4; batches of 32 windows of 128
    tokens (4096 tokens per step); the validation loss is measured every 100 steps on 8 fixed batches.
    """
    from nbutils.train import TrainConfig

    settings: dict[str, Any] = dict(steps=steps, batch_size=BATCH_SIZE, lr=2e-3, min_lr=2e-4,
                                    warmup_steps=min(100, steps // 10), weight_decay=0.1,
                                    grad_clip=1.0, eval_every=100, eval_batches=8, log_every=10,
                                    seed=seed, device=device)
    if quick:
        settings.update(_QUICK)
    return TrainConfig(**settings)


@torch.no_grad()
def validation_loss(model: torch.nn.Module, ids: torch.Tensor, max_windows: int | None = None,
                    batch_size: int = 32) -> tuple[float, int]:
    """Mean loss (nats per token) over the validation ids, read in consecutive windows of ``context_length``.

    The windows are ``nbutils.data.lm_windows(ids, context_length)``, tokens ``k·T .. k·T + T``, and the
    tail after the last of them (when it holds a target) is one shorter window, so every token but the very
    first is predicted exactly once, from the tokens before it in its window. Returns ``(loss, tokens
    scored)``. ``max_windows`` keeps only the first windows (a quicker, rougher estimate).
    """
    from nbutils.data import lm_windows

    if not isinstance(ids, torch.Tensor) or ids.dim() != 1 or len(ids) < 2:
        raise ValueError("ids must be a 1-D tensor of at least 2 token ids")
    if max_windows is not None:
        require_int("max_windows", max_windows)
    require_int("batch_size", batch_size)
    context = model.config.context_length
    device = device_of(model)
    if len(ids) > context:
        x, y = lm_windows(ids, context)
    else:
        x = y = ids[:0].reshape(0, context)
    tail = ids[len(x) * context:]  # what the full windows leave: one shorter window when it holds a target
    x, y = x[:max_windows], y[:max_windows]
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        for i in range(0, len(x), batch_size):
            _, loss = model(x[i:i + batch_size].to(device), y[i:i + batch_size].to(device))
            total += loss.item() * y[i:i + batch_size].numel()
            count += y[i:i + batch_size].numel()
        if len(tail) >= 2 and (max_windows is None or len(x) < max_windows):
            window = tail.to(device)[None]
            _, loss = model(window[:, :-1], window[:, 1:])
            total += loss.item() * (len(tail) - 1)
            count += len(tail) - 1
    finally:
        model.train(was_training)
    return total / count, count


def segment_starts(ids: torch.Tensor, separator: Sequence[int]) -> list[int]:
    """The positions in ``ids`` where the token sequence ``separator`` begins (non-overlapping, in order).

    For the toy world's text, ``separator = tokenizer.encode("\\n\\n")`` (the blank line between two stories)
    gives where each story after the first ends; ``sliding_window_losses(..., resets=...)`` uses them so that
    no token is predicted from the text of another story.
    """
    sep = [int(i) for i in separator]
    if not sep:
        raise ValueError("the separator needs at least one token id")
    values = ids.tolist()
    found, i = [], 0
    while i + len(sep) <= len(values):
        if values[i:i + len(sep)] == sep:
            found.append(i)
            i += len(sep)
        else:
            i += 1
    return found


@torch.no_grad()
def sliding_window_losses(model: torch.nn.Module, ids: torch.Tensor, resets: Sequence[int] | None = None,
                          batch_size: int = 64) -> torch.Tensor:
    """The loss (nats) of every token ``ids[1:]``, each predicted from as much text before it as the model reads.

    Target ``t`` (``1 <= t < len(ids)``) is predicted from ``ids[a:t]`` with ``a = max(r, t - context_length)``,
    where ``r`` is the last reset position before ``t`` (``resets``: positions where a new piece of text
    begins, such as ``segment_starts``; 0 when none). So every token sees the whole model context of text
    before it, or everything since the last reset when that is shorter; unlike ``validation_loss``, no token
    is cut off from its past by a window boundary. Returns a float tensor of ``len(ids) - 1`` losses
    (``out[t - 1]`` belongs to ``ids[t]``); their mean is comparable with ``validation_loss``, which scores
    the same tokens.

    Each piece of text, from one reset up to and including the first token of the next piece (still predicted
    from this one), goes through ``nbutils.evaluate.story_logits`` with ``stride=1``: one forward pass for its
    first ``context_length`` targets, then one window per later target (``batch_size`` windows at a time).
    """
    from nbutils.evaluate import story_logits

    if not isinstance(ids, torch.Tensor) or ids.dim() != 1 or len(ids) < 2:
        raise ValueError("ids must be a 1-D tensor of at least 2 token ids")
    n = len(ids)
    points = sorted({0, *[int(r) for r in (resets or [])]})
    if points[-1] >= n or points[0] < 0:
        raise ValueError(f"resets must lie in 0 .. {n - 1}")
    was_training = model.training
    model.eval()
    out = torch.full((n - 1,), float("nan"))
    try:
        for r, next_r in zip(points, points[1:] + [n]):
            piece = ids[r:min(next_r + 1, n)]  # its targets are r + 1 .. next_r (never beyond n - 1)
            if len(piece) < 2:
                continue
            logits = story_logits(model, piece.tolist(), stride=1, batch_size=batch_size)
            out[r:r + len(piece) - 1] = F.cross_entropy(logits, piece[1:].to(logits.device), reduction="none").cpu()
    finally:
        model.train(was_training)
    assert not torch.isnan(out).any(), "every target is scored once"
    return out


# ----------------------------------------------------------------------------------------- training
@dataclass
class CourseRun:
    """What ``train_course_model`` gives back: the trained model and what the recipe records about the run."""

    model: Any                 # nbutils.model.GPT, trained, in training mode
    tokenizer: Any             # the course tokenizer (nbutils.tokenizers.bpe.BPETokenizer)
    history: Any               # nbutils.train.History of the run
    train_config: Any          # nbutils.train.TrainConfig used
    steps_done: int            # the steps actually taken (fewer than train_config.steps if interrupted)
    device: torch.device
    train_seconds: float       # time spent in the training loop only
    corpus: Any                # nbutils.world.default_corpus(0)
    train_ids: torch.Tensor
    val_ids: torch.Tensor


def train_course_model(steps: int = DEFAULT_STEPS, device: str = "auto", seed: int = 0, quick: bool = False,
                       callback: Callable[[Any], Any] | None = None, progress: Any | None = None,
                       say: Callable[[str], Any] | None = None) -> CourseRun:
    """Train the course model from scratch, by the recipe above; nothing is written to disk.

    ``quick=True`` runs a few tiny steps of the same recipe (same corpus, tokenizer and model shape) so that
    the whole pipeline can be checked in seconds; the model has learned almost nothing. ``callback`` and
    ``progress`` (a display such as ``nbutils.progress.TrainingProgress``, or None) are handed to
    ``Trainer.train``; ``say`` (e.g. ``print``) receives one line about the data and one about the model
    before training starts.
    """
    from nbutils.data import encode_corpus
    from nbutils.device import seed_everything
    from nbutils.model import GPT
    from nbutils.train import Trainer
    from nbutils.world import default_corpus

    require_int("steps", steps)
    require_int("seed", seed, minimum=0)
    say = say or (lambda line: None)
    corpus = default_corpus(0)
    tokenizer = course_tokenizer(corpus.train_text)
    train_ids = encode_corpus(corpus.train_text, tokenizer)
    val_ids = encode_corpus(corpus.val_text, tokenizer)
    say(f"corpus: {len(corpus.train_text):,} + {len(corpus.val_text):,} characters; tokenizer: "
        f"{tokenizer.vocab_size} ids; {len(train_ids):,} training tokens, {len(val_ids):,} validation tokens "
        f"({len(corpus.val_text) / len(val_ids):.3f} characters per token)")

    train_config = course_train_config(steps if not quick else _QUICK["steps"], device, seed, quick)
    seed_everything(seed)  # the model's initial weights come from torch's global generator
    model = GPT(course_model_config(tokenizer.vocab_size))
    trainer = Trainer(model, train_ids, val_ids, train_config)
    say(f"model: {model.num_parameters():,} parameters on {trainer.device}; {train_config.steps} steps of "
        f"{train_config.batch_size} x {trainer.context_length} tokens")

    started = time.perf_counter()
    history = trainer.train(callback=callback, progress=progress)
    return CourseRun(model=model, tokenizer=tokenizer, history=history, train_config=train_config,
                     steps_done=trainer.step, device=trainer.device,
                     train_seconds=time.perf_counter() - started, corpus=corpus, train_ids=train_ids,
                     val_ids=val_ids)


# ----------------------------------------------------------------------------------------- loading
def load_course_model(device: str | torch.device | None = None, path: str | Path | None = None):
    """Load a pretrained course model: returns ``(model, tokenizer, info)``.

    ``path``: None loads the small course model (``DEFAULT_OUT``); ``WORLD_MODEL`` the world model of
    notebooks 05-08 (or one of its ``snapshots/step_*`` folders); any other folder written by
    ``python -m nbutils.recipes.pretrain --out PATH`` or ``nbutils.recipes.world_model``.
    The model is in eval mode on ``device`` (None: ``nbutils.device.pick_device()``). ``info`` is a dict
    with ``"history"`` (a ``nbutils.train.History``), ``"log"`` (what ``training_log.json`` holds, {} if the
    folder has none: losses, entropy floor, times, configs), ``"record"`` (what ``record.json`` holds, {} if
    none: the world model's run judged against the truth), ``"val_loss_per_token"`` (the final validation
    loss either file states, or None), ``"train_config"``, ``"step"`` and ``"path"``.
    """
    from nbutils.checkpoint import load_checkpoint
    from nbutils.device import pick_device
    from nbutils.train import History

    folder = Path(path) if path is not None else DEFAULT_OUT
    if not (folder / "checkpoint.json").is_file():
        raise FileNotFoundError(f"the course model is missing: no checkpoint in {str(folder)!r}. Train it with "
                                f"`python -m nbutils.recipes.pretrain`" + (f" --out {folder}" if path is not None else "")
                                + " (about 4 minutes on a 2-core CPU)")
    target = pick_device(None if device is None else str(device))
    checkpoint = load_checkpoint(folder, map_location=target)
    log_file = folder / LOG_FILE
    log = json.loads(log_file.read_text(encoding="utf-8")) if log_file.is_file() else {}
    record_file = folder / RECORD_FILE
    record = json.loads(record_file.read_text(encoding="utf-8")) if record_file.is_file() else {}
    val_loss = log.get("final_val_loss_per_token")
    if val_loss is None and record.get("points"):
        val_loss = record["points"][-1]["val_loss"]
    history = History.from_dict(checkpoint.history) if checkpoint.history else History()
    model = checkpoint.model.eval()
    info = {"history": history, "log": log, "record": record, "val_loss_per_token": val_loss,
            "train_config": checkpoint.train_config, "step": checkpoint.step, "path": folder}
    return model, checkpoint.tokenizer, info


if __name__ == "__main__":  # the command's old name, kept working: the command is nbutils.recipes.pretrain
    import sys

    from nbutils.recipes.pretrain import main

    sys.exit(main())
