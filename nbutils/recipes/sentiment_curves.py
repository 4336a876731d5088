"""Learning curves of sentiment classifiers: accuracy against the number of labelled training reviews.

    python -m nbutils.recipes.sentiment_curves            # writes nbutils/assets/sentiment_curves.json
    python -m nbutils.recipes.sentiment_curves --out FILE --threads 2

For each training-set size (16, 64, 256, 1024 and all 4000 reviews of ``sentiment_dataset(seed=0)``) it
trains four classifiers on the same balanced random subset and measures their accuracy on the test set
(1000 reviews, the training constructions) and on the hard set (500 reviews, constructions never seen in
training):

- ``finetune``     the pretrained world model (``nbutils.pretrain.WORLD_MODEL``) with a classification head, every weight fine-tuned;
- ``scratch``      the same architecture with random initial weights, trained on the labelled reviews only;
- ``frozen``       the pretrained world model, body frozen: only a linear head learns. With a frozen body
                   the last-token features never change, so they are computed once and a linear head on
                   them is fitted to convergence (logistic regression, L-BFGS), once per L2 penalty of
                   ``FROZEN_L2_GRID``; the penalty with the best accuracy on the validation split (500
                   reviews, never the test set) is kept and recorded in the run (``"l2"``);
- ``bow``          bag of words + logistic regression (``bow_bigrams``: words and pairs of words).

The two trained GPTs get the same recipe (AdamW, warm-up and cosine decay, batches of 32): about 15
passes over small sets, at least 40 and at most 300 steps. Every size is repeated with 3 seeds (``--max-seeds``):
seed ``s`` draws the subset and initialises the head (and the scratch body), and every method of one seed
trains on the same subset, so two methods can be compared seed by seed (paired differences). With all 4000
reviews the subset is the same for every seed (only the order and the initial weights change). The notebook
``07_finetune_classification`` plots the result (``plot_curves``). The stored run (on the world model) took 35
minutes (``--threads 1`` on the project's 2-core CPU while other jobs kept it busy; its ``wall_seconds`` field
records it).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from nbutils.device import device_of
from nbutils.recipes.report import versions, write_json
from nbutils.validate import require_int

__all__ = ["DEFAULT_OUT", "COMMAND", "SIZES", "METHODS", "LEARNING_RATES", "FROZEN_L2", "FROZEN_L2_GRID", "BATCH_SIZE", "steps_for", "seeds_for",
           "balanced_subset", "run_curves", "weights_sha256", "load_curves", "paired_differences", "t_quantile_975",
           "plot_curves", "main"]

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "assets" / "sentiment_curves.json"
COMMAND = "python -m nbutils.recipes.sentiment_curves"
SIZES = (16, 64, 256, 1024, 4000)
METHODS = {
    "finetune": "pretrained GPT, fine-tuned",
    "scratch": "same GPT, from scratch",
    "frozen": "pretrained GPT, frozen body (linear head)",
    "bow": "bag of words",
    "bow_bigrams": "bag of words + bigrams",
}
LEARNING_RATES = {"finetune": 1e-3, "scratch": 1e-3}
FROZEN_L2 = 1e-3  # the penalty used before the validation sweep (kept for reference)
#: The L2 penalties tried for the frozen body's linear head; the validation split picks one.
FROZEN_L2_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)
BATCH_SIZE = 32
_TRAINED_GPTS = ("finetune", "scratch")


def steps_for(n: int) -> int:
    """Training steps for ``n`` labelled reviews: about 15 epochs, at least 40 steps, at most 300."""
    return min(300, max(40, math.ceil(15 * n / BATCH_SIZE)))


def seeds_for(n: int, max_seeds: int = 3) -> int:
    """How many repetitions (seeds) a size gets: ``max_seeds`` at every size (3 by default)."""
    return max_seeds


def balanced_subset(reviews: Sequence, n: int, seed: int) -> list:
    """``n`` reviews drawn at random (from ``seed``), half positive and half negative (all of them if
    ``n >= len(reviews)``), in a shuffled order."""
    if n >= len(reviews):
        return list(reviews)
    rng = random.Random(seed)
    positive = [r for r in reviews if r.label == 1]
    negative = [r for r in reviews if r.label == 0]
    chosen = rng.sample(positive, (n + 1) // 2) + rng.sample(negative, n // 2)
    rng.shuffle(chosen)
    return chosen


def _by_kind(reviews: Sequence, predictions: torch.Tensor) -> dict[str, float]:
    right: dict[str, list[int]] = {}
    for review, predicted in zip(reviews, predictions.tolist()):
        right.setdefault(review.kind, []).append(int(predicted == review.label))
    return {kind: sum(hits) / len(hits) for kind, hits in sorted(right.items())}


def _score(reviews: Sequence, predictions: torch.Tensor) -> tuple[float, dict[str, float]]:
    labels = [r.label for r in reviews]
    hits = sum(int(p == y) for p, y in zip(predictions.tolist(), labels))
    return hits / len(labels), _by_kind(reviews, predictions)


def _train_one(method: str, subset: Sequence, seed: int, model, tokenizer, device,
               val: Sequence = ()) -> tuple[Callable[[list[str]], torch.Tensor], dict[str, Any]]:
    """Train one classifier on ``subset``; return a function texts -> predicted labels, and what was chosen
    (``{"l2": ...}`` for the frozen head, whose penalty the validation reviews ``val`` pick)."""
    from nbutils.device import seed_everything
    from nbutils.baselines import BowClassifier, LogisticRegression
    from nbutils.tasks.classification import GPTClassifier, last_token_features, predict, train_classifier
    from nbutils.model import GPT

    texts, labels = [r.text for r in subset], [r.label for r in subset]
    if method in ("bow", "bow_bigrams"):
        bow = BowClassifier(bigrams=method == "bow_bigrams").fit(texts, labels)
        return bow.predict, {}
    if method == "frozen":
        features = last_token_features(model, texts, tokenizer)
        heads = [LogisticRegression(l2=l2, steps=500, solver="lbfgs").fit(features, labels) for l2 in FROZEN_L2_GRID]
        if val:
            val_features = last_token_features(model, [r.text for r in val], tokenizer)
            val_labels = torch.tensor([r.label for r in val])
            scores = [float((h.predict(val_features) == val_labels).float().mean()) for h in heads]
            head = heads[max(range(len(heads)), key=lambda i: (scores[i], -i))]  # ties: the smaller penalty
        else:
            head = heads[FROZEN_L2_GRID.index(FROZEN_L2)]
        return lambda batch: head.predict(last_token_features(model, batch, tokenizer)), {"l2": head.l2}
    seed_everything(seed)  # the head's (and the scratch body's) initial weights
    body = GPT(copy.deepcopy(model.config)) if method == "scratch" else copy.deepcopy(model)
    classifier = GPTClassifier(body.to(device))
    train_classifier(classifier, texts, labels, tokenizer, steps=steps_for(len(texts)), lr=LEARNING_RATES[method],
                     batch_size=BATCH_SIZE, seed=seed, device=device)
    return lambda batch: predict(classifier, batch, tokenizer), {}


def _summary(runs: list[dict], methods: Sequence[str], sizes: Sequence[int]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for method in methods:
        rows: dict[str, list] = {"size": [], "seeds": []}
        for split in ("test", "hard"):
            for stat in ("mean", "std", "min", "max"):
                rows[f"{split}_{stat}"] = []
        for n in sizes:
            mine = [r for r in runs if r["method"] == method and r["size"] == n]
            if not mine:
                continue
            rows["size"].append(n)
            rows["seeds"].append(len(mine))
            for split in ("test", "hard"):
                values = [r[split] for r in mine]
                rows[f"{split}_mean"].append(statistics.fmean(values))
                rows[f"{split}_std"].append(statistics.pstdev(values))
                rows[f"{split}_min"].append(min(values))
                rows[f"{split}_max"].append(max(values))
        summary[method] = rows
    return summary


def run_curves(model, tokenizer, data=None, sizes: Sequence[int] = SIZES, methods: Sequence[str] = tuple(METHODS),
               max_seeds: int = 3, device: str | torch.device | None = None,
               say: Callable[[str], None] = print) -> dict[str, Any]:
    """Train every method at every size (and seed) and score it; returns ``{"runs": [...], "summary": {...}}``.

    ``model`` is the pretrained GPT (it is copied, never changed); ``data`` a ``SentimentData`` (default
    ``sentiment_dataset(seed=0)``). Sizes larger than the training split use the whole split.
    """
    from nbutils.device import pick_device
    from nbutils.world import sentiment_dataset

    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise ValueError(f"unknown methods {unknown}; known: {list(METHODS)}")
    if not sizes or any(isinstance(n, bool) or not isinstance(n, int) or n < 2 for n in sizes):
        raise ValueError(f"sizes must be ints >= 2, got {list(sizes)}")
    data = data if data is not None else sentiment_dataset(seed=0)
    device = pick_device(None if device is None else str(device))
    test_texts = [r.text for r in data.test]
    hard_texts = [r.text for r in data.hard]
    runs: list[dict[str, Any]] = []
    for n in sizes:
        n_used = min(n, len(data.train))
        for seed in range(seeds_for(n_used, max_seeds)):
            subset = balanced_subset(data.train, n_used, seed)
            for method in methods:
                started = time.perf_counter()
                classify, chosen = _train_one(method, subset, seed, model, tokenizer, device, data.val)
                test, test_by_kind = _score(data.test, classify(test_texts))
                hard, hard_by_kind = _score(data.hard, classify(hard_texts))
                seconds = time.perf_counter() - started
                runs.append({"method": method, "size": n_used, "seed": seed,
                             "steps": steps_for(n_used) if method in _TRAINED_GPTS else None,
                             "test": test, "hard": hard, "test_by_kind": test_by_kind,
                             "hard_by_kind": hard_by_kind, "seconds": round(seconds, 2), **chosen})
                say(f"{method:<12} n={n_used:<5} seed={seed}  test {test:.3f}  hard {hard:.3f}  ({seconds:.1f} s)")
    sizes_used = sorted({r["size"] for r in runs})
    return {"runs": runs, "summary": _summary(runs, methods, sizes_used), "sizes": sizes_used}


# ----------------------------------------------------------------------------------------- the stored result
def weights_sha256(folder: str | Path | None = None) -> str:
    """The SHA-256 of a checkpoint's ``model.safetensors`` (default: the world model, which the command
    fine-tunes). The stored curves record it, so one can tell whether they were measured on the model that
    ships now."""
    from nbutils.pretrain import WORLD_MODEL as MODEL_FOLDER

    file = Path(folder if folder is not None else MODEL_FOLDER) / "model.safetensors"
    return hashlib.sha256(file.read_bytes()).hexdigest()


def load_curves(path: str | Path | None = None) -> dict[str, Any]:
    """The stored result of the command (``nbutils/assets/sentiment_curves.json`` by default)."""
    file = Path(path) if path is not None else DEFAULT_OUT
    if not file.is_file():
        raise FileNotFoundError(f"no learning curves at {str(file)!r}: run "
                                f"`{COMMAND}`")
    return json.loads(file.read_text(encoding="utf-8"))


# The 0.975 quantile of Student's t distribution for 1..30 degrees of freedom (for 95 % intervals).
_T_975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
          2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
          2.045, 2.042)


def t_quantile_975(df: int) -> float:
    """The 0.975 quantile of Student's t with ``df`` degrees of freedom (the normal 1.96 beyond 30)."""
    require_int("df", df)
    return _T_975[df - 1] if df <= len(_T_975) else 1.96


