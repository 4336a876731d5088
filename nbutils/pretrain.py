"""The course's pretrained model: the command that trains it, and the function that loads it.

Training a GPT well takes minutes, too long to wait for in every notebook. So the package ships one
model, trained once by this module on the toy world's corpus, and later notebooks load it in a second::

    >>> from nbutils.pretrain import load_course_model          # doctest: +SKIP
    >>> model, tokenizer, info = load_course_model()            # doctest: +SKIP

Anyone can re-train it (219 s on this project's idle 2-core CPU, measured) and get the same model::

    python -m nbutils.pretrain                      # writes nbutils/assets/course_model/
    python -m nbutils.pretrain --out /tmp/mine      # somewhere else
    python -m nbutils.pretrain --quick --out DIR    # a few steps only, to check that everything works

The recipe, step by step:

1. the corpus: ``nbutils.world.default_corpus()`` (seed 0), its ``train_text`` and ``val_text``;
2. the course tokenizer: byte-level BPE with 1024 ids, trained on ``train_text`` with GPT-2's split
   pattern and no special token (the stories are already separated by a blank line, which the model
   learns to predict like any other text);
3. the model: ``GPTConfig(vocab_size=1024, context_length=128, n_layer=4, n_head=4, n_embd=128)``;
4. training with the course's ``Trainer``: AdamW, warm-up then cosine decay, gradient clipping;
5. the checkpoint folder (``nbutils.checkpoint.save_checkpoint``: weights, configs, tokenizer, history,
   no optimiser state), plus ``training_log.json`` and ``README.md`` with the numbers of the run.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

import torch

from nbutils.device import device_of

__all__ = [
    "DEFAULT_OUT", "DEFAULT_STEPS", "VOCAB_SIZE", "BATCH_SIZE", "course_tokenizer", "course_model_config",
    "course_train_config", "validation_loss", "pretrain", "load_course_model", "main",
    "segment_starts", "sliding_window_losses",
]

DEFAULT_OUT = Path(__file__).resolve().parent / "assets" / "course_model"
DEFAULT_STEPS = 1200
VOCAB_SIZE = 1024
BATCH_SIZE = 32
LOG_FILE = "training_log.json"
README_FILE = "README.md"

# --quick: the same recipe, shrunk so that it runs in seconds (for tests and for checking an installation)
_QUICK = {"steps": 4, "batch_size": 4, "eval_every": 2, "eval_batches": 2, "warmup_steps": 2}
_QUICK_VAL_WINDOWS = 4


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
    """The training settings of the course model (``quick=True``: the shrunk version used by ``--quick``).

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

    Window ``k`` holds tokens ``k·T .. k·T + T`` (the last one shorter), so every token but the very first
    is predicted exactly once, from the tokens before it in its window. Returns ``(loss, tokens scored)``.
    ``max_windows`` keeps only the first windows (a quicker, rougher estimate).
    """
    if not isinstance(ids, torch.Tensor) or ids.dim() != 1 or len(ids) < 2:
        raise ValueError("ids must be a 1-D tensor of at least 2 token ids")
    context = model.config.context_length
    device = device_of(model)
    starts = list(range(0, len(ids) - 1, context))
    if max_windows is not None:
        starts = starts[:max_windows]
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        full = [s for s in starts if s + context + 1 <= len(ids)]
        for i in range(0, len(full), batch_size):
            index = torch.tensor(full[i:i + batch_size])[:, None] + torch.arange(context + 1)
            window = ids[index].to(device)
            _, loss = model(window[:, :-1], window[:, 1:])
            total += loss.item() * window[:, 1:].numel()
            count += window[:, 1:].numel()
        for s in starts:  # the shorter last window
            if s + context + 1 > len(ids):
                window = ids[s:].to(device)[None]
                _, loss = model(window[:, :-1], window[:, 1:])
                total += loss.item() * (window.shape[1] - 1)
                count += window.shape[1] - 1
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

    Cost: one forward pass per window of ``context_length`` tokens after each reset, plus one window per
    token that lies more than ``context_length`` tokens after its reset (those are scored one at a time).
    """
    if not isinstance(ids, torch.Tensor) or ids.dim() != 1 or len(ids) < 2:
        raise ValueError("ids must be a 1-D tensor of at least 2 token ids")
    T = model.config.context_length
    n = len(ids)
    points = sorted({0, *[int(r) for r in (resets or [])]})
    if points[-1] >= n or points[0] < 0:
        raise ValueError(f"resets must lie in 0 .. {n - 1}")
    device = device_of(model)
    was_training = model.training
    model.eval()
    out = torch.full((n - 1,), float("nan"))
    # jobs: (window start, window end, first target scored): one window ids[start:end] scores targets
    # first .. end - 1, each from ids[start:target]
    jobs: list[tuple[int, int, int]] = []
    bounds = points + [n]
    for r, next_r in zip(bounds[:-1], bounds[1:]):
        last = next_r if next_r < n else n - 1  # the segment's targets are r + 1 .. next_r (the next reset's
        # first token is still predicted from this segment), and never beyond n - 1
        first_end = min(r + T, last)
        if first_end >= r + 1:
            jobs.append((r, first_end + 1, r + 1))
        for t in range(r + T + 1, last + 1):
            jobs.append((t - T, t + 1, t))
    try:
        full = [job for job in jobs if job[1] - job[0] == T + 1]
        short = [job for job in jobs if job[1] - job[0] != T + 1]
        for i in range(0, len(full), batch_size):
            chunk = full[i:i + batch_size]
            index = torch.tensor([s for s, _, _ in chunk])[:, None] + torch.arange(T + 1)
            window = ids[index].to(device)
            logits, _ = model(window[:, :-1])
            losses = torch.nn.functional.cross_entropy(logits.float().transpose(1, 2), window[:, 1:],
                                                       reduction="none").cpu()
            for row, (s, e, first) in enumerate(chunk):
                out[first - 1:e - 1] = losses[row, first - s - 1:]
        for s, e, first in short:
            window = ids[s:e].to(device)[None]
            logits, _ = model(window[:, :-1])
            losses = torch.nn.functional.cross_entropy(logits[0].float(), window[0, 1:], reduction="none").cpu()
            out[first - 1:e - 1] = losses[first - s - 1:]
    finally:
        model.train(was_training)
    assert not torch.isnan(out).any(), "every target is scored once"
    return out


