"""Every figure of the course, defined once and reused in every notebook.

The functions take plain numbers (lists, NumPy arrays or torch tensors) and know nothing about models, so a
student can call them on anything. Each draws into a matplotlib ``Axes`` (a new figure when ``ax`` is None) and
returns that ``Axes``. In a notebook, finish a plotting cell with ``plt.show()`` so that only the picture
is shown, not the text of the returned object.

- ``probability_bars``   a probability distribution as bars, optionally beside a second one (model vs truth)
- ``attention_map``      one attention matrix as a heatmap with the tokens on both axes
- ``attention_heads``    a grid of attention maps, one per head
- ``loss_curves``        training and validation loss against the step, with an optional entropy floor
- ``token_colours``      text split into tokens, each token on its own coloured background (HTML)
"""

from __future__ import annotations

import html
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["probability_bars", "attention_map", "attention_heads", "loss_curves", "token_colours", "visible"]

# Colour-blind friendly pastel backgrounds for token colouring (cycled).
_TOKEN_BACKGROUNDS = ("#cfe3f7", "#fbd9b5", "#cdebc5", "#f6c9d3", "#e2d5f2", "#f9efb0", "#c7ecec", "#e8dccd")


def _as_array(values) -> np.ndarray:
    """Turn a list, NumPy array or torch tensor (on any device) into a float NumPy array."""
    if hasattr(values, "detach"):
        values = values.detach().float().cpu().numpy()
    return np.asarray(values, dtype=float)


def visible(token: str) -> str:
    """Make whitespace visible in a token label: a space becomes '·', a newline '↵', a tab '→'."""
    return token.replace(" ", "·").replace("\n", "↵").replace("\t", "→")


def _new_axes(ax, figsize):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def probability_bars(
    probs: Mapping[str, float] | Sequence[float],
    labels: Sequence[str] | None = None,
    *,
    compare: Mapping[str, float] | None = None,
    names: tuple[str, str] = ("model", "truth"),
    top: int | None = 12,
    title: str | None = None,
    ax=None,
):
    """Draw a probability distribution as bars, largest first.

    ``probs`` is a mapping ``{label: probability}`` or a sequence of numbers with ``labels`` beside it.
    With ``compare`` (another mapping, e.g. the true distribution) the two are drawn side by side for the
    union of their ``top`` most likely labels.
    """
    if not isinstance(probs, Mapping):
        values = _as_array(probs).ravel()
        if labels is None:
            labels = [str(i) for i in range(len(values))]
        if len(labels) != len(values):
            raise ValueError(f"got {len(values)} probabilities but {len(labels)} labels")
        probs = dict(zip(labels, values.tolist()))
    if not probs:
        raise ValueError("probability_bars needs at least one probability")
    def most_likely(dist: Mapping[str, float]) -> list[str]:
        ranked = sorted(dist, key=lambda k: (-dist[k], str(k)))
        return ranked[:top] if top else ranked

    chosen = most_likely(probs)
    if compare is not None:  # the union of both distributions' most likely labels, largest first
        union = set(chosen) | set(most_likely(compare))
        chosen = sorted(union, key=lambda k: (-max(probs.get(k, 0.0), compare.get(k, 0.0)), str(k)))
    ax = _new_axes(ax, (max(4.0, 0.55 * len(chosen) + 1.5), 3.2))
    x = np.arange(len(chosen))
    if compare is None:
        ax.bar(x, [probs[k] for k in chosen], color="#4c72b0")
    else:
        width = 0.4
        ax.bar(x - width / 2, [probs.get(k, 0.0) for k in chosen], width, label=names[0], color="#4c72b0")
        ax.bar(x + width / 2, [compare.get(k, 0.0) for k in chosen], width, label=names[1], color="#dd8452")
        ax.legend(frameon=False)
    ax.set_xticks(x, [visible(str(k)) for k in chosen], rotation=45 if len(chosen) > 6 else 0, ha="right" if len(chosen) > 6 else "center")
    ax.set_ylabel("probability")
    ax.set_ylim(0, max(1e-9, max([probs.get(k, 0.0) for k in chosen] + ([compare.get(k, 0.0) for k in chosen] if compare else []))) * 1.15)
    if title:
        ax.set_title(title)
    return ax


