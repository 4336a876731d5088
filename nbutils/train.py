"""The training loop of the course: one loop for pretraining, fine-tuning and the command line.

Training a model repeats one *step* many times::

    batch = next(batches)       # e.g. x, y: windows of token ids and the same windows shifted by one
    loss = loss_fn(model, batch)  # how surprised the model is by the targets
    loss.backward()             # gradients: which way each weight should move
    optimizer.step()            # move every weight a little, by the learning rate of this step

Around that step this module adds what a real run needs, each in a few readable lines:

- ``TrainConfig``   every knob of a run in one dataclass (steps, batch size, learning rates, ...)
- ``lr_at``         the learning-rate schedule: linear warm-up, then cosine decay to ``min_lr``
- ``History``       the losses, learning rates and token counts of a run, kept in memory (and as JSON)
- ``Trainer``       AdamW (weight decay on 2-D weights only), gradient clipping, evaluation every
                    ``eval_every`` steps, a callback, safe interruption, checkpoints and resuming

**Batches.** The trainer reads batches from one of three kinds of ``train_data``:

- a 1-D tensor of token ids: random windows (``nbutils.data.get_batch``) from the trainer's own seeded
  generator, the way a language model is pretrained;
- a *batch source*, an object with ``sample(batch_size, context_length, generator, device) -> (x, y)``,
  such as ``nbutils.data.StoryStream`` (fresh stories);
- any iterator of batches, e.g. ``nbutils.data.shuffled_batches`` for fine-tuning on labelled examples.

A batch is a tuple ``(*inputs, targets)``. ``loss_fn(model, batch)`` turns it into the loss; the default,
``lm_loss``, is ``model(x, y)[1]`` (what ``nbutils.model.GPT`` returns). Targets equal to
``IGNORE_INDEX`` (-100) are left out of the loss and of ``History.tokens_seen``, which counts the targets
the model was trained on (tokens for a language model, answer tokens for translation, labels for
classification).

**Evaluation.** ``val_data`` (a 1-D id tensor) gives ``eval_batches`` fixed validation batches, the same at
every evaluation; or ``evaluate=fn`` gives any function ``fn(model) -> float`` (e.g. the loss on the answers
of held-out translation pairs). Either is measured before training, every ``eval_every`` steps and at the
last step.

**Display.** This module draws nothing and prints nothing. ``train(callback=...)`` calls a function with the
``History`` every ``log_every`` steps and after each evaluation; ``train(progress=...)`` takes an object
with ``start(step, until)``, ``update(history, evaluated)`` and ``close(history, stopped)``, such as
``nbutils.progress.TrainingProgress`` (a progress bar and a live loss plot), which the caller hands in.

**Interrupting** (the stop button, or Ctrl-C) never leaves a half-done step: the current step finishes and
``train`` returns normally, with model, optimiser and history intact (``trainer.stopped`` is True). Calling
``trainer.train()`` again continues from there with the same learning-rate schedule.

    >>> trainer = Trainer(model, train_ids, val_ids, TrainConfig(steps=2000))   # doctest: +SKIP
    >>> history = trainer.train(progress=TrainingProgress(floor=0.5))          # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import signal
import threading
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Callable, Iterable, Iterator, Mapping, Protocol, Sequence

import numpy as np
import torch
import torch.nn as nn

from nbutils.data import IGNORE_INDEX, get_batch
from nbutils.device import pick_device, seed_everything
from nbutils.validate import require_int

__all__ = ["TrainConfig", "lr_at", "History", "Trainer", "make_optimizer", "lm_loss", "ProgressDisplay"]

_EVAL_SEED_OFFSET = 1_000_003  # the validation batches come from their own generator, seeded cfg.seed + this

Batch = Sequence[torch.Tensor]


# ----------------------------------------------------------------------------------------- configuration
@dataclass
class TrainConfig:
    """Every setting of a training run.

    ``steps`` is the length of the whole run (the schedule decays over it); ``context_length=None`` uses the
    model's own ``config.context_length``. ``grad_clip=None`` turns clipping off. Every ``eval_every`` steps
    (and at the last step) the model is scored on the same ``eval_batches`` validation batches.
    ``log_every``: the training losses are copied from the device, and the callback is called, every that
    many steps (copying every step would make a GPU wait for each step to finish).
    """

    steps: int = 2000
    batch_size: int = 12
    context_length: int | None = None
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup_steps: int = 100
    weight_decay: float = 0.1
    grad_clip: float | None = 1.0
    beta1: float = 0.9
    beta2: float = 0.99
    eval_every: int = 250
    eval_batches: int = 20
    log_every: int = 10
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "eval_every", "eval_batches", "log_every"):
            require_int(f"TrainConfig.{name}", getattr(self, name))
        require_int("TrainConfig.warmup_steps", self.warmup_steps, minimum=0)
        if self.context_length is not None:
            require_int("TrainConfig.context_length (or None)", self.context_length)
        if not self.lr > 0:
            raise ValueError(f"TrainConfig.lr must be > 0, got {self.lr}")
        if not 0 <= self.min_lr <= self.lr:
            raise ValueError(f"TrainConfig.min_lr must be between 0 and lr={self.lr}, got {self.min_lr}")
        if self.weight_decay < 0:
            raise ValueError(f"TrainConfig.weight_decay must be >= 0, got {self.weight_decay}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"TrainConfig.grad_clip must be > 0 or None (no clipping), got {self.grad_clip}")
        for name in ("beta1", "beta2"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"TrainConfig.{name} must be in [0, 1), got {getattr(self, name)}")
        require_int("TrainConfig.seed", self.seed, minimum=0)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig fields {unknown}; known fields: {sorted(known)}")
        return cls(**data)


def lr_at(step: int, cfg: TrainConfig) -> float:
    """The learning rate used for update number ``step`` (counting from 0).

    Warm-up: the first ``warmup_steps`` updates climb linearly from ``lr / warmup_steps`` to ``lr`` (big steps
    on random weights can throw training off). Then a cosine curve brings it down from ``lr`` to ``min_lr`` at
    step ``cfg.steps``; after that it stays at ``min_lr``.
    """
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if step >= cfg.steps:
        return cfg.min_lr
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)  # 0 -> 1
    return cfg.min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (cfg.lr - cfg.min_lr)


# ----------------------------------------------------------------------------------------- history
@dataclass
class History:
    """What happened during training, step by step.

    ``steps[i]`` is the number of updates done after update i (1, 2, 3, ...); ``train_loss[i]`` the loss of
    that update's batch, ``lr[i]`` its learning rate and ``tokens_seen[i]`` the training tokens read so far.
    Validation is rarer: ``val_loss[j]`` was measured after ``val_steps[j]`` updates (0 = before training).
    """

    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    tokens_seen: list[int] = field(default_factory=list)
    val_steps: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)

    @property
    def last_step(self) -> int:
        """How many updates this history holds (0 before training)."""
        return self.steps[-1] if self.steps else 0

    def to_dict(self) -> dict[str, list]:
        return {f.name: list(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "History":
        names = {f.name for f in fields(cls)}
        missing = sorted(names - set(data))
        if missing:
            raise ValueError(f"a History needs the fields {sorted(names)}; missing {missing}")
        history = cls(**{name: list(data[name]) for name in names})
        if len({len(history.steps), len(history.train_loss), len(history.lr), len(history.tokens_seen)}) != 1:
            raise ValueError("steps, train_loss, lr and tokens_seen must have the same length")
        if len(history.val_steps) != len(history.val_loss):
            raise ValueError("val_steps and val_loss must have the same length")
        return history

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> "History":
        return cls.from_dict(json.loads(text))


# ----------------------------------------------------------------------------------------- optimiser
def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on the 2-D weight matrices only (Linear weights, embeddings).

    Biases and LayerNorm parameters (1-D) are not decayed: pulling them towards 0 would not make the model
    simpler, only wrong. The fused implementation is used where torch has it (CPU, CUDA, MPS): one kernel
    for all parameters instead of a handful of small operations per parameter.
    """
    params = [p for p in model.parameters() if p.requires_grad]  # a tied weight appears once
    if not params:
        raise ValueError("the model has no trainable parameters")
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    betas = (cfg.beta1, cfg.beta2)
    try:
        return torch.optim.AdamW(groups, lr=cfg.lr, betas=betas, fused=True)
    except (RuntimeError, ValueError):  # a device (or an older torch) without the fused kernel
        return torch.optim.AdamW(groups, lr=cfg.lr, betas=betas, foreach=True)