def paired_differences(curves: dict[str, Any], a: str = "finetune", b: str = "scratch",
                       split: str = "test") -> list[dict[str, Any]]:
    """Method ``a`` minus method ``b``, seed by seed (same subset, same seed), at every size.

    Returns one row per size: ``{"size", "differences" (one per seed), "mean", "low", "high"}``, where
    ``low``..``high`` is the 95 % t-interval of the mean difference over the seeds (``None`` with one seed).
    With 3 seeds the interval is wide (t = 4.3): it says how much the seeds disagree, not a precise effect.
    """
    if split not in ("test", "hard"):
        raise ValueError(f"split must be 'test' or 'hard', got {split!r}")
    by_key = {(r["method"], r["size"], r["seed"]): r[split] for r in curves["runs"]}
    rows = []
    for n in curves["sizes"]:
        seeds = sorted(seed for (method, size, seed) in by_key if method == a and size == n
                       and (b, n, seed) in by_key)
        if not seeds:
            continue
        differences = [by_key[(a, n, seed)] - by_key[(b, n, seed)] for seed in seeds]
        mean = statistics.fmean(differences)
        if len(differences) > 1:
            half = t_quantile_975(len(differences) - 1) * statistics.stdev(differences) / math.sqrt(len(differences))
            low, high = mean - half, mean + half
        else:
            low = high = None
        rows.append({"size": n, "differences": differences, "mean": mean, "low": low, "high": high})
    return rows


