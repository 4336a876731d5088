"""Train the course model and ship it: the command behind ``nbutils/assets/course_model/``.

    python -m nbutils.recipes.pretrain                      # writes nbutils/assets/course_model/
    python -m nbutils.recipes.pretrain --out /tmp/mine      # somewhere else
    python -m nbutils.recipes.pretrain --quick --out DIR    # a few steps only, to check that everything works

The recipe itself (corpus, tokenizer, model shape, training settings) is in :mod:`nbutils.pretrain`, which the
notebooks read; this command runs ``train_course_model``, prints a line every 50 steps, scores the trained model
on the whole validation text (``validation_loss``) and writes the checkpoint folder: weights, configs,
tokenizer and history (``nbutils.checkpoint.save_checkpoint``, no optimiser state), ``training_log.json``
(every number of the run) and ``README.md``. The shipped run took 219 s (217 s of training) on this
project's idle 2-core CPU; ``python -m nbutils.pretrain`` is the old name of this command and still works.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from nbutils.pretrain import (DEFAULT_OUT, DEFAULT_STEPS, LOG_FILE, course_train_config, train_course_model,
                              validation_loss)
from nbutils.recipes.report import versions, write_json
from nbutils.validate import require_int

__all__ = ["pretrain", "main", "README_FILE"]

README_FILE = "README.md"
COMMAND = "python -m nbutils.recipes.pretrain"
_QUICK_VAL_WINDOWS = 4  # a quick run scores only the first windows of the validation text


def progress_printer(total_steps: int) -> Callable[[Any], None]:
    """A callback for ``Trainer.train`` that prints one line every 50 steps and at every evaluation, with the
    time since its first call (the loss before training, so the time of the training loop)."""
    last = {"step": -1}
    started: list[float] = []

    def report(history) -> None:
        if not started:
            started.append(time.perf_counter())
        step = history.last_step
        evaluated = bool(history.val_steps) and history.val_steps[-1] == step
        if step == last["step"] or not (evaluated or step % 50 == 0):
            return
        last["step"] = step
        seconds = time.perf_counter() - started[0]
        line = f"step {step:5d}/{total_steps}  {seconds:7.1f} s"
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
    """Train the course model, write it to the folder ``out`` and return the training log (a dict).

    ``quick=True`` runs a few tiny steps of the same recipe so that the whole pipeline can be checked in
    seconds; the model it writes has learned almost nothing. Nothing is written if training is interrupted.
    """
    from nbutils import __version__
    from nbutils.checkpoint import save_checkpoint, write_atomic
    from nbutils.progress import TrainingProgress

    require_int("steps", steps)
    require_int("seed", seed, minimum=0)
    say = print if verbose else (lambda *args, **kwargs: None)
    started = time.perf_counter()
    planned = course_train_config(steps, quick=quick).steps
    run = train_course_model(steps, device, seed, quick, say=say,
                             progress=TrainingProgress("terminal") if verbose else None,
                             callback=progress_printer(planned) if verbose else None)
    config = run.train_config
    if run.steps_done < config.steps:
        raise RuntimeError(f"training stopped at step {run.steps_done} of {config.steps}; nothing was saved")

    model, tokenizer, history, corpus = run.model, run.tokenizer, run.history, run.corpus
    model.eval()
    val_loss, scored = validation_loss(model, run.val_ids, max_windows=_QUICK_VAL_WINDOWS if quick else None)
    chars_per_token = len(corpus.val_text) / len(run.val_ids)
    floor = corpus.entropy_floor("val")
    floor_per_token = floor.per_token(chars_per_token)
    tokens_seen = history.tokens_seen[-1]
    log: dict[str, Any] = {
        "command": COMMAND + (f" --steps {steps}" if steps != DEFAULT_STEPS else "")
                   + (" --quick" if quick else "") + (f" --seed {seed}" if seed else ""),
        "quick": quick,
        "device": str(run.device),
        "threads": torch.get_num_threads(),
        "wall_seconds": round(time.perf_counter() - started, 2),
        "train_seconds": round(run.train_seconds, 2),
        "steps": run.steps_done,
        "tokens_seen": tokens_seen,
        "tokens_per_second": round(tokens_seen / run.train_seconds, 1),
        "parameters": model.num_parameters(),
        "model_config": asdict(model.config),
        "train_config": config.to_dict(),
        "tokenizer": {"class": type(tokenizer).__name__, "vocab_size": tokenizer.vocab_size,
                      "pattern": "GPT2_SPLIT_PATTERN", "special_tokens": dict(tokenizer.special_tokens),
                      "trained_on": "default_corpus(0).train_text"},
        "corpus": {"seed": 0, "train_chars": len(corpus.train_text), "val_chars": len(corpus.val_text),
                   "train_tokens": len(run.train_ids), "val_tokens": len(run.val_ids)},
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
        "versions": {"nbutils": __version__, **versions()},
    }

    folder = Path(out)
    save_checkpoint(folder, model, model.config, tokenizer=tokenizer, history=history, train_config=config,
                    step=run.steps_done)
    write_json(folder / LOG_FILE, log)
    write_atomic(folder / README_FILE, readme(log).encode("utf-8"))
    for file in folder.iterdir():  # write_atomic's temporary files are private (0600); these are shipped
        if file.is_file() and not file.name.startswith("."):
            file.chmod(0o644)
    say(summary(log, folder))
    return log


def readme(log: dict[str, Any]) -> str:
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


def summary(log: dict[str, Any], folder: Path) -> str:
    """The lines printed at the end of a run."""
    return (f"saved to {folder}\n"
            f"final validation loss: {log['final_val_loss_per_token']:.4f} nats/token, "
            f"{log['final_val_loss_per_char']:.4f} nats/char\n"
            f"entropy floor:         {log['entropy_floor_per_token']:.4f} nats/token, "
            f"{log['entropy_floor_per_char']:.4f} nats/char\n"
            f"gap:                   {log['gap_per_token']:.4f} nats/token, {log['gap_per_char']:.4f} nats/char\n"
            f"wall time: {log['wall_seconds']:.1f} s ({log['train_seconds']:.1f} s training, "
            f"{log['steps']} steps, {log['tokens_per_second']:,.0f} tokens/s)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND,
                                     description="Train the course's GPT on the toy world and save it.")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"folder to write the checkpoint to (default: the package's {DEFAULT_OUT.parent.name}/"
                             f"{DEFAULT_OUT.name})")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS,
                        help=f"training steps (default {DEFAULT_STEPS}: 219 s on an idle 2-core CPU, measured)")
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