# ----------------------------------------------------------------------------------------- interrupts
@contextmanager
def _stop_requests() -> Iterator[dict]:
    """While active, Ctrl-C (or JupyterLab's stop button, which sends the same signal) only *asks* the loop
    to stop; the loop checks ``state["stop"]`` between steps, so no step is left half done. A second Ctrl-C
    interrupts at once, as usual."""
    state = {"stop": False}
    if threading.current_thread() is not threading.main_thread():
        yield state  # signals can only be caught in the main thread; KeyboardInterrupt is still handled
        return
    previous = signal.getsignal(signal.SIGINT)

    def ask_to_stop(signum, frame):
        if state["stop"]:
            raise KeyboardInterrupt
        state["stop"] = True

    signal.signal(signal.SIGINT, ask_to_stop)
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, previous)


# ----------------------------------------------------------------------------------------- the trainer
def lm_loss(model: nn.Module, batch: Batch) -> torch.Tensor:
    """The loss of a language-model batch ``(x, y)``: ``model(x, y)`` returns ``(logits, loss)``."""
    x, y = batch
    return model(x, y)[1]


class ProgressDisplay(Protocol):
    """What ``Trainer.train(progress=...)`` calls (``nbutils.progress.TrainingProgress`` is one)."""

    def start(self, step: int, until: int) -> None: ...

    def update(self, history: History, evaluated: bool) -> None: ...

    def close(self, history: History, stopped: bool) -> None: ...


