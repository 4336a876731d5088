"""Fine-tuning the course GPT to translate English into French.

A decoder-only model has one skill: continue a text. So we write each example as a text whose natural
continuation is the translation::

    English: The cat is on the roof.
    French: Le chat est sur le toit.
    ↵

The *prompt* is everything up to and including ``French:``; the *answer* is a space, the French sentence
and a newline, the *end marker*. To translate, we give the model the prompt and let it continue, one
greedy token at a time, until it writes the end marker. The space belongs to the answer because the
course tokenizer (like GPT-2's) glues a space to the word after it: " Le" is how a word starts mid-text.
So the tokens of the prompt followed by the tokens of the answer are exactly the tokens of the whole text.
The course tokenizer has no special token, and a newline never occurs inside a sentence, so ``"\\n"``, one
token, is a safe end marker.

**The loss mask.** A training example is the whole text; inputs are its ids, targets the same ids shifted
by one (position t must predict token t + 1). But we only want the model to learn to write the French:
predicting the English sentence would spend the model's small capacity on a different task (writing
English, which pretraining already did) and would not be how the model is used (the English is always
given). So every target that is a prompt token is replaced by -100, the value that
``torch.nn.functional.cross_entropy`` (and so ``nbutils.model.GPT``) leaves out of the loss. The first
answer token is predicted at the last prompt position, so with P prompt tokens the targets at positions
0 .. P-2 are masked and the ones from P-1 on are kept (``mask_prompt``).

**Batches.** Examples have different lengths; ``collate`` pads them on the right. Padding after the end
needs no attention mask: attention is causal, so a real token never looks at the padding that comes after
it, and the padded positions' targets are -100, so they cost nothing.

Functions: ``build_example``, ``mask_prompt``, ``collate``, ``finetune_translation``, ``translate``,
``translate_many``, ``evaluate_translations``. The command ::

    python -m nbutils.translation                      # 5-12 minutes on a 2-core CPU
    python -m nbutils.translation --quick --out DIR --results FILE   # a few steps, to check the pipeline

fine-tunes the shipped course model (``nbutils.pretrain.load_course_model``) for longer than a notebook
can, trains the same architecture from random weights for as many steps (what does pretraining on English
bring?), and writes the fine-tuned checkpoint (weights, config, tokenizer, loss history; no optimiser
state) to ``nbutils/assets/translation_model/`` and the results of both models to
``nbutils/assets/translation_results.json``: settings, times, loss histories, and on the 1000 test pairs
exact match and chrF (all, seen / unseen combinations, per kind), sampled successes and errors, and every
translation. On a CPU shared with other work, ``OMP_NUM_THREADS=1`` can be much faster than two threads.
"""

from __future__ import annotations

import argparse
import difflib
import functools
import json
import platform
import random
import re
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
import torch.nn as nn

from nbutils.device import device_of
from nbutils.finetune import pad_batch

__all__ = [
    "PROMPT_TEMPLATE", "END_MARKER", "IGNORE_INDEX", "DEFAULT_OUT", "DEFAULT_RESULTS", "DEFAULT_STEPS",
    "format_prompt", "format_answer", "end_marker_id", "encode_pair", "mask_prompt", "build_example",
    "collate", "answer_loss", "finetune_translation", "translate", "translate_many", "evaluate_translations",
    "load_translation_model", "load_translation_results", "main",
    "ERROR_TYPES", "french_words", "french_nouns", "french_adjectives", "error_kinds", "error_type",
    "aligned_words", "reordering", "seed_summary", "merge_seeds", "seed_translations",
]

PROMPT_TEMPLATE = "English: {en}\nFrench:"
END_MARKER = "\n"
IGNORE_INDEX = -100  # cross_entropy's ignore_index: targets with this value are left out of the loss

_ASSETS = Path(__file__).resolve().parent / "assets"
DEFAULT_OUT = _ASSETS / "translation_model"
DEFAULT_RESULTS = _ASSETS / "translation_results.json"
DEFAULT_STEPS = 800
DEFAULT_BATCH_SIZE = 32
DEFAULT_LR = 2e-3


# ----------------------------------------------------------------------------------------- the format
def _check_sentence(text: Any, what: str) -> str:
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a str, got {type(text).__name__}")
    if not text.strip():
        raise ValueError(f"{what} is empty")
    if END_MARKER in text:
        raise ValueError(f"{what} contains a newline, which is the end marker of the format: {text!r}")
    return text


