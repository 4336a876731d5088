"""The command behind the shipped translation model and its stored results (notebook 08)::

    python -m nbutils.recipes.translation                      # 9 to 25 minutes on a 2-core CPU (see below)
    python -m nbutils.recipes.translation --quick --out DIR --results FILE   # a few steps, to check the pipeline

It fine-tunes the world model (``load_course_model(path=nbutils.pretrain.WORLD_MODEL)``) for longer than a notebook can
(``nbutils.tasks.translation.finetune_translation``), trains the same architecture from random weights for as
many steps (what does pretraining on English bring?), and writes the fine-tuned checkpoint (weights, config,
tokenizer, loss history; no optimiser state) to ``nbutils/assets/translation_model/`` and the results of both
models to ``nbutils/assets/translation_results.json``: settings, times, loss histories, and on the 1000 test
pairs exact match and chrF (all, seen / unseen combinations, per kind), sampled successes and errors, and
every translation. The stored run took 1520 s with one thread on the project's 2-core CPU while other jobs kept it busy
(595 s to fine-tune, 564 s from scratch, the rest translating the test set; on the idle CPU the same command
on the earlier, smaller course model took 540 s); it records its own times (``train_seconds`` of each
model, ``wall_seconds``). On a CPU shared with other work, ``OMP_NUM_THREADS=1`` can be much faster than two
threads.

Other seeds: ``--seed S --out DIR --results FILE`` for each, then ``--merge FILE ...`` adds their scores to the
stored results (``merge_seeds``). ``load_translation_model`` and ``load_translation_results`` read what the
command wrote.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
import torch.nn as nn

from nbutils.recipes.report import versions, write_json
from nbutils.tasks.translation import (DEFAULT_BATCH_SIZE, DEFAULT_LR, END_MARKER, PROMPT_TEMPLATE, build_example,
                                       finetune_translation, translate_many)

__all__ = ["DEFAULT_OUT", "DEFAULT_RESULTS", "DEFAULT_STEPS", "COMMAND", "evaluate_translations",
           "load_translation_model", "load_translation_results", "run_experiment", "seed_summary",
           "seed_translations", "merge_seeds", "main"]

_ASSETS = Path(__file__).resolve().parents[1] / "assets"
DEFAULT_OUT = _ASSETS / "translation_model"
DEFAULT_RESULTS = _ASSETS / "translation_results.json"
DEFAULT_STEPS = 800
COMMAND = "python -m nbutils.recipes.translation"


# ----------------------------------------------------------------------------------------- evaluation
def _scores(hypotheses: list[str], references: list[str]) -> dict[str, Any]:
    from nbutils.metrics import chrf, exact_match

    return {"n": len(references), "exact_match": exact_match(hypotheses, references),
            "chrf": chrf(hypotheses, references)}


def evaluate_translations(model: nn.Module, tokenizer: Any, pairs: Sequence[Any], n_examples: int = 12,
                          seed: int = 0, max_new_tokens: int = 64) -> dict[str, Any]:
    """Translate ``pairs`` (``Pair`` objects of ``nbutils.world.french``) and score them.

    Returns a dict: ``all`` / ``seen`` / ``unseen`` (``Pair.unseen``) / ``by_kind`` scores (n, exact match in
    %, corpus chrF), ``successes`` and ``errors`` (up to ``n_examples`` of each, drawn with ``seed``, every
    one with en, reference, hypothesis, kind, unseen and its sentence chrF), and ``translations`` (every
    hypothesis, in the order of ``pairs``).
    """
    from nbutils.metrics import chrf

    pairs = list(pairs)
    if not pairs:
        raise ValueError("no pairs to evaluate")
    hypotheses = translate_many(model, tokenizer, [p.en for p in pairs], max_new_tokens)
    references = [p.fr for p in pairs]

    def subset(keep: Callable[[Any], bool]) -> dict[str, Any] | None:
        chosen = [i for i, p in enumerate(pairs) if keep(p)]
        if not chosen:
            return None
        return _scores([hypotheses[i] for i in chosen], [references[i] for i in chosen])

    records = [{"en": p.en, "reference": p.fr, "hypothesis": h, "kind": p.kind, "unseen": p.unseen,
                "chrf": round(chrf(h, p.fr), 2)} for p, h in zip(pairs, hypotheses)]
    rng = random.Random(seed)
    right = [r for r in records if r["hypothesis"] == r["reference"]]
    wrong = [r for r in records if r["hypothesis"] != r["reference"]]
    return {
        "all": _scores(hypotheses, references),
        "seen": subset(lambda p: not p.unseen),
        "unseen": subset(lambda p: p.unseen),
        "by_kind": {kind: subset(lambda p, k=kind: p.kind == k) for kind in sorted({p.kind for p in pairs})},
        "successes": rng.sample(right, min(n_examples, len(right))),
        "errors": rng.sample(wrong, min(n_examples, len(wrong))),
        "translations": hypotheses,
    }


# ----------------------------------------------------------------------------------------- stored results
def load_translation_model(path: str | Path | None = None, device: str | torch.device | None = None):
    """Load the fine-tuned translation model written by ``python -m nbutils.recipes.translation``.

    Returns ``(model, tokenizer)``, the model in eval mode on ``device`` (None: ``pick_device()``).
    """
    from nbutils.checkpoint import load_checkpoint
    from nbutils.device import pick_device

    folder = Path(path) if path is not None else DEFAULT_OUT
    if not (folder / "checkpoint.json").is_file():
        raise FileNotFoundError(f"no translation model in {str(folder)!r}: write it with "
                                f"`{COMMAND}` (about 9 minutes on a 2-core CPU)")
    checkpoint = load_checkpoint(folder, map_location=pick_device(None if device is None else str(device)))
    return checkpoint.model.eval(), checkpoint.tokenizer


def load_translation_results(path: str | Path | None = None) -> dict[str, Any]:
    """The results JSON written by ``python -m nbutils.recipes.translation`` (scores, examples, loss curves, times)."""
    file = Path(path) if path is not None else DEFAULT_RESULTS
    if not file.is_file():
        raise FileNotFoundError(f"no results file {str(file)!r}: write it with `{COMMAND}`")
    return json.loads(file.read_text(encoding="utf-8"))


# ----------------------------------------------------------------------------------------- the command
def _token_counts(tokenizer: Any, pairs: Sequence[Any]) -> dict[str, Any]:
    en = [len(tokenizer.encode(p.en)) for p in pairs]
    fr = [len(tokenizer.encode(p.fr)) for p in pairs]
    total = [len(build_example(p.en, p.fr, tokenizer, None)[0]) + 1 for p in pairs]
    return {"en_tokens_mean": sum(en) / len(en), "fr_tokens_mean": sum(fr) / len(fr),
            "en_chars_per_token": sum(len(p.en) for p in pairs) / sum(en),
            "fr_chars_per_token": sum(len(p.fr) for p in pairs) / sum(fr),
            "example_tokens_max": max(total), "example_tokens_mean": sum(total) / len(total)}


def _weights_sha256(folder: Path) -> str | None:
    """The SHA-256 of a checkpoint's weights file, as its checkpoint.json records it (identifies the base model)."""
    meta = json.loads((Path(folder) / "checkpoint.json").read_text(encoding="utf-8"))
    return meta.get("files", {}).get("model.safetensors")