def attention_map(
    weights,
    tokens: Sequence[str] | None = None,
    *,
    query_tokens: Sequence[str] | None = None,
    title: str | None = None,
    annotate: bool | None = None,
    colorbar: bool = True,
    ax=None,
):
    """Draw one attention matrix: row i shows how much query position i attends to each key position.

    ``weights`` has shape (T_query, T_key). ``tokens`` label the keys (x axis) and, unless ``query_tokens`` is
    given, the queries too (y axis). Small matrices are annotated with their numbers.
    """
    matrix = _as_array(weights)
    if matrix.ndim != 2:
        raise ValueError(f"attention_map expects a 2-D (queries, keys) matrix, got shape {matrix.shape}")
    n_query, n_key = matrix.shape
    key_labels = [visible(t) for t in tokens] if tokens is not None else [str(i) for i in range(n_key)]
    query_labels = [visible(t) for t in query_tokens] if query_tokens is not None else (
        key_labels if n_query == n_key else [str(i) for i in range(n_query)])
    if len(key_labels) != n_key or len(query_labels) != n_query:
        raise ValueError(f"matrix is {n_query}x{n_key} but got {len(query_labels)} query and {len(key_labels)} key labels")
    ax = _new_axes(ax, (0.45 * n_key + 2.2, 0.4 * n_query + 1.4))
    image = ax.imshow(matrix, cmap="Blues", vmin=0.0, vmax=max(1e-9, float(np.nanmax(matrix))) if matrix.size else 1.0)
    ax.set_xticks(range(n_key), key_labels, rotation=90)
    ax.set_yticks(range(n_query), query_labels)
    ax.set_xlabel("key (attended to)")
    ax.set_ylabel("query (attending)")
    if annotate is None:
        annotate = n_query * n_key <= 64
    if annotate:
        for i in range(n_query):
            for j in range(n_key):
                value = matrix[i, j]
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if value > 0.6 * np.nanmax(matrix) else "black")
    if colorbar:
        ax.figure.colorbar(image, ax=ax, shrink=0.8)
    if title:
        ax.set_title(title)
    return ax


