"""What a person sees while a model trains: a progress bar and a loss plot that redraws itself.

``nbutils.train`` draws nothing; the caller hands a display to it::

    >>> from nbutils.progress import TrainingProgress                          # doctest: +SKIP
    >>> trainer.train(progress=TrainingProgress(floor=0.45))                    # doctest: +SKIP

- ``person_watching``   the one test of "is a person watching?", used by this module and by the widgets
- ``TrainingProgress``  the display: ``start``, ``update`` and ``close`` are what ``Trainer.train`` calls
- ``plot_loss_curves``  training and validation loss of a ``History`` in one picture

Is a person watching? JupyterLab (jupyter-server) sets the environment variable ``JPY_SESSION_NAME`` for the
kernels it starts; nbval and nbconvert start kernels without it. So in JupyterLab the display is *live*
(a tqdm bar and a plot redrawn while training); in a notebook run by nbval it stays quiet and draws the
plot once, at the end, so that stored outputs are the same at every run. ``NBUTILS_LIVE=1`` (or ``0``)
forces the answer (``NBUTILS_WIDGETS``, its older name for the widgets, is read too).

The stop button: JupyterLab's stop button sends the same signal as Ctrl-C; ``Trainer.train`` finishes
the step in progress and returns, and this display prints where it stopped.
"""

from __future__ import annotations

import io
import os
import sys
import time
from typing import Any, Mapping

from nbutils.train import History

__all__ = ["person_watching", "in_notebook", "TrainingProgress", "plot_loss_curves"]

_MODES = ("live", "notebook", "terminal", "off")


def person_watching() -> bool:
    """True when a person watches the notebook (JupyterLab sets ``JPY_SESSION_NAME`` for its kernels);
    ``NBUTILS_LIVE=1`` / ``0`` forces the answer (``NBUTILS_WIDGETS`` is its older name)."""
    for name in ("NBUTILS_LIVE", "NBUTILS_WIDGETS"):
        forced = os.environ.get(name)
        if forced in ("0", "1"):
            return forced == "1"
    return bool(os.environ.get("JPY_SESSION_NAME"))


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where pictures can be displayed)."""
    shell = sys.modules.get("IPython")
    get = getattr(shell, "get_ipython", None)
    return bool(get and get() is not None and "IPKernelApp" in getattr(get(), "config", {}))


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


class TrainingProgress:
    """The progress bar and the live loss plot of a run; quiet when nobody watches.

    ``mode``: None chooses by itself (``"live"`` when a person watches a notebook, ``"notebook"`` in a notebook
    run by nbval, ``"terminal"`` elsewhere); or one of

    - ``"live"``:      tqdm bar + a plot redrawn at every evaluation and at most every ``redraw_s`` seconds;
    - ``"notebook"``:  nothing while training, then one summary line and the final plot;
    - ``"terminal"``:  a text progress bar on stderr (when stderr is a terminal), then the summary line;
    - ``"off"``:       nothing at all.

    ``floor`` draws a dashed line in the loss plot. One display may serve several ``train`` calls.
    """

    def __init__(self, mode: str | None = None, floor: float | None = None, redraw_s: float = 2.0) -> None:
        if mode is not None and mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES} or None, got {mode!r}")
        self.mode = mode if mode is not None else (
            "live" if person_watching() and in_notebook() else "notebook" if in_notebook() else "terminal")
        self.floor, self.redraw_s = floor, redraw_s
        self.start_step, self.until = 0, 0
        self.started = self.last_draw = 0.0
        self.bar = None
        self.handle = None

    def start(self, step: int, until: int) -> None:
        """A ``train`` call begins at update ``step`` and runs until update ``until``."""
        self.start_step, self.until = step, until
        self.started = time.perf_counter()
        self.handle = None  # every train call draws its own picture
        if self.mode == "live" or (self.mode == "terminal" and sys.stderr.isatty()):
            from tqdm.auto import tqdm

            self.bar = tqdm(total=until, initial=step, unit="step", dynamic_ncols=True)

    def _picture(self, history: History):
        from IPython.display import Image
        from matplotlib.figure import Figure

        figure = Figure(figsize=(6.4, 3.6), layout="constrained")  # not pyplot: nothing shows by itself
        plot_loss_curves(history, ax=figure.add_subplot(), floor=self.floor)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=90)
        return Image(data=buffer.getvalue(), format="png")

    def update(self, history: History, evaluated: bool) -> None:
        """New losses are in ``history`` (``evaluated``: a validation loss among them)."""
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
        """The ``train`` call ended (``stopped``: by the stop button or Ctrl-C): one summary line, the plot."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.mode == "off":
            return
        seconds = time.perf_counter() - self.started
        parts = [f"{'stopped' if stopped else 'trained'} at step {history.last_step} of {self.until}"
                 f" ({history.last_step - self.start_step} steps in {seconds:.1f} s)"]
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