_STYLE = {"finetune": ("C0", "o"), "scratch": ("C3", "s"), "frozen": ("C2", "^"), "bow": ("C7", "D"),
          "bow_bigrams": ("C1", "v")}


def plot_curves(curves: dict[str, Any], split: str = "test", methods: Sequence[str] | None = None, ax=None,
                title: str | None = None, legend: bool = True):
    """Accuracy against the number of labelled reviews (log scale), one line per method (the mean over the
    seeds), the band from the worst to the best seed shaded (3 seeds per point in the stored curves). ``split`` is ``"test"`` or ``"hard"``. Returns the Axes."""
    import matplotlib.pyplot as plt

    if split not in ("test", "hard"):
        raise ValueError(f"split must be 'test' or 'hard', got {split!r}")
    summary = curves["summary"]
    methods = list(methods) if methods is not None else list(summary)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.0), layout="constrained")
    for method in methods:
        if method not in summary:
            raise ValueError(f"no results for {method!r}; the file has {list(summary)}")
        rows = summary[method]
        colour, marker = _STYLE.get(method, (None, "o"))
        ax.plot(rows["size"], rows[f"{split}_mean"], marker=marker, color=colour, label=METHODS.get(method, method))
        ax.fill_between(rows["size"], rows[f"{split}_min"], rows[f"{split}_max"], color=colour, alpha=0.15)
    ax.set_xscale("log", base=2)
    sizes = curves["sizes"]
    ax.set_xticks(sizes, [str(n) for n in sizes])
    ax.axhline(0.5, color="black", linewidth=0.8, linestyle=":")
    ax.set_ylim(0.3, 1.02)
    ax.set_xlabel("labelled training reviews")
    ax.set_ylabel(f"{split} accuracy")
    ax.set_title(title or f"{split} accuracy (mean of seeds, band: worst to best seed)")
    ax.grid(alpha=0.3)
    if legend:
        ax.legend(fontsize=8, loc="lower right")
    return ax


