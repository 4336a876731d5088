"""The training loop of the course: one loop for notebooks and for the command line.

Training a language model repeats one *step* many times::

    x, y = a random batch of windows from the training ids (y is x shifted by one token)
    loss = model(x, y)          # how surprised the model is by the true next tokens
    loss.backward()             # gradients: which way each weight should move
    optimizer.step()            # move every weight a little, by the learning rate of this step

Around that step this module adds what a real run needs, each in a few readable lines:

- ``TrainConfig``   every knob of a run in one dataclass (steps, batch size, learning rates, ...)
- ``lr_at``         the learning-rate schedule: linear warm-up, then cosine decay to ``min_lr``
- ``History``       the losses, learning rates and token counts of a run, kept in memory (and as JSON)
- ``Trainer``       AdamW (weight decay on 2-D weights only), gradient clipping, evaluation on fixed
                    validation batches, progress display, safe interruption, checkpoints
- ``plot_loss_curves``  training and validation loss of a ``History`` in one picture

Progress: in JupyterLab the trainer shows a progress bar and a loss plot that redraws itself while it
trains. When no person is watching (a notebook run by nbval or nbconvert, detected by the environment
variable ``JPY_SESSION_NAME`` being absent) it shows no bar and draws the plot once, at the end. Set
``NBUTILS_LIVE=1`` (or ``0``) to force the live (or quiet) display.

Interrupting (the stop button, or Ctrl-C) never leaves a half-done step: the current step finishes, the
trainer prints one line saying where it stopped and returns normally, with model, optimiser and history
intact. Calling ``trainer.train()`` again continues from there with the same learning-rate schedule.

    >>> trainer = Trainer(model, train_ids, val_ids, TrainConfig(steps=2000))   # doctest: +SKIP
    >>> history = trainer.train()                                              # doctest: +SKIP
"""

from __future__ import annotations

import io
import json
import math
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Callable, Iterator, Mapping

import numpy as np
import torch
import torch.nn as nn

from nbutils.data import get_batch
from nbutils.device import pick_device, seed_everything

__all__ = [
    "TrainConfig", "lr_at", "History", "Trainer", "make_optimizer", "plot_loss_curves", "live_display_wanted",
]

_EVAL_SEED_OFFSET = 1_000_003  # the validation batches come from their own generator, seeded cfg.seed + this


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
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"TrainConfig.{name} must be a positive int, got {value!r}")
        if isinstance(self.warmup_steps, bool) or not isinstance(self.warmup_steps, int) or self.warmup_steps < 0:
            raise ValueError(f"TrainConfig.warmup_steps must be an int >= 0, got {self.warmup_steps!r}")
        if self.context_length is not None and (not isinstance(self.context_length, int) or self.context_length < 1):
            raise ValueError(f"TrainConfig.context_length must be a positive int or None, got {self.context_length!r}")
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
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"TrainConfig.seed must be an int >= 0, got {self.seed!r}")

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


def plot_loss_curves(history: History | Mapping[str, Any], ax=None, floor: float | None = None, **kwargs):
    """Draw the training loss (every step) and the validation loss (markers) of a run; returns the Axes.

    ``floor``: a dashed line at the lowest loss possible on this data (e.g. the toy world's entropy floor).
    Other keywords (``title``, ``floor_label``, ...) go to ``nbutils.plots.loss_curves``.
    """
    from nbutils.plots import loss_curves

    if isinstance(history, Mapping):
        history = History.from_dict(history)
    if not isinstance(history, History):
        raise TypeError(f"plot_loss_curves needs a History (or its to_dict()), got {type(history).__name__}")
    return loss_curves(history.steps, history.train_loss, val_steps=history.val_steps,
                       val_loss=history.val_loss, floor=floor, ax=ax, **kwargs)


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