class Trainer:
    """Trains a model on batches and remembers everything needed to continue.

    ``train_data``: a 1-D tensor of token ids, a batch source or an iterator of batches (see the module
    docstring). ``val_data``: a 1-D tensor of token ids (fixed validation batches) or None; ``evaluate``:
    instead, a function ``model -> float``. ``loss_fn(model, batch)``: the loss of one batch (default
    ``lm_loss``). ``context_length`` matters only for token ids and batch sources (None: the model's
    ``config.context_length``).

    Creating a trainer seeds every random generator (``seed_everything(config.seed)``) and moves the model to
    ``config.device`` ("auto": ``nbutils.device.pick_device()``); batches of an iterator are moved there too.

    Attributes a notebook may use: ``model``, ``optimizer``, ``history``, ``config``, ``device``, ``step``,
    ``stopped``.
    """

    def __init__(self, model: nn.Module, train_data: torch.Tensor | Any | Iterable[Batch],
                 val_data: torch.Tensor | None = None, config: TrainConfig | None = None, *,
                 loss_fn: Callable[[nn.Module, Batch], torch.Tensor] = lm_loss,
                 evaluate: Callable[[nn.Module], float] | None = None,
                 optimizer: torch.optim.Optimizer | None = None, history: History | None = None) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        config = config if config is not None else TrainConfig()
        if not isinstance(config, TrainConfig):
            raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
        if val_data is not None and evaluate is not None:
            raise ValueError("give val_data (fixed validation batches) or evaluate (a function), not both")
        if not callable(loss_fn) or (evaluate is not None and not callable(evaluate)):
            raise TypeError("loss_fn and evaluate must be functions")
        self.config = config
        self.device = pick_device(None if config.device == "auto" else config.device)
        seed_everything(config.seed)
        self.model = model.to(self.device)
        self.loss_fn, self.evaluate_fn = loss_fn, evaluate
        self.batch_generator = torch.Generator().manual_seed(config.seed)
        self.batches = self._batches_from(train_data)
        self.train_data, self.val_data = train_data, val_data
        self.optimizer = optimizer if optimizer is not None else make_optimizer(self.model, config)
        self.history = history if history is not None else History()
        self.eval_batches = self._fixed_batches(val_data) if val_data is not None else []
        self.stopped = False

    # ---- batches and evaluation
    def _model_context(self) -> int:
        model_context = getattr(getattr(self.model, "config", None), "context_length", None)
        context = self.config.context_length or model_context
        if context is None:
            raise ValueError("set TrainConfig.context_length: the model has no config.context_length to use")
        if model_context is not None and context > model_context:
            raise ValueError(f"TrainConfig.context_length={context} is longer than the model's "
                             f"context_length={model_context}")
        return context

    def _check_ids(self, name: str, data: Any) -> None:
        if not isinstance(data, torch.Tensor) or data.dim() != 1 or data.dtype.is_floating_point:
            raise TypeError(f"{name} must be a 1-D tensor of token ids (see nbutils.data.encode_corpus)")
        if len(data) < self.context_length + 1:
            raise ValueError(f"{name} has {len(data)} tokens; one window needs context_length + 1 = "
                             f"{self.context_length + 1}")

    def _batches_from(self, data: Any) -> Iterator[Batch]:
        """An endless iterator of batches on the trainer's device (see the module docstring)."""
        self.context_length = None
        if isinstance(data, torch.Tensor) or callable(getattr(data, "sample", None)):
            self.context_length = self._model_context()
            if isinstance(data, torch.Tensor):
                self._check_ids("train_data", data)
            return self._sampled_batches(data)
        if isinstance(data, Iterable):
            return (tuple(t.to(self.device) for t in batch) for batch in data)
        raise TypeError("train_data must be a 1-D tensor of token ids, an object with a sample(batch_size, "
                        f"context_length, generator, device) method, or an iterator of batches; got "
                        f"{type(data).__name__}")

    def _sampled_batches(self, data: Any) -> Iterator[Batch]:
        """Random windows of a token-id tensor, or samples of a batch source, drawn with the trainer's
        generator when each one is needed (so a saved generator state resumes the same stream)."""
        size, context = self.config.batch_size, self.context_length
        while True:
            if isinstance(data, torch.Tensor):
                yield get_batch(data, size, context, generator=self.batch_generator, device=self.device)
            else:
                yield data.sample(size, context, generator=self.batch_generator, device=self.device)

    def _fixed_batches(self, data: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The same ``eval_batches`` batches at every evaluation, so that the numbers are comparable."""
        if self.context_length is None:
            self.context_length = self._model_context()
        self._check_ids("val_data", data)
        generator = torch.Generator().manual_seed(self.config.seed + _EVAL_SEED_OFFSET)
        return [get_batch(data, self.config.batch_size, self.context_length, generator=generator, device=self.device)
                for _ in range(self.config.eval_batches)]

    @torch.no_grad()
    def evaluate(self, batches: list[Batch] | None = None) -> float:
        """The validation loss: ``evaluate(model)`` if the trainer was given that function, else the mean
        ``loss_fn`` over the fixed validation batches (or the given ones), with dropout off."""
        if batches is None and self.evaluate_fn is not None:
            return float(self.evaluate_fn(self.model))
        batches = self.eval_batches if batches is None else batches
        if not batches:
            raise ValueError("there is no validation data to evaluate on")
        was_training = self.model.training
        self.model.eval()
        try:
            losses = torch.stack([self.loss_fn(self.model, batch) for batch in batches])
        finally:
            self.model.train(was_training)
        return losses.mean().item()

    @property
    def can_evaluate(self) -> bool:
        return bool(self.eval_batches) or self.evaluate_fn is not None

    @property
    def step(self) -> int:
        """How many updates have been made so far."""
        return self.history.last_step

    # ---- one update
    def _update(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Update number ``step`` (from 0): batch, forward, backward, clip, AdamW.
        Returns the loss and the number of targets scored, as tensors (not copied from the device yet)."""
        lr = lr_at(step, self.config)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        try:
            batch = next(self.batches)
        except StopIteration:
            raise ValueError(f"the batches ran out after {step} steps; give an endless iterator "
                             f"(e.g. nbutils.data.shuffled_batches) or fewer steps") from None
        loss = self.loss_fn(self.model, batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.grad_clip is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip, foreach=True)
        self.optimizer.step()
        return loss.detach(), (batch[-1] != IGNORE_INDEX).sum()

    def _record(self, pending: list[tuple[torch.Tensor, torch.Tensor]], first_step: int) -> None:
        """Copy the losses of the last few steps into the history (one device-to-host copy for all)."""
        if not pending:
            return
        values = torch.stack([torch.stack([loss.float(), count.float()]) for loss, count in pending]).tolist()
        tokens = self.history.tokens_seen[-1] if self.history.tokens_seen else 0
        for offset, (value, count) in enumerate(values):
            step = first_step + offset
            tokens += int(count)
            self.history.steps.append(step + 1)
            self.history.train_loss.append(value)
            self.history.lr.append(lr_at(step, self.config))
            self.history.tokens_seen.append(tokens)
        pending.clear()

    # ---- the loop
    def train(self, until: int | None = None, *, callback: Callable[[History], Any] | None = None,
              progress: ProgressDisplay | None = None) -> History:
        """Train until ``until`` updates in total (default: ``config.steps``) and return the history.

        Starts where the history ends, so calling it again continues an interrupted run. ``callback(history)``
        is called every ``config.log_every`` steps and after each evaluation. ``progress``: a display (see
        ``nbutils.progress.TrainingProgress``) or None for none.
        """
        cfg = self.config
        until = cfg.steps if until is None else require_int("until", until, minimum=0)
        if isinstance(progress, str):
            if progress != "off":
                raise TypeError(f"progress={progress!r}: pass a display object, e.g. "
                                f"nbutils.progress.TrainingProgress({progress!r}), or None for none")
            progress = None  # the old spelling of "no display"
        start = self.step
        if progress is not None:
            progress.start(start, until)
        self.model.train()
        pending: list[tuple[torch.Tensor, torch.Tensor]] = []
        first_pending = start
        self.stopped = False
        with _stop_requests() as stop:
            try:
                if start == 0 and self.can_evaluate and not self.history.val_steps:
                    self._validate(0, progress, callback)  # the loss before any training: about log(vocab_size)
                for step in range(start, until):
                    if stop["stop"]:
                        self.stopped = True
                        break
                    pending.append(self._update(step))
                    done = step + 1
                    evaluate = self.can_evaluate and (done % cfg.eval_every == 0 or done == cfg.steps)
                    if len(pending) >= cfg.log_every or evaluate or done == until:
                        self._record(pending, first_pending)
                        first_pending = done
                        if not evaluate:
                            self._report(progress, callback, evaluated=False)
                    if evaluate:
                        self._validate(done, progress, callback)
                self.stopped = self.stopped or (stop["stop"] and self.step < until)
            except KeyboardInterrupt:
                self.stopped = True
            finally:
                self._record(pending, first_pending)
        if progress is not None:
            progress.close(self.history, self.stopped)
        return self.history

    def _report(self, progress: ProgressDisplay | None, callback: Callable[[History], Any] | None,
                evaluated: bool) -> None:
        if progress is not None:
            progress.update(self.history, evaluated=evaluated)
        if callback is not None:
            callback(self.history)

    def _validate(self, done: int, progress: ProgressDisplay | None,
                  callback: Callable[[History], Any] | None) -> None:
        loss = self.evaluate()  # first, so that an interrupt cannot leave val_steps one longer than val_loss
        self.history.val_steps.append(done)
        self.history.val_loss.append(loss)
        self._report(progress, callback, evaluated=True)

    # ---- random state, checkpoints
    def rng_state(self) -> dict[str, Any]:
        """Every random state a continued run needs: the batch generator, torch's and NumPy's global ones."""
        state: dict[str, Any] = {
            "batch_generator": self.batch_generator.get_state(),
            "torch": torch.get_rng_state(),
            "numpy": _numpy_state_to_json(np.random.get_state()),
        }
        if self.device.type == "cuda":
            state["cuda"] = torch.cuda.get_rng_state(self.device)
        return state

    def set_rng_state(self, state: Mapping[str, Any]) -> None:
        """Restore what ``rng_state`` returned."""
        self.batch_generator.set_state(state["batch_generator"])
        torch.set_rng_state(state["torch"])
        if "numpy" in state:
            np.random.set_state(_numpy_state_from_json(state["numpy"]))
        if "cuda" in state and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda"], self.device)

    def save_checkpoint(self, path, tokenizer=None) -> None:
        """Save model, optimiser, history, configs and random states to the folder ``path``
        (see ``nbutils.checkpoint.save_checkpoint``)."""
        from nbutils.checkpoint import save_checkpoint

        save_checkpoint(path, self.model, getattr(self.model, "config", None), tokenizer=tokenizer,
                        optimizer=self.optimizer, history=self.history, train_config=self.config,
                        step=self.step, rng_state=self.rng_state())

    @classmethod
    def from_checkpoint(cls, checkpoint, train_data: torch.Tensor | Any, val_data: torch.Tensor | None = None,
                        **config_changes: Any) -> "Trainer":
        """Continue a saved run: ``checkpoint`` is a folder or what ``load_checkpoint`` returned.

        The model, optimiser state, history, training config and random states come from the checkpoint,
        so ``trainer.train()`` goes on exactly as the original run would have. ``config_changes`` override
        config fields (``steps=4000`` to train longer, ``device="cpu"``, ...).
        """
        from nbutils.checkpoint import Checkpoint, load_checkpoint

        if not isinstance(checkpoint, Checkpoint):
            checkpoint = load_checkpoint(checkpoint)
        if checkpoint.train_config is None or checkpoint.optimizer_state is None:
            raise ValueError("this checkpoint was saved without its training state (train_config and optimizer); "
                             "it can be loaded for generation but not continued")
        config = TrainConfig.from_dict({**checkpoint.train_config, **config_changes})
        history = History.from_dict(checkpoint.history) if checkpoint.history else History()
        trainer = cls(checkpoint.model, train_data, val_data, config, history=history)
        trainer.optimizer.load_state_dict(checkpoint.optimizer_state)
        if checkpoint.rng_state:
            trainer.set_rng_state(checkpoint.rng_state)
        return trainer


def _numpy_state_to_json(state: tuple) -> list:
    name, keys, position, has_gauss, cached = state
    return [name, np.asarray(keys).tolist(), int(position), int(has_gauss), float(cached)]


def _numpy_state_from_json(state: list) -> tuple:
    name, keys, position, has_gauss, cached = state
    return (name, np.asarray(keys, dtype=np.uint32), position, has_gauss, cached)