def format_prompt(en: str) -> str:
    """The text the model continues: ``"English: {en}\\nFrench:"``."""
    return PROMPT_TEMPLATE.format(en=_check_sentence(en, "the English sentence"))


def format_answer(fr: str) -> str:
    """What the model should write after the prompt: a space, the French sentence, the end marker."""
    return f" {_check_sentence(fr, 'the French sentence')}{END_MARKER}"


def end_marker_id(tokenizer: Any) -> int:
    """The id of the end marker (a newline); raises ValueError if the tokenizer makes more than one token of it."""
    ids = tokenizer.encode(END_MARKER)
    if len(ids) != 1:
        raise ValueError(f"the tokenizer turns the end marker {END_MARKER!r} into {len(ids)} tokens; it must be one")
    return ids[0]


def encode_pair(en: str, fr: str, tokenizer: Any) -> tuple[list[int], list[int]]:
    """The ids of the prompt and of the answer (the answer's last id is the end marker)."""
    return tokenizer.encode(format_prompt(en)), tokenizer.encode(format_answer(fr))


# ----------------------------------------------------------------------------------------- examples
def mask_prompt(targets: torch.Tensor, prompt_length: int) -> torch.Tensor:
    """A copy of ``targets`` with -100 wherever the target is a prompt token.

    ``targets[t]`` is the token that follows input position t, i.e. token t + 1 of the example. Tokens
    1 .. P-1 of the example belong to the prompt (P = ``prompt_length``), so ``targets[0 : P-1]`` become -100;
    ``targets[P-1]``, the first answer token, is kept. Works on a 1-D tensor or on a batch (B, T) of
    examples that share the prompt length.
    """
    if not isinstance(targets, torch.Tensor):
        raise TypeError(f"targets must be a torch.Tensor, got {type(targets).__name__}")
    if isinstance(prompt_length, bool) or not isinstance(prompt_length, int):
        raise TypeError(f"prompt_length must be an int, got {type(prompt_length).__name__}")
    if not 1 <= prompt_length <= targets.shape[-1]:
        raise ValueError(f"prompt_length must be between 1 and the number of targets ({targets.shape[-1]}), "
                         f"got {prompt_length}")
    masked = targets.clone()
    masked[..., :prompt_length - 1] = IGNORE_INDEX
    return masked


def build_example(en: str, fr: str, tokenizer: Any,
                  context_length: int | None = 128) -> tuple[torch.Tensor, torch.Tensor]:
    """One training example: ``(ids, targets)``, two 1-D long tensors of the same length.

    ``ids`` are the tokens of prompt + answer without the last one (the end marker is never an input);
    ``targets[t]`` is the token after ``ids[t]``, or -100 where that token belongs to the prompt. Raises
    ValueError when the example is longer than ``context_length`` (None: no limit).
    """
    prompt, answer = encode_pair(en, fr, tokenizer)
    full = torch.tensor(prompt + answer, dtype=torch.long)
    ids, targets = full[:-1], full[1:]
    if context_length is not None and len(ids) > context_length:
        raise ValueError(f"the example has {len(ids)} input tokens but the model reads at most {context_length}: "
                         f"{en!r}")
    return ids, mask_prompt(targets, len(prompt))


