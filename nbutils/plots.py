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


# ---- notebook 11: scaling (how much data and compute) and parallel training ----------------------------------
def scaling_curves(N, D, loss, floor: float | None = None, law=None, axes=None, *,
                   title: str | None = "The sweep: validation loss against parameters, tokens and compute"):
    """Three log-log panels of a scaling sweep: loss against N (one line per token budget D), against D (one
    line per model size N) and against the compute 6ND. ``law``: an object with ``loss(N, D)`` (a fitted
    ``nbutils.scaling.ScalingLaw``), drawn dashed; ``floor``: the entropy floor, drawn dotted. Returns the 3 axes."""
    N, D, loss = _as_array(N), _as_array(D), _as_array(loss)
    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(15, 4.2), sharey=True)
    colours = plt.get_cmap("viridis")
    for ax, (x, group, group_name, unit) in zip(axes[:2], ((N, D, "D", "tokens"), (D, N, "N", "params"))):
        values = np.unique(group)
        for i, value in enumerate(values):
            pick = np.argsort(x[group == value])
            colour = colours(i / max(1, len(values) - 1))
            xs, ys = x[group == value][pick], loss[group == value][pick]
            amount = f"{value / 1e6:.2g}M" if value >= 1e6 else f"{value / 1e3:.3g}k"
            ax.plot(xs, ys, "o-", color=colour, label=f"{group_name} = {amount} {unit}")
            if law is not None and len(xs) > 1:
                grid = np.geomspace(xs.min(), xs.max(), 50)
                other = np.full_like(grid, value)
                predicted = law.loss(grid, other) if group_name == "D" else law.loss(other, grid)
                ax.plot(grid, predicted, "--", color=colour, lw=1)
        ax.legend(fontsize=8)
    C = 6 * N * D
    sizes = np.unique(N)
    for i, value in enumerate(sizes):
        pick = N == value
        axes[2].scatter(C[pick], loss[pick], color=colours(i / max(1, len(sizes) - 1)), label=f"N = {value / 1e3:,.0f}k")
    axes[2].legend(fontsize=8)
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    for ax, label in zip(axes, ("N: non-embedding parameters", "D: training tokens", "C = 6ND: training FLOPs")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(label)
        ax.xaxis.set_minor_formatter(NullFormatter())  # only the powers of ten, no crowded minor labels
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_formatter(ScalarFormatter())
        if floor is not None:
            ax.axhline(floor, color="black", ls=":", lw=1.2)
            ax.text(ax.get_xlim()[0], floor, " entropy floor", va="bottom", fontsize=8)
    axes[0].set_ylabel("validation loss (nats/token)")
    if title:
        axes[0].figure.suptitle(title)
    return axes


def accuracy_against_loss(groups: Mapping[str, tuple], floor: float | None = None, ax=None, *,
                          title: str | None = 'Does understanding follow loss? Answers to "Where is X?"'):
    """Answer accuracy against validation loss, one series per entry of ``groups``: ``name -> (losses, right,
    total)``, drawn with 95% Wilson intervals (``nbutils.metrics.wilson_interval``). Returns the axes."""
    from nbutils.metrics import wilson_interval

    ax = _new_axes(ax, (7, 4.2))
    for (name, (losses, right, total)), marker in zip(groups.items(), "os^D"):
        losses, right, total = _as_array(losses), _as_array(right), _as_array(total)
        low, high = np.array([wilson_interval(int(r), int(t)) for r, t in zip(right, total)]).T / 100  # percent
        share = right / total
        ax.errorbar(losses, share, yerr=[np.maximum(0, share - low), np.maximum(0, high - share)], fmt=marker, capsize=2, label=name)
    if floor is not None:
        ax.axvline(floor, color="black", ls=":", lw=1.2, label="entropy floor")
    ax.set_xlabel("validation loss (nats/token)")
    ax.set_ylabel("answerable questions right")
    ax.invert_xaxis()
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def parallelism_diagram(axes=None, *, title: str | None = "Four ways to spread training over 4 GPUs"):
    """What each of 4 devices holds in data parallelism (DDP), fully sharded data parallelism (FSDP), tensor
    and pipeline parallelism: the model as 4 layers (rows), each device a column. Returns the 4 axes."""
    from matplotlib.patches import Rectangle

    if axes is None:
        _, axes = plt.subplots(1, 4, figsize=(15, 3.6))
    colours = ("#cfe3f7", "#fbd9b5", "#cdebc5", "#f6c9d3")
    panels = (
        ("DDP: full copy each,\nown quarter of the batch", lambda d, layer: (0.0, 1.0, "all")),
        ("FSDP: each stores 1/4 of every\nlayer, gathers it to compute", lambda d, layer: (d / 4, 1 / 4, "1/4")),
        ("tensor parallel: each computes\n1/4 of every matrix", lambda d, layer: (d / 4, 1 / 4, "1/4")),
        ("pipeline: each computes\nwhole layers, in turn", lambda d, layer: (0.0, 1.0, "all") if layer == d else None),
    )
    for ax, (name, holds) in zip(axes, panels):
        for device in range(4):
            for layer in range(4):
                x, y = device * 1.2, 3 - layer
                ax.add_patch(Rectangle((x, y), 1.0, 0.8, fc="white", ec="#bbbbbb", lw=0.8))
                part = holds(device, layer)
                if part is not None:
                    start, width, label = part
                    ax.add_patch(Rectangle((x + start, y), width, 0.8, fc=colours[layer], ec="black", lw=0.8))
            ax.text(device * 1.2 + 0.5, -0.35, f"GPU {device}", ha="center", fontsize=9)
        for layer in range(4):
            ax.text(-0.1, 3 - layer + 0.4, f"layer {layer}", ha="right", va="center", fontsize=8)
        ax.set_xlim(-0.9, 4.8)
        ax.set_ylim(-0.6, 4.0)
        ax.axis("off")
        ax.set_title(name, fontsize=10)
    if title:
        axes[0].figure.suptitle(title)
    return axes


__all__ += ["scaling_curves", "accuracy_against_loss", "parallelism_diagram"]


# ---- notebook 10: induction heads --------------------------------------------------------------------------
def head_scores_map(scores, *, title: str | None = None, ax=None, vmin: float | None = 0.0, vmax: float | None = None,
                    cmap: str = "viridis", fmt: str = "{:.2f}", label: str = "score"):
    """A layer x head table of one score as a heat map, every cell labelled with its number, with a colour bar.
    ``scores``: (n_layer, n_head)."""
    table = _as_array(scores)
    if table.ndim != 2:
        raise ValueError(f"head_scores_map expects a (n_layer, n_head) table, got shape {table.shape}")
    n_layer, n_head = table.shape
    ax = _new_axes(ax, (0.9 * n_head + 1.8, 0.7 * n_layer + 1.2))
    high = float(np.nanmax(table)) if vmax is None else vmax
    image = ax.imshow(table, cmap=cmap, vmin=vmin, vmax=high)
    ax.set_xticks(range(n_head), [str(h) for h in range(n_head)])
    ax.set_yticks(range(n_layer), [str(i) for i in range(n_layer)])
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    middle = ((vmin if vmin is not None else float(np.nanmin(table))) + high) / 2
    for i in range(n_layer):
        for h in range(n_head):
            ax.text(h, i, fmt.format(table[i, h]), ha="center", va="center", fontsize=8,
                    color="black" if table[i, h] > middle else "white")
    ax.figure.colorbar(image, ax=ax, shrink=0.8, label=label)
    if title:
        ax.set_title(title)
    return ax


def copy_losses(curves: dict, n: int, *, title: str | None = None, ax=None):
    """Loss per position on a sequence of n random tokens followed by the same n again, one line per model.
    ``curves``: {label: losses of length 2n - 1} (entry t is the loss of the token at position t + 1); a
    dotted line marks where the second copy starts."""
    ax = _new_axes(ax, (8, 4))
    for label, losses in curves.items():
        values = _as_array(losses)
        ax.plot(np.arange(1, len(values) + 1), values, label=label)
    ax.axvline(n, color="grey", linestyle=":", label="second copy starts")
    ax.set_xlabel("position of the predicted token")
    ax.set_ylabel("loss (nats)")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def scores_over_training(tokens, series: dict, accuracy=None, *, title: str | None = None, ax=None):
    """Several measures of a model against tokens read, on one plot: ``series`` {label: values} on the left
    axis, ``accuracy`` (shares in [0, 1]) on a right-hand axis, one marker per checkpoint."""
    ax = _new_axes(ax, (8, 4.2))
    x = np.asarray(tokens, dtype=float) / 1e6
    for label, values in series.items():
        ax.plot(x, _as_array(values), marker="o", label=label)
    ax.set_xlabel("tokens read (millions)")
    ax.set_ylabel("score")
    handles, labels = ax.get_legend_handles_labels()
    if accuracy is not None:
        right = ax.twinx()
        line = right.plot(x, 100 * _as_array(accuracy), marker="s", color="black", linestyle="--",
                          label="answers right (%, right axis)")
        right.set_ylabel("answerable questions right (%)")
        right.set_ylim(0, 100)
        handles, labels = handles + line, labels + [line[0].get_label()]
    ax.legend(handles, labels, fontsize=8, loc="center right")
    if title:
        ax.set_title(title)
    return ax


__all__ += ["head_scores_map", "copy_losses", "scores_over_training"]


# ---- notebook 12: from the toy to the real thing --------------------------------------------------------------
def variant_losses(curves: Mapping[str, Sequence], *, title: str | None = None, ax=None, figsize=(8, 4.5)):
    """Validation loss against the step for architecture variants trained on the same data, one colour per
    variant and one line per seed: ``curves`` maps a variant to a list of runs, each a list of (step, loss)."""
    ax = _new_axes(ax, figsize)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, (name, runs) in enumerate(curves.items()):
        for j, run in enumerate(runs):
            steps, losses = zip(*run)
            ax.plot(steps, losses, color=colours[k % len(colours)], lw=1.5, alpha=0.9,
                    linestyle="-" if j == 0 else "--", label=f"{name}" if j == 0 else None)
    ax.set_xlabel("training step")
    ax.set_ylabel("validation loss (nats/token)")
    ax.set_title(title or "Variants on the same stories (solid: seed 0, dashed: seed 1)")
    ax.legend()
    ax.grid(alpha=0.3)
    return ax


def reliability_diagram(bins, *, title: str | None = None, ax=None, figsize=(5.5, 5)):
    """Accuracy against mean confidence per confidence bin (``nbutils.calibration.Bin`` or dicts with low, high,
    count, confidence, accuracy); the diagonal is perfect calibration, each bin is labelled with its count."""
    ax = _new_axes(ax, figsize)
    get = (lambda b, k: b[k]) if isinstance(bins[0], Mapping) else getattr
    ax.plot([0, 1], [0, 1], color="grey", lw=1, linestyle="--", label="perfectly calibrated")
    for b in bins:
        low, high, n = get(b, "low"), get(b, "high"), get(b, "count")
        if not n:
            continue
        acc = get(b, "accuracy")
        ax.bar(low, acc, width=high - low, align="edge", color="#4c72b0", alpha=0.75, edgecolor="white")
        ax.plot([get(b, "confidence")], [acc], "o", color="#dd8452")
        ax.annotate(str(n), (low + (high - low) / 2, acc), ha="center", va="bottom", fontsize=8)
    ax.plot([], [], "o", color="#dd8452", label="mean confidence of the bin")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("confidence of the greedy answer")
    ax.set_ylabel("share of answers right")
    ax.set_title(title or "Reliability diagram (numbers: answers per bin)")
    ax.legend(loc="upper left", fontsize=8)
    return ax


# ---- notebook 09: what the model knows about its world -------------------------------------------------------
def probe_accuracy_by_layer(series: Mapping[str, Sequence[float]], *, title: str | None = None, ax=None,
                            figsize=(6, 4), depth_labels: Sequence[str] | None = None):
    """Probe accuracy (held-out, in [0, 1]) against depth, one line per series ("final model", "untrained",
    "control task", "majority class", ...). Depth 0 is the embeddings, depth i the stream after block i."""
    ax = _new_axes(ax, figsize)
    n = 0
    for name, values in series.items():
        values = _as_array(values)
        n = max(n, len(values))
        dashed = any(word in name for word in ("control", "majority", "untrained"))
        ax.plot(range(len(values)), values, marker="o", linestyle="--" if dashed else "-", label=name)
    labels = list(depth_labels) if depth_labels is not None else ["embed"] + [f"block {i}" for i in range(n - 1)]
    ax.set_xticks(range(n), labels[:n])
    ax.set_ylim(0, 1)
    ax.set_xlabel("depth in the residual stream")
    ax.set_ylabel("held-out accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def patching_heatmap(grid, row_labels: Sequence[str], col_labels: Sequence[str], *, title: str | None = None,
                     ax=None, figsize=(9, 3.5), vmin: float = -0.2, vmax: float = 1.0, annotate: bool = False,
                     xlabel: str = "patched position", colorbar_label: str = "patch effect (0 corrupt, 1 clean)"):
    """A (depth x position) map of activation-patching effects (``nbutils.patching``), with a colour bar."""
    ax = _new_axes(ax, figsize)
    values = _as_array(grid)
    image = ax.imshow(np.ma.masked_invalid(values), aspect="auto", cmap="viridis", vmin=vmin, vmax=vmax)
    ax.set_yticks(range(len(row_labels)), list(row_labels))
    ax.set_xticks(range(len(col_labels)), [visible(c) for c in col_labels], rotation=90, fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("patched depth")
    if annotate:
        for i in range(values.shape[0]):
            for j in range(values.shape[1]):
                if np.isfinite(values[i, j]):
                    ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=7,
                            color="white" if values[i, j] < 0.6 else "black")
    ax.figure.colorbar(image, ax=ax, label=colorbar_label)
    if title:
        ax.set_title(title)
    return ax