def _printer(label: str, steps: int, started: float, every: int = 100) -> Callable[[Any], None]:
    def report(history) -> None:
        step = history.last_step
        if history.train_loss and (step % every == 0 or step == steps):
            line = f"{label} step {step:5d}/{steps}  {time.perf_counter() - started:6.1f} s  " \
                   f"train {history.train_loss[-1]:.3f}"
            if history.val_steps and history.val_steps[-1] == step:
                line += f"  val {history.val_loss[-1]:.3f}"
            print(line, flush=True)
    return report


def _run(label: str, model: nn.Module, data: Any, tokenizer: Any, steps: int, batch_size: int, lr: float,
         seed: int, n_val: int, verbose: bool, max_new_tokens: int = 64) -> tuple[dict[str, Any], Any]:
    started = time.perf_counter()
    history = finetune_translation(model, data.train, tokenizer, steps=steps, lr=lr, batch_size=batch_size,
                                   seed=seed, val_pairs=data.val[:n_val], eval_every=max(1, steps // 12),
                                   callback=_printer(label, steps, started) if verbose else None)
    train_seconds = time.perf_counter() - started
    scores = evaluate_translations(model, tokenizer, data.test, seed=seed, max_new_tokens=max_new_tokens)
    result = {"train_seconds": round(train_seconds, 1),
              "eval_seconds": round(time.perf_counter() - started - train_seconds, 1),
              "final_val_answer_loss": history.val_loss[-1], "history": history.to_dict(), "test": scores}
    if verbose:
        parts = [f"{name} {scores[name]['exact_match']:.1f} %" for name in ("seen", "unseen") if scores[name]]
        print(f"{label}: test exact match {scores['all']['exact_match']:.1f} %, chrF {scores['all']['chrf']:.1f} "
              f"({', '.join(parts)})", flush=True)
    return result, history


def run_experiment(out: str | Path | None = DEFAULT_OUT, results: str | Path | None = DEFAULT_RESULTS,
                   steps: int = DEFAULT_STEPS, batch_size: int = DEFAULT_BATCH_SIZE, lr: float = DEFAULT_LR,
                   seed: int = 0, device: str = "auto", baseline: bool = True, quick: bool = False,
                   base_model: str | Path | None = None, verbose: bool = True) -> dict[str, Any]:
    """Fine-tune the world model, train a from-scratch baseline, evaluate both; returns the results dict.

    ``out``: folder for the fine-tuned checkpoint (None: not saved); ``results``: the JSON file (None: not
    written). ``quick``: a handful of steps on a few pairs, to check the pipeline in seconds.
    ``base_model``: a pretrained folder (None: the world model, ``nbutils.pretrain.WORLD_MODEL``).
    """
    from nbutils.checkpoint import save_checkpoint
    from nbutils.device import pick_device, seed_everything
    from nbutils.model import GPT
    from nbutils.pretrain import WORLD_MODEL, load_course_model
    from nbutils.world import translation_dataset

    started = time.perf_counter()
    target = pick_device(None if device == "auto" else device)
    data = translation_dataset(seed=0)
    n_val = 200
    if quick:
        from nbutils.world.french import TranslationData

        data = TranslationData(data.seed, data.train[:64], data.val[:8], data.test[:8], data.held_out)
        steps, batch_size, n_val = min(steps, 4), min(batch_size, 8), 8
    max_new_tokens = 8 if quick else 64
    model, tokenizer, info = load_course_model(device=target, path=base_model if base_model is not None else WORLD_MODEL)
    tokens = _token_counts(tokenizer, data.train + data.val + data.test)
    if tokens["example_tokens_max"] > model.config.context_length + 1:
        raise ValueError(f"the longest example has {tokens['example_tokens_max']} tokens; the model reads "
                         f"{model.config.context_length}")
    if verbose:
        print(f"base model: step {info['step']} from {info['path'].name}; {len(data.train)} training pairs; "
              f"French {tokens['fr_tokens_mean']:.1f} tokens per sentence, English {tokens['en_tokens_mean']:.1f}",
              flush=True)

    seed_everything(seed)
    finetuned, history = _run("fine-tune", model, data, tokenizer, steps, batch_size, lr, seed, n_val, verbose,
                              max_new_tokens)
    report: dict[str, Any] = {
        "command": COMMAND + (f" --steps {steps}" if steps != DEFAULT_STEPS else "")
                   + (" --quick" if quick else "") + ("" if baseline else " --no-baseline"),
        "quick": quick, "device": str(target), "threads": torch.get_num_threads(),
        "settings": {"steps": steps, "batch_size": batch_size, "lr": lr, "min_lr": lr / 10, "seed": seed,
                     "weight_decay": 0.0, "grad_clip": 1.0, "val_pairs": n_val,
                     "prompt_template": PROMPT_TEMPLATE, "end_marker": END_MARKER},
        "data": {"train": len(data.train), "val": len(data.val), "test": len(data.test),
                 "test_unseen": sum(p.unseen for p in data.test)},
        "tokens": tokens,
        "base_model": {"step": info["step"], "folder": info["path"].name, "final_val_loss_per_token": info["val_loss_per_token"],
                       "quick": info["log"].get("quick"), "weights_sha256": _weights_sha256(info["path"])},
        "finetuned": finetuned,
    }
    if out is not None:
        save_checkpoint(out, model, model.config, tokenizer=tokenizer, history=history, step=steps)
        for file in Path(out).iterdir():
            if file.is_file():
                file.chmod(0o644)
    if baseline:
        seed_everything(seed)
        scratch_model = GPT(model.config).to(target)
        report["scratch"], _ = _run("from scratch", scratch_model, data, tokenizer, steps, batch_size, lr, seed,
                                    n_val, verbose, max_new_tokens)
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    report["versions"] = {key: versions()[key] for key in ("torch", "python")}
    if results is not None:
        write_json(results, report, ensure_ascii=False)
    if verbose:
        print(f"wall time {report['wall_seconds']:.0f} s" + (f"; saved {out}" if out is not None else "")
              + (f" and {results}" if results is not None else ""), flush=True)
    return report


def seed_summary(run: dict[str, Any], references: Sequence[str]) -> dict[str, Any]:
    """The scores of one model of one run (``results["finetuned"]`` or ``["scratch"]``), in a few hundred bytes:
    the scores, the final validation loss, the training time, and only the wrong translations
    (``{"index": translation}``), from which ``seed_translations`` rebuilds all of them."""
    test = run["test"]
    return {"all": test["all"], "seen": test["seen"], "unseen": test["unseen"], "by_kind": test["by_kind"],
            "final_val_answer_loss": run["final_val_answer_loss"], "train_seconds": run["train_seconds"],
            "wrong": {str(i): h for i, (h, r) in enumerate(zip(test["translations"], references)) if h != r}}


def seed_translations(summary: dict[str, Any], references: Sequence[str]) -> list[str]:
    """Every translation of a ``seed_summary``: the reference where it was right, the stored text where not."""
    return [summary["wrong"].get(str(i), r) for i, r in enumerate(references)]


def merge_seeds(results_file: str | Path, seed_files: Sequence[str | Path]) -> dict[str, Any]:
    """Add the runs of other seeds (results files written with ``--seed S --out DIR --results FILE``) to the
    stored results, under ``"seeds"``: ``{"seeds": [0, 1, ...], "finetuned": [summary per seed],
    "scratch": [...]}``. The stored run (its model, translations and examples) stays as it is; the seeds
    must have used the same settings apart from the seed."""
    from nbutils.world import translation_dataset

    results_file = Path(results_file)
    base = json.loads(results_file.read_text(encoding="utf-8"))
    references = [p.fr for p in translation_dataset(seed=0).test]
    runs = [base] + [json.loads(Path(f).read_text(encoding="utf-8")) for f in seed_files]
    for run in runs[1:]:
        same = {k: v for k, v in run["settings"].items() if k != "seed"}
        if same != {k: v for k, v in base["settings"].items() if k != "seed"} or run["quick"]:
            raise ValueError(f"a seed run used other settings: {run['settings']}")
    seeds = [run["settings"]["seed"] for run in runs]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"each seed once, got {seeds}")
    base["seeds"] = {"seeds": seeds, "command": f"OMP_NUM_THREADS=1 {COMMAND} --seed S --out DIR --results FILE; "
                                                f"{COMMAND} --merge FILE ...",
                     "finetuned": [seed_summary(run["finetuned"], references) for run in runs],
                     "scratch": [seed_summary(run["scratch"], references) for run in runs]}
    write_json(results_file, base, ensure_ascii=False)
    return base


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND,
                                     description="Fine-tune the course GPT to translate English into French.")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for the fine-tuned checkpoint (default: the package's assets/translation_model)")
    parser.add_argument("--results", type=Path, default=None,
                        help="results JSON (default: the package's assets/translation_results.json)")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help=f"training steps (default {DEFAULT_STEPS})")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--lr", type=float, default=DEFAULT_LR)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--base-model", type=Path, default=None,
                        help="a pretrained checkpoint folder (default: the world model, nbutils/assets/world_model)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the from-scratch baseline")
    parser.add_argument("--quick", action="store_true", help="a few steps on a few pairs (needs --out and --results)")
    parser.add_argument("--merge", type=Path, nargs="+", default=None, metavar="FILE",
                        help="add the results files of other seeds to the stored results (trains nothing)")
    args = parser.parse_args(argv)
    if args.merge:
        merge_seeds(args.results if args.results is not None else DEFAULT_RESULTS, args.merge)
        return 0
    if args.quick and (args.out is None or args.results is None):
        parser.error("--quick writes a model that has learned nothing: give --out and --results so that it "
                     "does not replace the shipped files")
    if args.steps < 1:
        parser.error(f"--steps must be at least 1, got {args.steps}")
    run_experiment(out=args.out if args.out is not None else DEFAULT_OUT,
                   results=args.results if args.results is not None else DEFAULT_RESULTS,
                   steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed, device=args.device,
                   baseline=not args.no_baseline, quick=args.quick, base_model=args.base_model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