# ----------------------------------------------------------------------------------------- command line
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND,
                                     description="Learning curves of sentiment classifiers (stored as JSON).")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON file to write "
                        "(default: the package's assets/sentiment_curves.json)")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="training-set sizes")
    parser.add_argument("--max-seeds", type=int, default=3, help="at most this many seeds per size (default 3)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's choice; 1 is faster on a busy machine)")
    parser.add_argument("--model", type=Path, default=None,
                        help="a pretrained checkpoint folder (default: the world model, nbutils/assets/world_model)")
    args = parser.parse_args(argv)
    if args.max_seeds < 1:
        parser.error("--max-seeds must be at least 1")
    if args.threads is not None:
        if args.threads < 1:
            parser.error("--threads must be at least 1")
        torch.set_num_threads(args.threads)

    import nbutils
    from nbutils.pretrain import WORLD_MODEL, load_course_model

    started = time.perf_counter()
    model, tokenizer, info = load_course_model(device=None if args.device == "auto" else args.device,
                                               path=args.model if args.model is not None else WORLD_MODEL)
    device = device_of(model)
    result = run_curves(model, tokenizer, sizes=args.sizes, max_seeds=args.max_seeds, device=device)
    command = COMMAND
    if args.sizes != list(SIZES):
        command += " --sizes " + " ".join(map(str, args.sizes))
    if args.max_seeds != 3:
        command += f" --max-seeds {args.max_seeds}"
    if args.threads is not None:
        command += f" --threads {args.threads}"
    output = {
        "command": command,
        "wall_seconds": round(time.perf_counter() - started, 1),
        "device": str(device),
        "threads": torch.get_num_threads(),
        "versions": {"nbutils": nbutils.__version__, **versions()},
        "checkpoint": {"folder": "the world model (nbutils/assets/world_model)" if args.model is None else "another (--model)",
                       "step": info.get("step"), "val_loss_per_token": info.get("val_loss_per_token"),
                       "weights_sha256": weights_sha256(info["path"])},
        "dataset": "sentiment_dataset(seed=0): 4000 train, 1000 test, 500 hard",
        "methods": METHODS,
        "learning_rates": LEARNING_RATES,
        "frozen_head": ("logistic regression on the frozen last-token features, L-BFGS, l2 from "
                        f"{list(FROZEN_L2_GRID)} chosen by accuracy on the validation split"),
        "batch_size": BATCH_SIZE,
        "steps": {str(n): steps_for(n) for n in result["sizes"]},
        **result,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, output)
    print(f"wrote {args.out} in {output['wall_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