# ----------------------------------------------------------------------------------------- progress
def live_display_wanted() -> bool:
    """True when a person watches the notebook (JupyterLab sets ``JPY_SESSION_NAME`` for its kernels);
    ``NBUTILS_LIVE=1`` / ``0`` forces the answer."""
    forced = os.environ.get("NBUTILS_LIVE")
    if forced in ("0", "1"):
        return forced == "1"
    return bool(os.environ.get("JPY_SESSION_NAME"))


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (where pictures can be displayed)."""
    shell = sys.modules.get("IPython")
    get = getattr(shell, "get_ipython", None)
    return bool(get and get() is not None and "IPKernelApp" in getattr(get(), "config", {}))


class _Progress:
    """The progress bar and the live loss plot; quiet when nobody watches.

    live:      tqdm bar + a plot redrawn at every evaluation and at most every ``redraw_s`` seconds.
    notebook without a front end: nothing while training, then one summary line and the final plot.
    terminal:  a text progress bar on stderr (when stderr is a terminal), then the summary line.
    """

    def __init__(self, start: int, until: int, mode: str | None, floor: float | None, redraw_s: float = 2.0):
        self.mode = mode if mode is not None else (
            "live" if live_display_wanted() and _in_notebook() else "notebook" if _in_notebook() else "terminal")
        if self.mode not in ("live", "notebook", "terminal", "off"):
            raise ValueError(f"progress must be 'live', 'notebook', 'terminal', 'off' or None, got {mode!r}")
        self.floor, self.redraw_s, self.start, self.until = floor, redraw_s, start, until
        self.started = time.perf_counter()
        self.last_draw = 0.0
        self.bar = None
        self.handle = None
        if self.mode == "live" or (self.mode == "terminal" and sys.stderr.isatty()):
            from tqdm.auto import tqdm

            self.bar = tqdm(total=until, initial=start, unit="step", dynamic_ncols=True)

    def _picture(self, history: History):
        from IPython.display import Image
        from matplotlib.figure import Figure

        figure = Figure(figsize=(6.4, 3.6), layout="constrained")  # not pyplot: nothing shows by itself
        plot_loss_curves(history, ax=figure.add_subplot(), floor=self.floor)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=90)
        return Image(data=buffer.getvalue(), format="png")

    def update(self, history: History, evaluated: bool) -> None:
        if self.bar is not None:
            self.bar.n = history.last_step
            postfix = {"loss": f"{history.train_loss[-1]:.3f}"} if history.train_loss else {}
            if history.val_loss:
                postfix["val"] = f"{history.val_loss[-1]:.3f}"
            self.bar.set_postfix(postfix, refresh=False)
            self.bar.refresh()
        now = time.perf_counter()
        if self.mode == "live" and history.steps and (evaluated or now - self.last_draw > self.redraw_s):
            from IPython.display import display

            picture = self._picture(history)
            if self.handle is None:
                self.handle = display(picture, display_id=True)
            else:
                self.handle.update(picture)
            self.last_draw = time.perf_counter()

    def close(self, history: History, stopped: bool) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.mode == "off":
            return
        seconds = time.perf_counter() - self.started
        parts = [f"{'stopped' if stopped else 'trained'} at step {history.last_step} of {self.until}"
                 f" ({history.last_step - self.start} steps in {seconds:.1f} s)"]
        if history.train_loss:
            parts.append(f"train loss {history.train_loss[-1]:.3f}")
        if history.val_loss:
            parts.append(f"val loss {history.val_loss[-1]:.3f} (step {history.val_steps[-1]})")
        line = ", ".join(parts)
        if stopped:
            line += "; call train() again to continue"
        print(line)
        if self.mode == "live" and history.steps:
            self.update(history, evaluated=True)
        elif self.mode == "notebook" and history.steps:
            from IPython.display import display

            display(self._picture(history))


# ----------------------------------------------------------------------------------------- the trainer
class Trainer:
    """Trains a language model on 1-D tensors of token ids and remembers everything needed to continue.

    ``model(x, y)`` must return ``(logits, loss)`` (like ``nbutils.model.GPT``). ``train_data`` and
    ``val_data`` are 1-D ``torch.long`` tensors (``nbutils.data.encode_corpus``); batches come from
    ``nbutils.data.get_batch`` with the trainer's own seeded generator, so a run is the same every time.

    Creating a trainer seeds every random generator (``seed_everything(config.seed)``) and moves the model to
    ``config.device`` ("auto": ``nbutils.device.pick_device()``).

    Attributes a notebook may use: ``model``, ``optimizer``, ``history``, ``config``, ``device``, ``step``.
    """

    def __init__(self, model: nn.Module, train_data: torch.Tensor, val_data: torch.Tensor | None,
                 config: TrainConfig | None = None, *, optimizer: torch.optim.Optimizer | None = None,
                 history: History | None = None) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        config = config if config is not None else TrainConfig()
        if not isinstance(config, TrainConfig):
            raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
        self.config = config
        self.device = pick_device(None if config.device == "auto" else config.device)
        seed_everything(config.seed)
        self.model = model.to(self.device)
        model_context = getattr(getattr(model, "config", None), "context_length", None)
        self.context_length = config.context_length or model_context
        if self.context_length is None:
            raise ValueError("set TrainConfig.context_length: the model has no config.context_length to use")
        if model_context is not None and self.context_length > model_context:
            raise ValueError(f"TrainConfig.context_length={self.context_length} is longer than the model's "
                             f"context_length={model_context}")
        # train_data may also be a batch source: an object with sample(batch_size, context_length, generator,
        # device) -> (x, y), such as nbutils.data.StoryStream (fresh stories, each row from a story's start).
        self.batch_source = train_data if callable(getattr(train_data, "sample", None)) else None
        for name, data in (("train_data", train_data), ("val_data", val_data)):
            if (data is None and name == "val_data") or (name == "train_data" and self.batch_source is not None):
                continue
            if not isinstance(data, torch.Tensor) or data.dim() != 1 or data.dtype.is_floating_point:
                raise TypeError(f"{name} must be a 1-D tensor of token ids (see nbutils.data.encode_corpus)")
            if len(data) < self.context_length + 1:
                raise ValueError(f"{name} has {len(data)} tokens; one window needs context_length + 1 = "
                                 f"{self.context_length + 1}")
        self.train_data, self.val_data = train_data, val_data
        self.optimizer = optimizer if optimizer is not None else make_optimizer(self.model, config)
        self.history = history if history is not None else History()
        self.batch_generator = torch.Generator().manual_seed(config.seed)
        self.eval_batches = self._fixed_batches(val_data) if val_data is not None else []

    # ---- batches and evaluation
    def _fixed_batches(self, data: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The same ``eval_batches`` batches at every evaluation, so that the numbers are comparable."""
        generator = torch.Generator().manual_seed(self.config.seed + _EVAL_SEED_OFFSET)
        return [get_batch(data, self.config.batch_size, self.context_length, generator=generator, device=self.device)
                for _ in range(self.config.eval_batches)]

    @torch.no_grad()
    def evaluate(self, batches: list[tuple[torch.Tensor, torch.Tensor]] | None = None) -> float:
        """Mean loss over the fixed validation batches (or the given ones), with dropout off."""
        batches = self.eval_batches if batches is None else batches
        if not batches:
            raise ValueError("there is no validation data to evaluate on")
        was_training = self.model.training
        self.model.eval()
        try:
            losses = torch.stack([self.model(x, y)[1] for x, y in batches])
        finally:
            self.model.train(was_training)
        return losses.mean().item()

    @property
    def step(self) -> int:
        """How many updates have been made so far."""
        return self.history.last_step

    # ---- one update
    def _update(self, step: int) -> torch.Tensor:
        """Update number ``step`` (from 0): batch, forward, backward, clip, AdamW. Returns the loss tensor."""
        lr = lr_at(step, self.config)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        source = self.batch_source.sample if self.batch_source is not None else (
            lambda *args, **kwargs: get_batch(self.train_data, *args, **kwargs))
        x, y = source(self.config.batch_size, self.context_length, generator=self.batch_generator, device=self.device)
        _, loss = self.model(x, y)[:2]
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.grad_clip is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip, foreach=True)
        self.optimizer.step()
        return loss.detach()

    def _record(self, pending: list[torch.Tensor], first_step: int) -> None:
        """Copy the losses of the last few steps into the history (one device-to-host copy for all)."""
        if not pending:
            return
        tokens_per_step = self.config.batch_size * self.context_length
        for offset, value in enumerate(torch.stack(pending).tolist()):
            step = first_step + offset
            self.history.steps.append(step + 1)
            self.history.train_loss.append(value)
            self.history.lr.append(lr_at(step, self.config))
            self.history.tokens_seen.append((step + 1) * tokens_per_step)
        pending.clear()

    # ---- the loop
    def train(self, until: int | None = None, *, callback: Callable[[History], Any] | None = None,
              progress: str | None = None, floor: float | None = None) -> History:
        """Train until ``until`` updates in total (default: ``config.steps``) and return the history.

        Starts where the history ends, so calling it again continues an interrupted run. ``callback(history)``
        is called every ``config.log_every`` steps and after each evaluation. ``progress``: None chooses by
        itself (see the module docstring); or one of "live", "notebook", "terminal", "off". ``floor`` draws a
        dashed line in the loss plot.
        """
        cfg = self.config
        until = cfg.steps if until is None else until
        if isinstance(until, bool) or not isinstance(until, int) or until < 0:
            raise ValueError(f"until must be an int >= 0, got {until!r}")
        start = self.step
        display = _Progress(start, until, progress, floor)
        self.model.train()
        pending: list[torch.Tensor] = []
        first_pending = start
        stopped = False
        with _stop_requests() as stop:
            try:
                if start == 0 and self.eval_batches and not self.history.val_steps:
                    self._validate(0, display, callback)  # the loss before any training: about log(vocab_size)
                for step in range(start, until):
                    if stop["stop"]:
                        stopped = True
                        break
                    pending.append(self._update(step))
                    done = step + 1
                    evaluate = bool(self.eval_batches) and (done % cfg.eval_every == 0 or done == cfg.steps)
                    if len(pending) >= cfg.log_every or evaluate or done == until:
                        self._record(pending, first_pending)
                        first_pending = done
                        if not evaluate:
                            display.update(self.history, evaluated=False)
                            if callback is not None:
                                callback(self.history)
                    if evaluate:
                        self._validate(done, display, callback)
                stopped = stopped or (stop["stop"] and self.step < until)
            except KeyboardInterrupt:
                stopped = True
            finally:
                self._record(pending, first_pending)
        display.close(self.history, stopped)
        return self.history

    def _validate(self, done: int, display: _Progress, callback: Callable[[History], Any] | None) -> None:
        loss = self.evaluate()  # first, so that an interrupt cannot leave val_steps one longer than val_loss
        self.history.val_steps.append(done)
        self.history.val_loss.append(loss)
        display.update(self.history, evaluated=True)
        if callback is not None:
            callback(self.history)

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
    def from_checkpoint(cls, checkpoint, train_data: torch.Tensor, val_data: torch.Tensor | None,
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
