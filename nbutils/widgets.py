"""Interactive front ends (ipywidgets) for the course's pictures.

Every widget here is a thin layer over a function from ``nbutils.plots``: moving a slider simply redraws the
picture with new values. When no front end is attached (a notebook executed by nbval or nbconvert, where
nobody can move a slider), a widget instead shows the static picture for its starting values, so stored
outputs stay meaningful and deterministic.

How we know whether a front end is attached: jupyter-server (JupyterLab, Notebook 7) sets the environment
variable ``JPY_SESSION_NAME`` for every kernel it starts; nbval and nbconvert start kernels without it.
Set ``NBUTILS_WIDGETS=1`` (or ``0``) to force interactive (or static) mode.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Mapping, Sequence

import matplotlib.pyplot as plt
from IPython.display import display

from nbutils import plots

__all__ = ["front_end_attached", "interactive_view", "temperature_explorer", "token_explorer", "attention_explorer"]


def front_end_attached() -> bool:
    """True when a person can interact with widgets (JupyterLab); False under nbval or nbconvert."""
    forced = os.environ.get("NBUTILS_WIDGETS")
    if forced in ("0", "1"):
        return forced == "1"
    return bool(os.environ.get("JPY_SESSION_NAME"))


def _show(result: Any) -> None:
    """Display what a draw function returned: a matplotlib Figure or Axes, or anything IPython can show."""
    figure = getattr(result, "figure", None) if not isinstance(result, plt.Figure) else result
    if isinstance(figure, plt.Figure):
        display(figure)
        plt.close(figure)
    elif result is not None:
        display(result)


def interactive_view(draw: Callable[..., Any], controls: Mapping[str, Any], *, title: str | None = None) -> None:
    """Show ``draw(**values)`` with one control (an ipywidgets widget) per keyword argument.

    With a front end, moving a control redraws the output below the controls. Without one, the picture for
    the controls' starting values is shown once, as a static image.
    """
    values = {name: control.value for name, control in controls.items()}
    if not front_end_attached():
        _show(draw(**values))
        return

    import ipywidgets as widgets

    output = widgets.Output()

    def redraw(_change=None) -> None:
        with output:
            output.clear_output(wait=True)
            _show(draw(**{name: control.value for name, control in controls.items()}))

    for control in controls.values():
        control.observe(redraw, names="value")
    children = ([widgets.HTML(f"<b>{title}</b>")] if title else []) + [*controls.values(), output]
    box = widgets.VBox(children)
    box.add_class("nbutils-widget")
    redraw()
    display(box)


def temperature_explorer(logits, labels: Sequence[str], *, temperature: float = 1.0, top: int = 12,
                         title: str = "Softmax with temperature") -> None:
    """A temperature slider over a bar chart of softmax(logits / T): see low T sharpen and high T flatten."""
    import ipywidgets as widgets
    import torch

    logits = torch.as_tensor(logits, dtype=torch.float32)

    def draw(temperature: float):
        probs = torch.softmax(logits / temperature, dim=-1)
        return plots.probability_bars(probs, labels, top=top, title=f"{title}, T = {temperature:.2f}")

    slider = widgets.FloatSlider(value=temperature, min=0.1, max=3.0, step=0.1, description="temperature",
                                 continuous_update=False)
    interactive_view(draw, {"temperature": slider})


def token_explorer(tokenizers: Mapping[str, Any], text: str, *, start: str | None = None) -> None:
    """Type text and see its tokens coloured; a slider chooses the tokenizer.

    ``tokenizers`` maps a display name to any object with ``encode(text)`` and ``token_str(id)``.
    """
    import ipywidgets as widgets

    if not tokenizers:
        raise ValueError("token_explorer needs at least one tokenizer")
    names = list(tokenizers)

    def draw(text: str, tokenizer: str):
        from IPython.display import HTML

        tok = tokenizers[tokenizer]
        try:
            ids = tok.encode(text)
        except ValueError as error:  # e.g. a character the character-level tokenizer never saw
            return HTML(f"<b>{tokenizer}</b>: <i>cannot encode this text: {error}</i>")
        return plots.token_colours([tok.token_str(i) for i in ids], ids, title=tokenizer)

    if not front_end_attached():  # static: every tokenizer on the same text, one below the other
        for name in names:
            _show(draw(text, name))
        return
    box = widgets.Textarea(value=text, description="text", layout=widgets.Layout(width="90%"))
    chooser = widgets.SelectionSlider(options=names, value=start or names[0], description="tokenizer",
                                      continuous_update=False, layout=widgets.Layout(width="90%"))
    interactive_view(draw, {"text": box, "tokenizer": chooser})


def attention_explorer(attentions, tokens: Sequence[str], *, layer: int = 0, head: int = 0, ncols: int = 2) -> None:
    """Pick a layer and a head with sliders and see that head's attention map.

    ``attentions`` is a list (one per layer) of (n_head, T, T) tensors, or a (n_layer, n_head, T, T) array.
    Without a front end, the static picture is the grid of every head of ``layer``, ``ncols`` maps a row.
    """
    import ipywidgets as widgets

    layers = [plots._as_array(a) for a in attentions]
    if not layers or layers[0].ndim != 3:
        raise ValueError("attention_explorer expects one (n_head, T, T) array per layer")
    if not front_end_attached():
        _show(plots.attention_heads(layers[layer], tokens, ncols=ncols, title=f"layer {layer}: every head"))
        return

    def draw(layer: int, head: int):
        return plots.attention_map(layers[layer][head], tokens, title=f"layer {layer}, head {head}")

    layer_slider = widgets.IntSlider(value=layer, min=0, max=len(layers) - 1, description="layer")
    head_slider = widgets.IntSlider(value=head, min=0, max=layers[0].shape[0] - 1, description="head")
    interactive_view(draw, {"layer": layer_slider, "head": head_slider})