# ----------------------------------------------------------------------------------------- training
def _versions() -> dict[str, str]:
    import nbutils

    return {"nbutils": nbutils.__version__, "torch": torch.__version__, "python": platform.python_version()}


def _progress_printer(config, started: float):
    """A callback for ``Trainer.train`` that prints one line every 50 steps and at every evaluation."""
    last = {"step": -1}

    def report(history) -> None:
        step = history.last_step
        evaluated = bool(history.val_steps) and history.val_steps[-1] == step
        if step == last["step"] or not (evaluated or step % 50 == 0):
            return
        last["step"] = step
        seconds = time.perf_counter() - started
        line = f"step {step:5d}/{config.steps}  {seconds:7.1f} s"
        if history.train_loss:
            line += f"  train {history.train_loss[-1]:.3f}"
        if evaluated:
            line += f"  val {history.val_loss[-1]:.3f}"
        if step and history.tokens_seen:
            line += f"  {history.tokens_seen[-1] / max(seconds, 1e-9):,.0f} tokens/s"
        print(line, flush=True)

    return report


def pretrain(out: str | Path = DEFAULT_OUT, steps: int = DEFAULT_STEPS, device: str = "auto", seed: int = 0,
             quick: bool = False, verbose: bool = True) -> dict[str, Any]:
    """Train the course model and write it to the folder ``out``; returns the training log (a dict).

    ``quick=True`` runs a few tiny steps of the same recipe (same corpus, tokenizer and model shape) so
    that the whole pipeline can be checked in seconds; the model it writes has learned almost nothing.
    """
    from nbutils.checkpoint import save_checkpoint, write_atomic
    from nbutils.data import encode_corpus
    from nbutils.device import seed_everything
    from nbutils.model import GPT
    from nbutils.train import Trainer
    from nbutils.world import default_corpus

    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    say = print if verbose else (lambda *args, **kwargs: None)
    started = time.perf_counter()

    corpus = default_corpus(0)
    tokenizer = course_tokenizer(corpus.train_text)
    train_ids = encode_corpus(corpus.train_text, tokenizer)
    val_ids = encode_corpus(corpus.val_text, tokenizer)
    chars_per_token = len(corpus.val_text) / len(val_ids)
    floor = corpus.entropy_floor("val")
    say(f"corpus: {len(corpus.train_text):,} + {len(corpus.val_text):,} characters; tokenizer: "
        f"{tokenizer.vocab_size} ids; {len(train_ids):,} training tokens, {len(val_ids):,} validation tokens "
        f"({chars_per_token:.3f} characters per token)")

    train_config = course_train_config(steps if not quick else _QUICK["steps"], device, seed, quick)
    seed_everything(seed)  # the model's initial weights come from torch's global generator
    model = GPT(course_model_config(tokenizer.vocab_size))
    trainer = Trainer(model, train_ids, val_ids, train_config)
    say(f"model: {model.num_parameters():,} parameters on {trainer.device}; {train_config.steps} steps of "
        f"{train_config.batch_size} x {trainer.context_length} tokens")

    train_started = time.perf_counter()
    history = trainer.train(callback=_progress_printer(train_config, train_started) if verbose else None,
                            progress="terminal" if verbose else "off")
    train_seconds = time.perf_counter() - train_started
    if trainer.step < train_config.steps:
        raise RuntimeError(f"training stopped at step {trainer.step} of {train_config.steps}; nothing was saved")

    model.eval()
    val_loss, scored = validation_loss(model, val_ids, max_windows=_QUICK_VAL_WINDOWS if quick else None)
    tokens_seen = history.tokens_seen[-1]
    floor_per_token = floor.per_token(chars_per_token)
    log: dict[str, Any] = {
        "command": "python -m nbutils.pretrain" + (f" --steps {steps}" if steps != DEFAULT_STEPS else "")
                   + (" --quick" if quick else "") + (f" --seed {seed}" if seed else ""),
        "quick": quick,
        "device": str(trainer.device),
        "threads": torch.get_num_threads(),
        "wall_seconds": round(time.perf_counter() - started, 2),
        "train_seconds": round(train_seconds, 2),
        "steps": trainer.step,
        "tokens_seen": tokens_seen,
        "tokens_per_second": round(tokens_seen / train_seconds, 1),
        "parameters": model.num_parameters(),
        "model_config": asdict(model.config),
        "train_config": train_config.to_dict(),
        "tokenizer": {"class": type(tokenizer).__name__, "vocab_size": tokenizer.vocab_size,
                      "pattern": "GPT2_SPLIT_PATTERN", "special_tokens": dict(tokenizer.special_tokens),
                      "trained_on": "default_corpus(0).train_text"},
        "corpus": {"seed": 0, "train_chars": len(corpus.train_text), "val_chars": len(corpus.val_text),
                   "train_tokens": len(train_ids), "val_tokens": len(val_ids)},
        "val_chars_per_token": chars_per_token,
        "final_val_loss_batches": history.val_loss[-1],
        "final_val_loss_per_token": val_loss,
        "final_val_loss_per_char": val_loss / chars_per_token,
        "val_tokens_scored": scored,
        "entropy_floor_per_char": floor.nats_per_char,
        "entropy_floor_per_token": floor_per_token,
        "gap_per_token": val_loss - floor_per_token,
        "gap_per_char": val_loss / chars_per_token - floor.nats_per_char,
        "history": history.to_dict(),
        "versions": _versions(),
    }

    folder = Path(out)
    save_checkpoint(folder, model, model.config, tokenizer=tokenizer, history=history,
                    train_config=train_config, step=trainer.step)
    write_atomic(folder / LOG_FILE, json.dumps(log, indent=1).encode("utf-8"))
    write_atomic(folder / README_FILE, _readme(log).encode("utf-8"))
    for file in folder.iterdir():  # write_atomic's temporary files are private (0600); these are shipped
        if file.is_file() and not file.name.startswith("."):
            file.chmod(0o644)
    say(_summary(log, folder))
    return log


