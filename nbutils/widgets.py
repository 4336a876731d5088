"""Interactive front ends (ipywidgets) for the course's pictures.

Every widget here is a thin layer over a function from ``nbutils.plots``: moving a slider simply redraws the
picture with new values. When no front end is attached (a notebook executed by nbval or nbconvert, where
nobody can move a slider), a widget instead shows the static picture for its starting values, so stored
outputs stay meaningful and deterministic.

How we know whether a front end is attached: jupyter-server (JupyterLab, Notebook 7) sets the environment
variable ``JPY_SESSION_NAME`` for every kernel it starts; nbval and nbconvert start kernels without it.
Set ``NBUTILS_LIVE=1`` (or ``0``; ``NBUTILS_WIDGETS`` is read too) to force interactive (or static) mode.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import matplotlib.pyplot as plt
from IPython.display import display

from nbutils import plots
from nbutils.validate import require_int

__all__ = ["front_end_attached", "interactive_view", "temperature_explorer", "token_explorer", "attention_explorer",
           "generation_explorer"]


def front_end_attached() -> bool:
    """True when a person can interact with widgets (JupyterLab); False under nbval or nbconvert.
    The course's one test of that: ``nbutils.progress.person_watching``."""
    from nbutils.progress import person_watching

    return person_watching()


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

    if not front_end_attached():  # no slider objects at all: they would leave widget state in the notebook file
        _show(draw(temperature))
        return
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


def generation_explorer(model, tokenizer, *, prompt: str = "The cat is on the", temperature: float = 1.0,
                        top_k: int | None = None, top_p: float = 1.0, length: int = 40, seed: int = 0,
                        top: int = 12) -> None:
    """Write text with a language model: a prompt box and sliders for temperature, top-k, top-p and length.

    Each setting shows two things: a bar chart of the next-token distribution after the prompt, once the
    filters are applied (beside the model's plain distribution), and a text generated with those settings.
    The text is sampled with a ``torch.Generator`` seeded with ``seed`` (a slider too), so the same settings
    always give the same text. ``temperature=0`` is greedy decoding; ``top_k=None`` (or 0) and ``top_p=1``
    switch the filters off. A prompt longer than the model's context is cropped to its last tokens, and a
    line above the text says so. Without a front end (nbval, nbconvert), the chart and the text for the
    starting values are shown once, and no controls are made.
    """
    import html as html_module

    import torch
    from IPython.display import HTML

    from nbutils.generate import generate, next_token_logits, sampling_distribution

    top_k = 0 if top_k is None else top_k
    if not isinstance(prompt, str):
        raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature >= 0:
        raise ValueError(f"temperature must be a number >= 0 (0 means greedy), got {temperature!r}")
    require_int("top_k (0: no top-k filtering)", top_k, minimum=0)
    if isinstance(top_p, bool) or not isinstance(top_p, (int, float)) or not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p must be a number in (0, 1] (1 keeps every token), got {top_p!r}")
    require_int("length", length)
    require_int("seed", seed, minimum=0)
    require_int("top", top)
    if not prompt or not tokenizer.encode(prompt):
        raise ValueError("the prompt is empty: give at least one character to start from")
    context = getattr(getattr(model, "config", None), "context_length", None)
    vocab_size = tokenizer.vocab_size
    labels = _unique_labels([tokenizer.token_str(i) for i in range(vocab_size)])

    def draw(prompt: str, temperature: float, top_k: int, top_p: float, length: int, seed: int):
        try:
            ids = tokenizer.encode(prompt) if prompt else []
        except ValueError as error:  # e.g. a character that a character-level tokenizer never saw
            return HTML(f"<i>Cannot encode this prompt: {html_module.escape(str(error))}</i>")
        if not ids:
            return HTML("<i>Type a prompt: the model needs at least one token to start from.</i>")
        note = ""
        if context is not None and len(ids) > context:
            note = (f"The prompt has {len(ids)} tokens but the model reads at most {context}: "
                    f"only its last {context} tokens are used.")
            ids = ids[-context:]
        logits = next_token_logits(model, ids)
        probs = sampling_distribution(logits, temperature, top_k or None, top_p if top_p < 1 else None)
        plain = torch.softmax(logits, dim=-1)
        kept = int((probs > 0).sum())
        settings = (f"T = {temperature:.2f}, top-k {top_k if top_k else 'off'}, "
                    f"top-p {f'{top_p:.2f}' if top_p < 1 else 'off'}")
        after = {label: p for label, p in zip(labels, probs.tolist()) if p > 0}  # the tokens that can be drawn
        ax = plots.probability_bars(after, top=top,
                                    compare=dict(zip(labels, plain.tolist())),
                                    names=("after the filters", "model (T = 1, no filter)"),
                                    title=f"Next token: {settings} ({kept} of {vocab_size} tokens kept)")
        _show(ax)
        generator = torch.Generator().manual_seed(seed)
        new_ids = generate(model, ids, length, temperature=temperature, top_k=top_k or None,
                           top_p=top_p if top_p < 1 else None, generator=generator)[len(ids):].tolist()
        shown_prompt = html_module.escape(tokenizer.decode(ids))
        continuation = html_module.escape(tokenizer.decode(new_ids))
        warning = f"<div style='color:#a33'>{html_module.escape(note)}</div>" if note else ""
        return HTML(f"<div class='nbutils-generation'>{warning}"
                    f"<div style='color:#555;font-size:85%'>{length} new tokens, {settings}, seed {seed}</div>"
                    f"<div style='font-family:monospace;white-space:pre-wrap'><b>{shown_prompt}</b>"
                    f"{continuation}</div></div>")

    if not front_end_attached():  # static: the chart and the text for the starting values, no controls
        _show(draw(prompt, float(temperature), top_k, float(top_p), length, seed))
        return

    import ipywidgets as widgets

    box = widgets.Text(value=prompt, description="prompt", continuous_update=False,
                       layout=widgets.Layout(width="90%"))
    controls = {
        "prompt": box,
        "temperature": widgets.FloatSlider(value=temperature, min=0.0, max=max(2.0, float(temperature)), step=0.05,
                                           description="temperature", continuous_update=False),
        "top_k": widgets.IntSlider(value=top_k, min=0, max=max(min(vocab_size, 100), top_k),
                                   description="top-k (0: off)", continuous_update=False),
        "top_p": widgets.FloatSlider(value=top_p, min=min(0.01, float(top_p)), max=1.0, step=0.01,
                                     description="top-p (1: off)", continuous_update=False),
        "length": widgets.IntSlider(value=length, min=1, max=max(100, length), description="length",
                                    continuous_update=False),
        "seed": widgets.IntSlider(value=seed, min=0, max=max(99, seed), description="seed",
                                  continuous_update=False),
    }
    for control in controls.values():
        control.style.description_width = "initial"
    interactive_view(draw, controls, title="Generate text: change the settings, see the distribution and a sample")


def _unique_labels(labels: Sequence[str]) -> list[str]:
    """Labels for a bar chart keyed by label: a label seen before gets its position appended (``'�' #201``)."""
    seen: set[str] = set()
    unique = []
    for i, label in enumerate(labels):
        if label in seen:
            label = f"{label} #{i}"
        seen.add(label)
        unique.append(label)
    return unique
