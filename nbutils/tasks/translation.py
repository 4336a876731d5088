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

**Batches.** Examples have different lengths; ``nbutils.data.collate`` pads them on the right. Padding after the end
needs no attention mask: attention is causal, so a real token never looks at the padding that comes after
it, and the padded positions' targets are -100, so they cost nothing.

Functions: ``format_prompt``, ``format_answer``, ``build_example``, ``mask_prompt``, ``answer_loss``,
``finetune_translation`` (the course's one loop, ``nbutils.train.Trainer``), ``translate`` and
``translate_many`` (greedy decoding with ``nbutils.generate.greedy_until``). Reading the errors is in
``nbutils.tasks.translation_errors``; the command that trains and scores the shipped translation model is
``python -m nbutils.recipes.translation``.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
import torch.nn as nn

from nbutils.data import IGNORE_INDEX, collate
from nbutils.device import device_of
from nbutils.validate import require_int

__all__ = [
    "PROMPT_TEMPLATE", "END_MARKER", "IGNORE_INDEX", "DEFAULT_BATCH_SIZE", "DEFAULT_LR",
    "format_prompt", "format_answer", "end_marker_id", "encode_pair", "mask_prompt", "build_example",
    "pairs_to_examples", "answer_loss", "finetune_translation", "translate", "translate_many",
]

PROMPT_TEMPLATE = "English: {en}\nFrench:"
END_MARKER = "\n"
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

# ----------------------------------------------------------------------------------------- training
def pairs_to_examples(pairs: Sequence[Any], tokenizer: Any, context_length: int | None) -> list:
    """``build_example`` of every pair (``Pair`` objects with ``.en`` and ``.fr``, or ``(en, fr)`` tuples)."""
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
    examples = pairs_to_examples(pairs, tokenizer, context)
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

    The loop is the course's ``nbutils.train.Trainer``. Every step takes the next ``batch_size`` examples of
    a shuffled pass over ``pairs`` (``nbutils.data.shuffled_batches``, reshuffled after each pass, with a
    generator seeded by ``seed``), pads them (``nbutils.data.collate``), and makes one AdamW update (no
    weight decay here: the pretrained weights should not be pulled towards zero) with gradient clipping at
    1.0. The learning rate: a short warm-up (default: 5% of the steps) then cosine decay from ``lr`` to
    ``lr / 10``.

    ``val_pairs``: when given, ``answer_loss`` on them is recorded before training, every ``eval_every``
    steps and at the end. ``history.tokens_seen`` counts the answer tokens (the ones in the loss). ``device``
    None keeps the model where it is. ``callback(history)`` is called after every step (and after the
    evaluation before training). The model is left in eval mode.
    """
    from nbutils.data import shuffled_batches
    from nbutils.train import TrainConfig, Trainer

    steps = require_int("steps", steps)
    batch_size = require_int("batch_size", batch_size)
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    device = device_of(model) if device is None else torch.device(device)
    warmup = max(1, steps // 20) if warmup_steps is None else warmup_steps
    config = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, min_lr=lr / 10, warmup_steps=warmup,
                         weight_decay=0.0, grad_clip=1.0, eval_every=eval_every, log_every=1, seed=seed,
                         device=str(device))
    context = getattr(getattr(model, "config", None), "context_length", None)
    examples = pairs_to_examples(pairs, tokenizer, context)
    batches = shuffled_batches(examples, batch_size, collate, torch.Generator().manual_seed(seed))
    evaluate = None if val_pairs is None else (lambda m: answer_loss(m, val_pairs, tokenizer))
    trainer = Trainer(model, batches, config=config, evaluate=evaluate)
    history = trainer.train(callback=callback)
    model.eval()
    return history


# ----------------------------------------------------------------------------------------- translating
def translate_many(model: nn.Module, tokenizer: Any, sentences: Sequence[str], max_new_tokens: int = 64,
                   batch_size: int = 256) -> list[str]:
    """Translate many English sentences with greedy decoding; returns the French sentences, in order.

    ``nbutils.generate.greedy_until`` decodes prompts with the same number of tokens together (no padding
    needed); each answer stops at the end marker, or after ``max_new_tokens`` tokens (or when the context is
    full).
    """
    from nbutils.generate import greedy_until

    if isinstance(sentences, str):
        raise TypeError("translate_many takes a list of sentences; for one sentence use translate()")
    prompts = [tokenizer.encode(format_prompt(en)) for en in sentences]
    answers = greedy_until(model, prompts, end_marker_id(tokenizer), max_new_tokens, batch_size)
    return [tokenizer.decode(ids).strip() for ids in answers]


def translate(model: nn.Module, tokenizer: Any, en: str, max_new_tokens: int = 64) -> str:
    """Translate one English sentence: greedy decoding from the prompt until the end marker."""
    return translate_many(model, tokenizer, [_check_sentence(en, "the English sentence")], max_new_tokens)[0]