def _readme(log: dict[str, Any]) -> str:
    """The short README.md written next to the checkpoint."""
    m, t = log["model_config"], log["train_config"]
    return f"""# The course model

A small GPT trained on the toy world's stories; `nbutils.pretrain.load_course_model()` loads it.
Written by:

    {log["command"]}

| | |
|---|---|
| model | {log["parameters"]:,} parameters: {m["n_layer"]} layers, {m["n_head"]} heads, width {m["n_embd"]}, context {m["context_length"]} tokens |
| tokenizer | byte-level BPE, {log["tokenizer"]["vocab_size"]} ids, trained on `default_corpus(0).train_text` |
| training | {log["steps"]} steps of {t["batch_size"]} x {m["context_length"]} tokens ({log["tokens_seen"]:,} tokens), AdamW, lr {t["lr"]:g} (warm-up {t["warmup_steps"]}, cosine to {t["min_lr"]:g}) |
| time | {log["train_seconds"]:.0f} s of training, {log["wall_seconds"]:.0f} s in all, on {log["device"]} ({log["threads"]} threads), {log["tokens_per_second"]:,.0f} tokens/s |
| validation loss | {log["final_val_loss_per_token"]:.4f} nats/token = {log["final_val_loss_per_char"]:.4f} nats/char |
| entropy floor | {log["entropy_floor_per_token"]:.4f} nats/token = {log["entropy_floor_per_char"]:.4f} nats/char |
| gap | {log["gap_per_token"]:.4f} nats/token = {log["gap_per_char"]:.4f} nats/char |
| versions | nbutils {log["versions"]["nbutils"]}, torch {log["versions"]["torch"]} |

The validation loss is measured on {"the first windows of" if log["quick"] else "the whole"} validation text ({log["val_tokens_scored"]:,} tokens, read in
consecutive windows of {m["context_length"]} tokens); it is {log["val_chars_per_token"]:.3f} characters per token.
The entropy floor is the loss of the process that wrote the stories (`corpus.entropy_floor("val")`): no model
can beat it on average. The times depend on the machine and on what else runs on it at the same time.
Files: `checkpoint.json` (configs, history), `model.safetensors` (weights),
`tokenizer.json`, `training_log.json` (everything above, and the loss of every step).
"""