def attention_heads(weights, tokens: Sequence[str] | None = None, *, ncols: int = 4, title: str | None = None,
                    head_names: Sequence[str] | None = None):
    """Draw a grid of attention maps, one per head, each with its colour bar. ``weights`` has shape (n_head, T, T).
    Returns the figure."""
    stack = _as_array(weights)
    if stack.ndim != 3:
        raise ValueError(f"attention_heads expects (n_head, T, T) weights, got shape {stack.shape}")
    n_head, n_query, n_key = stack.shape
    ncols = max(1, min(ncols, n_head))
    nrows = (n_head + ncols - 1) // ncols
    size = 0.32 * max(n_key, 4) + 1.0
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False, layout="constrained")
    for h in range(nrows * ncols):
        ax = axes[h // ncols][h % ncols]
        if h >= n_head:
            ax.axis("off")
            continue
        name = head_names[h] if head_names else f"head {h}"
        # each panel has its own colour scale (0 to its largest weight), so each gets its own colour bar
        attention_map(stack[h], tokens, title=name, annotate=False, colorbar=True, ax=ax)
        if h % ncols:
            ax.set_ylabel("")
        if h // ncols < nrows - 1:
            ax.set_xlabel("")
    if title:
        fig.suptitle(title)
    return fig


def loss_curves(
    steps: Sequence[float],
    train_loss: Sequence[float] | None = None,
    *,
    val_steps: Sequence[float] | None = None,
    val_loss: Sequence[float] | None = None,
    floor: float | None = None,
    floor_label: str = "entropy floor (true process)",
    title: str | None = "Loss during training",
    ylabel: str = "cross-entropy loss (nats per token)",
    ax=None,
):
    """Draw training loss (thin) and validation loss (markers) against the step.

    ``floor`` draws a dashed horizontal line: the lowest loss any model can reach on this data.
    """
    ax = _new_axes(ax, (6.4, 3.6))
    if train_loss is not None:
        train = _as_array(train_loss)
        ax.plot(_as_array(steps)[: len(train)], train, lw=1.0, alpha=0.8, label="train", color="#4c72b0")
    if val_loss is not None:
        if val_steps is None:
            raise ValueError("val_loss needs val_steps: the step at which each validation loss was measured")
        ax.plot(_as_array(val_steps), _as_array(val_loss), "o-", ms=3.5, lw=1.5, label="validation", color="#dd8452")
    if floor is not None:
        ax.axhline(floor, ls="--", color="gray", lw=1.0, label=floor_label)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    if title:
        ax.set_title(title)
    return ax


def token_colours(pieces: Sequence[str], ids: Sequence[int] | None = None, *, title: str | None = None):
    """Show text split into tokens, each token on its own background colour.

    ``pieces`` are the tokens' texts in order (their concatenation is the text); ``ids``, when given, appear as a
    tooltip and as small numbers under each token. Returns an ``IPython.display.HTML`` object, so it shows as a
    picture in JupyterLab and as stable HTML in stored outputs.
    """
    from IPython.display import HTML

    if ids is not None and len(ids) != len(pieces):
        raise ValueError(f"got {len(pieces)} pieces but {len(ids)} ids")
    spans = []
    for i, piece in enumerate(pieces):
        colour = _TOKEN_BACKGROUNDS[i % len(_TOKEN_BACKGROUNDS)]
        label = html.escape(visible(piece))
        number = f"<sub style='color:#555;font-size:70%'>{ids[i]}</sub>" if ids is not None else ""
        tip = f" title='id {ids[i]}'" if ids is not None else ""
        spans.append(f"<span{tip} style='background:{colour};padding:1px 2px;margin:0 1px;border-radius:3px;"
                     f"font-family:monospace;white-space:pre'>{label}{number}</span>")
    heading = f"<div style='font-weight:bold;margin-bottom:2px'>{html.escape(title)}</div>" if title else ""
    count = f"<div style='color:#555;font-size:85%'>{len(pieces)} tokens</div>"
    return HTML(f"<div class='nbutils-tokens'>{heading}<div style='line-height:2.0'>{''.join(spans)}</div>{count}</div>")


def gpt_diagram(ax=None, *, title: str | None = "A GPT: every block reads the residual stream and adds its result "
                "back to it"):
    """A diagram of a GPT (notebook 04): token ids, the embeddings, the residual stream with one block's two
    branches (LayerNorm -> attention, LayerNorm -> MLP, each added back), the final LayerNorm and the tied
    LM head. Draws into ``ax`` (a new 12 x 3.9 inch figure when None) and returns it."""
    from matplotlib.patches import Circle, FancyBboxPatch

    ax = _new_axes(ax, (12, 3.9))
    ax.set_xlim(-0.1, 14.0)
    ax.set_ylim(-1.4, 2.3)
    ax.axis("off")
    stream_colour, branch_colour = "#4c72b0", "#555555"

    def box(x, y, label, colour, width=1.5, height=0.85):
        ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                                    boxstyle="round,pad=0.04", fc=colour, ec="black", lw=1))
        ax.text(x, y, label, ha="center", va="center", fontsize=9.5)

    def arrow(x0, y0, x1, y1, colour="black", lw=1.4):
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                    arrowprops=dict(arrowstyle="-|>", color=colour, lw=lw, shrinkA=0, shrinkB=0))

    def plus(x):
        ax.add_patch(Circle((x, 0), 0.2, fc="white", ec="black", lw=1.2, zorder=3))
        ax.text(x, 0, "+", ha="center", va="center", fontsize=13, zorder=4)

    box(0.75, 0, "token ids\n(B, T)", "#eeeeee", width=1.3)
    arrow(1.4, 0, 1.9, 0)
    box(2.75, 0, "token emb.\n+ position emb.", "#cfe3f7", width=1.7)
    # the residual stream: embeddings -> block -> final LayerNorm
    arrow(3.6, 0, 6.1, 0, stream_colour, lw=3)
    arrow(6.3, 0, 8.8, 0, stream_colour, lw=3)
    arrow(9.0, 0, 9.85, 0, stream_colour, lw=3)
    ax.text(5.2, -0.3, "residual stream x, (B, T, C)", ha="center", va="top", fontsize=9, color=stream_colour)
    # the two branches of one block: read (through a LayerNorm), compute, add back
    for start, end, label, colour in ((4.3, 6.2, "LayerNorm\n→ attention", "#fbd9b5"),
                                      (6.9, 8.9, "LayerNorm\n→ MLP", "#cdebc5")):
        middle = (start + end) / 2
        ax.plot([start, start], [0, 1.3], color=branch_colour, lw=1.4)
        arrow(start, 1.3, middle - 0.84, 1.3, branch_colour)
        box(middle, 1.3, label, colour, width=1.6)
        ax.plot([middle + 0.8, end], [1.3, 1.3], color=branch_colour, lw=1.4)
        arrow(end, 1.3, end, 0.2, branch_colour)
        plus(end)
    ax.add_patch(FancyBboxPatch((3.95, -0.62), 5.3, 2.55, boxstyle="round,pad=0.02", fc="none",
                                ec="gray", ls="--", lw=1.2))
    ax.text(4.05, 2.05, "one block, repeated n_layer times", fontsize=9.5, color="gray", va="bottom")
    box(10.7, 0, "final\nLayerNorm", "#e2d5f2", width=1.3)
    arrow(11.35, 0, 11.75, 0)
    box(12.5, 0, "LM head\nlogits (B, T, V)", "#f6c9d3", width=1.5)
    # weight tying: the head reuses the token embedding matrix
    ax.annotate("", xy=(12.5, -0.45), xytext=(2.75, -0.45),
                arrowprops=dict(arrowstyle="<|-|>", color="#c44e52", lw=1.2, ls="--",
                                connectionstyle="arc3,rad=0.12", shrinkA=0, shrinkB=0))
    ax.text(7.6, -1.2, "the same matrix (weight tying)", ha="center", fontsize=9, color="#c44e52")
    if title:
        ax.set_title(title)
    return ax


__all__ += ["gpt_diagram"]