def collate(examples: Sequence[tuple[torch.Tensor, torch.Tensor]],
            pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack examples of different lengths into a batch ``(x, y)`` of shape (B, T), T the longest example.

    Shorter examples are padded on the right: inputs with ``pad_id``, targets with -100. Because attention
    is causal, no real token sees the padding that follows it, so padding changes no prediction.
    """
    if len(examples) == 0:
        raise ValueError("collate needs at least one example")
    for i, pair in enumerate(examples):
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise TypeError(f"example {i} must be a pair (ids, targets)")
        ids, targets = pair
        if not isinstance(ids, torch.Tensor) or not isinstance(targets, torch.Tensor):
            raise TypeError(f"example {i}: ids and targets must be tensors")
        if ids.dim() != 1 or ids.shape != targets.shape:
            raise ValueError(f"example {i}: ids and targets must be 1-D and equally long, got shapes "
                             f"{tuple(ids.shape)} and {tuple(targets.shape)}")
    x, _ = pad_batch([ids.tolist() for ids, _ in examples], pad_id)  # the padding of notebook 07
    y, _ = pad_batch([targets.tolist() for _, targets in examples], IGNORE_INDEX)
    return x, y


# ----------------------------------------------------------------------------------------- training
def _pairs_to_examples(pairs: Sequence[Any], tokenizer: Any, context_length: int | None) -> list:
    if len(pairs) == 0:
        raise ValueError("no pairs given")
    examples = []
    for pair in pairs:
        en, fr = (pair.en, pair.fr) if hasattr(pair, "en") else pair
        examples.append(build_example(en, fr, tokenizer, context_length))
    return examples


@torch.no_grad()
def answer_loss(model: nn.Module, pairs: Sequence[Any], tokenizer: Any, batch_size: int = 64) -> float:
    """Mean cross-entropy (nats per answer token) of the model on the answers of ``pairs``, prompts masked.

    ``pairs``: ``Pair`` objects (with ``.en`` and ``.fr``) or ``(en, fr)`` tuples. Runs in eval mode.
    """
    context = getattr(getattr(model, "config", None), "context_length", None)
    examples = _pairs_to_examples(pairs, tokenizer, context)
    device = device_of(model)
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        for start in range(0, len(examples), batch_size):
            x, y = collate(examples[start:start + batch_size])
            x, y = x.to(device), y.to(device)
            _, loss = model(x, y)
            scored = int((y != IGNORE_INDEX).sum())
            total += loss.item() * scored
            count += scored
    finally:
        model.train(was_training)
    return total / count


def finetune_translation(model: nn.Module, pairs: Sequence[Any], tokenizer: Any, steps: int = 200,
                         lr: float = DEFAULT_LR, batch_size: int = DEFAULT_BATCH_SIZE, seed: int = 0,
                         device: str | torch.device | None = None, val_pairs: Sequence[Any] | None = None,
                         eval_every: int = 50, warmup_steps: int | None = None,
                         callback: Callable[[Any], None] | None = None):
    """Fine-tune ``model`` in place on translation pairs; returns a ``nbutils.train.History``.

    Every step takes the next ``batch_size`` examples of a shuffled pass over ``pairs`` (reshuffled after
    each pass, with a generator seeded by ``seed``), pads them (``collate``), and makes one AdamW update
    (``nbutils.train.make_optimizer``: no weight decay here, the pretrained weights should not be pulled
    towards zero) with gradient clipping at 1.0. The learning rate follows ``nbutils.train.lr_at``: a short
    warm-up (default: 5% of the steps) then cosine decay from ``lr`` to ``lr / 10``.

    ``val_pairs``: when given, ``answer_loss`` on them is recorded before training, every ``eval_every``
    steps and at the end. ``history.tokens_seen`` counts the answer tokens (the ones in the loss). ``device``
    None keeps the model where it is. ``callback(history)`` is called after every step.
    """
    from nbutils.train import History, TrainConfig, lr_at, make_optimizer

    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if device is not None:
        model.to(device)
    device = device_of(model)
    warmup = max(1, steps // 20) if warmup_steps is None else warmup_steps
    config = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, min_lr=lr / 10, warmup_steps=warmup,
                         weight_decay=0.0, grad_clip=1.0, eval_every=eval_every, seed=seed)
    context = getattr(getattr(model, "config", None), "context_length", None)
    examples = _pairs_to_examples(pairs, tokenizer, context)
    optimizer = make_optimizer(model, config)
    generator = torch.Generator().manual_seed(seed)
    history = History()
    order: list[int] = []
    tokens_seen = 0

    def evaluate(step: int) -> None:
        if val_pairs is not None:
            history.val_steps.append(step)
            history.val_loss.append(answer_loss(model, val_pairs, tokenizer))

    evaluate(0)
    model.train()
    for step in range(steps):
        if len(order) < batch_size:  # a new shuffled pass over the examples
            order += torch.randperm(len(examples), generator=generator).tolist()
        batch, order = order[:batch_size], order[batch_size:]
        x, y = collate([examples[i] for i in batch])
        x, y = x.to(device), y.to(device)
        rate = lr_at(step, config)
        for group in optimizer.param_groups:
            group["lr"] = rate
        optimizer.zero_grad(set_to_none=True)
        _, loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        tokens_seen += int((y != IGNORE_INDEX).sum())
        history.steps.append(step + 1)
        history.train_loss.append(loss.item())
        history.lr.append(rate)
        history.tokens_seen.append(tokens_seen)
        if (step + 1) % eval_every == 0 or step + 1 == steps:
            evaluate(step + 1)
            model.train()
        if callback is not None:
            callback(history)
    model.eval()
    return history


# ----------------------------------------------------------------------------------------- translating
@torch.no_grad()
def _greedy_same_length(model: nn.Module, prompts: list[list[int]], end_id: int,
                        max_new_tokens: int) -> list[list[int]]:
    """Greedy continuation of prompts that all have the same number of tokens (so no padding is needed)."""
    device = device_of(model)
    ids = torch.tensor(prompts, dtype=torch.long, device=device)
    done = torch.zeros(len(prompts), dtype=torch.bool, device=device)
    new: list[torch.Tensor] = []
    for _ in range(max_new_tokens):
        logits, _ = model(ids)
        next_id = logits[:, -1].argmax(dim=-1)
        next_id = torch.where(done, torch.full_like(next_id, end_id), next_id)
        new.append(next_id)
        done |= next_id == end_id
        if bool(done.all()):
            break
        ids = torch.cat([ids, next_id[:, None]], dim=1)
    if not new:
        return [[] for _ in prompts]
    rows = torch.stack(new, dim=1).tolist()
    return [row[:row.index(end_id)] if end_id in row else row for row in rows]


def _max_new(model: nn.Module, prompt_length: int, max_new_tokens: int) -> int:
    context = model.config.context_length
    if prompt_length >= context:
        raise ValueError(f"the prompt has {prompt_length} tokens; the model reads at most {context}, "
                         f"which leaves no room for the answer")
    return min(max_new_tokens, context - prompt_length)


def translate_many(model: nn.Module, tokenizer: Any, sentences: Sequence[str], max_new_tokens: int = 64,
                   batch_size: int = 256) -> list[str]:
    """Translate many English sentences with greedy decoding; returns the French sentences, in order.

    Prompts with the same number of tokens are decoded together as one batch (no padding needed); each
    answer stops at the end marker, or after ``max_new_tokens`` tokens (or when the context is full).
    """
    if isinstance(sentences, str):
        raise TypeError("translate_many takes a list of sentences; for one sentence use translate()")
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be a positive int, got {max_new_tokens!r}")
    end_id = end_marker_id(tokenizer)
    prompts = [tokenizer.encode(format_prompt(en)) for en in sentences]
    by_length: dict[int, list[int]] = defaultdict(list)
    for index, prompt in enumerate(prompts):
        by_length[len(prompt)].append(index)
    answers: list[str] = [""] * len(prompts)
    was_training = model.training
    model.eval()
    try:
        for length, indices in sorted(by_length.items()):
            limit = _max_new(model, length, max_new_tokens)
            for start in range(0, len(indices), batch_size):
                chunk = indices[start:start + batch_size]
                outputs = _greedy_same_length(model, [prompts[i] for i in chunk], end_id, limit)
                for i, out in zip(chunk, outputs):
                    answers[i] = tokenizer.decode(out).strip()
    finally:
        model.train(was_training)
    return answers


def translate(model: nn.Module, tokenizer: Any, en: str, max_new_tokens: int = 64) -> str:
    """Translate one English sentence: greedy decoding from the prompt until the end marker."""
    return translate_many(model, tokenizer, [_check_sentence(en, "the English sentence")], max_new_tokens)[0]


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
    """Load the fine-tuned translation model written by ``python -m nbutils.translation``.

    Returns ``(model, tokenizer)``, the model in eval mode on ``device`` (None: ``pick_device()``).
    """
    from nbutils.checkpoint import load_checkpoint
    from nbutils.device import pick_device

    folder = Path(path) if path is not None else DEFAULT_OUT
    if not (folder / "checkpoint.json").is_file():
        raise FileNotFoundError(f"no translation model in {str(folder)!r}: write it with "
                                f"`python -m nbutils.translation` (about 10 minutes on a laptop CPU)")
    checkpoint = load_checkpoint(folder, map_location=pick_device(None if device is None else str(device)))
    return checkpoint.model.eval(), checkpoint.tokenizer


def load_translation_results(path: str | Path | None = None) -> dict[str, Any]:
    """The results JSON written by ``python -m nbutils.translation`` (scores, examples, loss curves, times)."""
    file = Path(path) if path is not None else DEFAULT_RESULTS
    if not file.is_file():
        raise FileNotFoundError(f"no results file {str(file)!r}: write it with `python -m nbutils.translation`")
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
        if step % every == 0 or step == steps:
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
    """Fine-tune the course model, train a from-scratch baseline, evaluate both; returns the results dict.

    ``out``: folder for the fine-tuned checkpoint (None: not saved); ``results``: the JSON file (None: not
    written). ``quick``: a handful of steps on a few pairs, to check the pipeline in seconds.
    ``base_model``: another pretrained folder instead of the shipped course model.
    """
    from nbutils.checkpoint import save_checkpoint, write_atomic
    from nbutils.device import pick_device, seed_everything
    from nbutils.model import GPT
    from nbutils.pretrain import load_course_model
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
    model, tokenizer, info = load_course_model(device=target, path=base_model)
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
        "command": "python -m nbutils.translation" + (f" --steps {steps}" if steps != DEFAULT_STEPS else "")
                   + (" --quick" if quick else "") + ("" if baseline else " --no-baseline"),
        "quick": quick, "device": str(target), "threads": torch.get_num_threads(),
        "settings": {"steps": steps, "batch_size": batch_size, "lr": lr, "min_lr": lr / 10, "seed": seed,
                     "weight_decay": 0.0, "grad_clip": 1.0, "val_pairs": n_val,
                     "prompt_template": PROMPT_TEMPLATE, "end_marker": END_MARKER},
        "data": {"train": len(data.train), "val": len(data.val), "test": len(data.test),
                 "test_unseen": sum(p.unseen for p in data.test)},
        "tokens": tokens,
        "base_model": {"step": info["step"], "final_val_loss_per_token": info["log"].get("final_val_loss_per_token"),
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
    report["versions"] = {"torch": torch.__version__, "python": platform.python_version()}
    if results is not None:
        write_atomic(Path(results), (json.dumps(report, indent=1, ensure_ascii=False) + "\n").encode("utf-8"))
        Path(results).chmod(0o644)
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
    from nbutils.checkpoint import write_atomic
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
    base["seeds"] = {"seeds": seeds, "command": "OMP_NUM_THREADS=1 python -m nbutils.translation --seed S "
                                                "--out DIR --results FILE; python -m nbutils.translation --merge FILE ...",
                     "finetuned": [seed_summary(run["finetuned"], references) for run in runs],
                     "scratch": [seed_summary(run["scratch"], references) for run in runs]}
    write_atomic(results_file, (json.dumps(base, indent=1, ensure_ascii=False) + "\n").encode("utf-8"))
    results_file.chmod(0o644)
    return base


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nbutils.translation",
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
                        help="a pretrained checkpoint folder instead of the shipped course model")
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


# ----------------------------------------------------------------------------------------- reading errors
#: The kinds of error ``error_type`` tells apart, from the most to the least serious (a translation with
#: several is labelled with the first that applies).
ERROR_TYPES = ("misspelt word", "word dropped", "word added", "wrong noun", "wrong adjective", "other wrong word",
               "wrong number", "wrong agreement", "wrong name")

_ELISION = re.compile(r"\b([ldnLDN]')")


def french_words(text: str) -> list[str]:
    """The words of a French sentence, the elided article or negation as a word of its own.

    ``"L'abeille n'aime pas la pluie."`` -> ``["L'", "abeille", "n'", "aime", "pas", "la", "pluie"]``: so that
    *l'abeille* and *la vache* both have two words, an article and a noun.
    """
    return _ELISION.sub(r"\1 ", text.strip().rstrip(".")).split()


@functools.lru_cache(maxsize=1)
def _french_forms() -> dict[str, frozenset[tuple[str, str, str | None, str]]]:
    """Every French word form of the world: word -> {(lemma, part of speech, gender or None, 's'/'p')}."""
    from nbutils.world import french, lexicon

    forms: dict[str, set[tuple[str, str, str | None, str]]] = defaultdict(set)
    for noun in french_nouns():
        for word, number in ((noun.fr, "s"), (noun.fr_plural, "p")):
            if " " not in word:
                forms[word].add((noun.en, "noun", noun.fr_gender, number))
    for adjective in french_adjectives():
        for word, gender, number in ((adjective.fr_m, "m", "s"), (adjective.fr_f, "f", "s"),
                                     (adjective.fr_m_plural, "m", "p"), (adjective.fr_f_plural, "f", "p")):
            forms[word].add((adjective.en, "adjective", gender, number))
    for short, long in (("vieil", "vieux"), ("bel", "beau"), ("nouvel", "nouveau")):
        forms[short] |= {f for f in forms[long] if f[2:] == ("m", "s")}
    articles = {"le": ("the", "m", "s"), "la": ("the", "f", "s"), "l'": ("the", None, "s"), "les": ("the", None, "p"),
                "un": ("a", "m", "s"), "une": ("a", "f", "s"), "du": ("of the", "m", "s"),
                "des": ("of the", None, "p"), "au": ("to the", "m", "s"), "aux": ("to the", None, "p"),
                "deux": ("number", None, "p"), "trois": ("number", None, "p")}
    for word, (lemma, gender, number) in articles.items():
        forms[word].add((lemma, "article", gender, number))
    verbs = [french._BE, french._HAVE, *french._PUT_VERBS, *french._OPINIONS,
             *(move for moves in french._MOVES.values() for move in moves)]
    for english, singular, plural in verbs:
        for phrase, number in ((singular, "s"), (plural, "p")):
            word = phrase.split()[-1] if phrase.startswith("se ") else phrase.split()[0].removeprefix("n'")
            forms[word].add((english, "verb", None, number))
    for person in list(lexicon.GIRLS.items) + list(lexicon.BOYS.items):
        forms[person.name].add((person.name, "name", None, "s"))
    return {word: frozenset(values) for word, values in forms.items()}


def french_nouns() -> list[Any]:
    """Every noun of the translation world (animals, toys, things, food, weather, places), as lexicon Nouns."""
    from nbutils.world import lexicon

    nouns = [k.noun for k in list(lexicon.PETS.items) + list(lexicon.GROUPS.items) + list(lexicon.TOYS.items)
             + list(lexicon.THINGS.items)]
    nouns += [noun for noun, _ in list(lexicon.FOODS.items) + list(lexicon.WEATHER_THINGS.items)
              + list(lexicon.LIKED_PLACES.items)]
    nouns += [place.noun for place in lexicon.PLACES.values()]
    unique: dict[str, Any] = {}
    for noun in nouns:
        unique.setdefault(noun.en, noun)
    return list(unique.values())


def french_adjectives() -> list[Any]:
    """Every adjective of the translation world, as lexicon Adjectives."""
    from nbutils.world import lexicon

    unique: dict[str, Any] = {}
    for a in (list(lexicon.COLORS.items) + [a for a in lexicon.THING_ADJECTIVES.items if a is not None]
              + list(lexicon.EMOTIONS.items) + list(lexicon.MORE_ADJECTIVES)):
        unique.setdefault(a.en, a)
    return list(unique.values())


def _word_error(hypothesis_word: str, reference_word: str) -> str:
    """The kind of a one-for-one substitution, read off the two words' lexicon forms."""
    forms = _french_forms()
    hyp = forms.get(hypothesis_word, forms.get(hypothesis_word.lower(), frozenset()))
    ref = forms.get(reference_word, forms.get(reference_word.lower(), frozenset()))
    if any(f[1] == "name" for f in ref) and any(f[1] == "name" for f in hyp):
        return "wrong name"
    same_lemma = [(h, r) for h in hyp for r in ref if h[:2] == r[:2]]
    if same_lemma:
        if all(r[1] == "noun" and h[3] != r[3] for h, r in same_lemma):
            return "wrong number"      # the noun itself: clé / clés says something else than the English
        return "wrong agreement"       # le / la, noirs / noires, est / sont: the form does not fit its noun
    parts = {r[1] for r in ref}
    return "wrong noun" if "noun" in parts else "wrong adjective" if "adjective" in parts else "other wrong word"


def error_kinds(hypothesis: str, reference: str, vocabulary: set[str] | None = None) -> list[str]:
    """Every difference between a translation and its reference, each with its kind (see ``ERROR_TYPES``).

    The two sentences are aligned word by word (``difflib.SequenceMatcher`` on ``french_words``): a word
    of the reference with nothing facing it is **dropped**, a word of the translation with nothing facing
    it is **added**. A word the translation replaces one for one is compared through the world's lexicon:
    the same noun in the other **number** (*clé* / *clés*: the translation says something else than the
    English), the same article, adjective or verb in another gender or number (*le* / *la*, *lourds* /
    *lourdes*, *est* / *sont*: an **agreement** error, the word does not fit its noun), another noun,
    another adjective, another word, or another name. A translated word that is not in ``vocabulary`` (e.g. every word of the
    training references) is **misspelt**. An empty list: the two are the same words.
    """
    hyp, ref = french_words(hypothesis), french_words(reference)
    kinds: list[str] = []
    if vocabulary is not None:
        kinds += ["misspelt word" for word in hyp if word not in vocabulary and word.lower() not in vocabulary]
    for op, r0, r1, h0, h1 in difflib.SequenceMatcher(None, ref, hyp, autojunk=False).get_opcodes():
        if op == "delete":
            kinds += ["word dropped"] * (r1 - r0)
        elif op == "insert":
            kinds += ["word added"] * (h1 - h0)
        elif op == "replace":
            if r1 - r0 == h1 - h0:
                kinds += [_word_error(h, r) for h, r in zip(hyp[h0:h1], ref[r0:r1])]
            else:
                kinds += ["word dropped" if r1 - r0 > h1 - h0 else "word added"] * abs((r1 - r0) - (h1 - h0))
                kinds += [_word_error(h, r) for h, r in zip(hyp[h0:h1], ref[r0:r1])]
    return kinds


def error_type(hypothesis: str, reference: str, vocabulary: set[str] | None = None) -> str | None:
    """One label for a wrong translation: the most serious of its ``error_kinds`` (order of ``ERROR_TYPES``).

    None when the translation has the reference's words (only capitals or the final full stop differ).
    """
    kinds = set(error_kinds(hypothesis, reference, vocabulary))
    return next((kind for kind in ERROR_TYPES if kind in kinds), None)


# ----------------------------------------------------------------------------------------- word order
def _find_all(pattern: str, text: str) -> list[int]:
    return [m.start() for m in re.finditer(rf"(?<![\w-]){pattern}(?![\w-])", text)]


def aligned_words(en: str, fr: str) -> list[tuple[str, int, int]]:
    """The content words of a pair, aligned through the lexicon: ``(English word, English position, French position)``.

    Content words are names, nouns, adjectives and the numbers *two* / *three*; positions are character
    offsets. An English word is aligned to the first unused occurrence of one of its French forms; a word
    without one (a mistranslation) is left out.
    """
    from nbutils.world import lexicon

    en_text, fr_text = en.lower(), fr.lower()
    candidates: list[tuple[str, set[str]]] = []
    for person in list(lexicon.GIRLS.items) + list(lexicon.BOYS.items):
        candidates.append((person.name.lower(), {person.name.lower()}))
    for noun in french_nouns():
        candidates.append((noun.en, {noun.fr, noun.fr_plural}))
        candidates.append((noun.en_plural, {noun.fr, noun.fr_plural}))
    for a in french_adjectives():
        candidates.append((a.en, {a.fr_m, a.fr_f, a.fr_m_plural, a.fr_f_plural, {"vieux": "vieil", "beau": "bel",
                                                                                  "nouveau": "nouvel"}.get(a.fr_m, a.fr_m)}))
    candidates += [("two", {"deux"}), ("three", {"trois"})]
    found: list[tuple[int, int, str, set[str]]] = []
    for word, forms in candidates:
        for start in _find_all(re.escape(word), en_text):
            found.append((start, start + len(word), word, forms))
    # keep the longest English match where two overlap ("teddy bear" rather than "bear")
    found.sort(key=lambda f: (f[0], -(f[1] - f[0])))
    kept, end = [], -1
    for start, stop, word, forms in found:
        if start >= end:
            kept.append((start, word, forms))
            end = stop
    used: set[int] = set()
    aligned = []
    for start, word, forms in kept:
        places = sorted(p for form in forms for p in _find_all(re.escape(form.lower()), fr_text) if p not in used)
        if places:
            used.add(places[0])
            aligned.append((word, start, places[0]))
    return aligned


def reordering(en: str, fr: str) -> int:
    """How much the translation reorders the content words: the number of pairs of aligned words whose order
    flips (Kendall's distance). *The red ball* -> *la balle rouge*: 1; *Tom's white rabbits* -> *les lapins
    blancs de Tom*: 3 (Tom passes both words, and *white* passes *rabbits*)."""
    positions = [fr_position for _, _, fr_position in aligned_words(en, fr)]
    return sum(a > b for i, a in enumerate(positions) for b in positions[i + 1:])