def _summary(log: dict[str, Any], folder: Path) -> str:
    return (f"saved to {folder}\n"
            f"final validation loss: {log['final_val_loss_per_token']:.4f} nats/token, "
            f"{log['final_val_loss_per_char']:.4f} nats/char\n"
            f"entropy floor:         {log['entropy_floor_per_token']:.4f} nats/token, "
            f"{log['entropy_floor_per_char']:.4f} nats/char\n"
            f"gap:                   {log['gap_per_token']:.4f} nats/token, {log['gap_per_char']:.4f} nats/char\n"
            f"wall time: {log['wall_seconds']:.1f} s ({log['train_seconds']:.1f} s training, "
            f"{log['steps']} steps, {log['tokens_per_second']:,.0f} tokens/s)")


# ----------------------------------------------------------------------------------------- loading
def load_course_model(device: str | torch.device | None = None, path: str | Path | None = None):
    """Load the shipped course model: returns ``(model, tokenizer, info)``.

    The model is in eval mode on ``device`` (None: ``nbutils.device.pick_device()``). ``info`` is a dict
    with ``"history"`` (a ``nbutils.train.History``), ``"log"`` (everything ``training_log.json`` holds:
    losses, entropy floor, times, configs), ``"train_config"``, ``"step"`` and ``"path"``.
    ``path`` loads another folder written by ``python -m nbutils.pretrain --out PATH``.
    """
    from nbutils.checkpoint import load_checkpoint
    from nbutils.device import pick_device
    from nbutils.train import History

    folder = Path(path) if path is not None else DEFAULT_OUT
    if not (folder / "checkpoint.json").is_file():
        raise FileNotFoundError(f"the course model is missing: no checkpoint in {str(folder)!r}. Train it with "
                                f"`python -m nbutils.pretrain`" + (f" --out {folder}" if path is not None else "")
                                + " (about 15 minutes on a laptop CPU)")
    target = pick_device(None if device is None else str(device))
    checkpoint = load_checkpoint(folder, map_location=target)
    log_file = folder / LOG_FILE
    log = json.loads(log_file.read_text(encoding="utf-8")) if log_file.is_file() else {}
    history = History.from_dict(checkpoint.history) if checkpoint.history else History()
    model = checkpoint.model.eval()
    info = {"history": history, "log": log, "train_config": checkpoint.train_config, "step": checkpoint.step,
            "path": folder}
    return model, checkpoint.tokenizer, info


# ----------------------------------------------------------------------------------------- command line
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nbutils.pretrain",
                                     description="Train the course's GPT on the toy world and save it.")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"folder to write the checkpoint to (default: the package's {DEFAULT_OUT.parent.name}/"
                             f"{DEFAULT_OUT.name})")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS,
                        help=f"training steps (default {DEFAULT_STEPS}: about 12-15 minutes on a 2-core CPU)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the batches (default 0)")
    parser.add_argument("--quick", action="store_true",
                        help="a few tiny steps only, to check the pipeline (needs --out)")
    args = parser.parse_args(argv)
    if args.quick and args.out is None:
        parser.error("--quick writes a model that has learned nothing: give --out DIR so that it does not "
                     "replace the shipped one")
    if args.steps < 1:
        parser.error(f"--steps must be at least 1, got {args.steps}")
    if args.seed < 0:
        parser.error(f"--seed must be >= 0, got {args.seed}")
    pretrain(args.out if args.out is not None else DEFAULT_OUT, steps=args.steps, device=args.device,
             seed=args.seed, quick=args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
