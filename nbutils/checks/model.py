"""Checks for the model exercises: ``check_parameter_count``.

The student writes ``count(config) -> int``, the number of parameters of ``nbutils.model.GPT(config)``.
When the number is off, the check compares the difference with what each typical omission would cost
(biases, LayerNorms, position embeddings, counting the tied head twice, ...) and names the match.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any, Callable

from nbutils.checks.core import Case, run_check
from nbutils.model import GPT, GPTConfig

__all__ = ["check_parameter_count"]


def _cases() -> list[Case]:
    return [
        Case((GPTConfig(vocab_size=100, context_length=24, n_layer=2, n_head=2, n_embd=24),),
             label="GPTConfig(vocab_size=100, context_length=24, n_layer=2, n_head=2, n_embd=24)"),
        Case((GPTConfig(vocab_size=65, context_length=64, n_layer=4, n_head=4, n_embd=128),),
             label="GPTConfig(vocab_size=65, context_length=64, n_layer=4, n_head=4, n_embd=128)"),
        Case((GPTConfig(vocab_size=50, context_length=32, n_layer=3, n_head=4, n_embd=16, bias=False),),
             label="GPTConfig(vocab_size=50, context_length=32, n_layer=3, n_head=4, n_embd=16, bias=False)"),
    ]


def _mistakes(config: GPTConfig) -> list[tuple[str, int]]:
    """Each typical mistake as (hint, what it adds to the count); negative means something was forgotten."""
    C, V, L, n = config.n_embd, config.vocab_size, config.context_length, config.n_layer
    b = 1 if config.bias else 0
    layer_norms = 2 * n + 1
    mlp = "the MLP widens to 4 * n_embd: c_fc has n_embd x 4n_embd weights and c_proj 4n_embd x n_embd"
    mistakes = [
        ("you forgot the position embeddings (context_length x n_embd)", -L * C),
        ("you forgot the token embedding (vocab_size x n_embd)", -V * C),
        ("you counted the LM head separately, but it is tied to the token embedding (the same matrix, "
         "counted once)", V * C),
        ("you forgot the LayerNorms (2 per block plus the final one, each with a weight and a bias of "
         "size n_embd)", -layer_norms * C * (1 + b)),
        ("you forgot the final LayerNorm (after the last block)", -C * (1 + b)),
        ("attention has 4 matrices of n_embd x n_embd per block (queries, keys, values, and the output "
         "projection)", -n * (C * C + b * C)),
        (mlp, -n * (6 * C * C + 3 * b * C)),  # no widening at all (C -> C -> C)
        (mlp, -n * (4 * C * C + 2 * b * C)),  # widened 2x instead of 4x
    ]
    if b:
        mistakes += [
            ("you forgot the biases (every Linear has one, and every LayerNorm has a bias of size n_embd)",
             -(n * 11 * C + C)),
            ("you forgot the biases of the Linear layers (per block: c_attn 3C, attention c_proj C, c_fc 4C, "
             "MLP c_proj C)", -n * 9 * C),
            ("you forgot the LayerNorm biases (each LayerNorm has a weight and a bias)", -layer_norms * C),
            ("the tied LM head has no bias", V),
        ]
    else:
        mistakes += [
            ("config.bias is False: no Linear or LayerNorm has a bias vector, count none", n * 11 * C + C),
            ("config.bias is False: the Linear layers have no bias vectors", n * 9 * C),
            ("config.bias is False: the LayerNorms have only a weight, no bias", layer_norms * C),
        ]
    return mistakes


def _diagnose(case: Case, got: Any, expected: int) -> str | None:
    if isinstance(got, bool) or not isinstance(got, int):
        try:
            as_int = int(got)
        except (TypeError, ValueError):
            return f"return a whole number (an int), got {type(got).__name__}"
        if as_int != got:
            return f"return a whole number (an int), got {got!r}"
        got = as_int
    difference = got - expected
    mistakes = _mistakes(case.args[0])
    for hint, delta in mistakes:
        if delta == difference:
            return f"{hint} (your count is off by {difference:+d})"
    for (hint_a, delta_a), (hint_b, delta_b) in combinations(mistakes, 2):
        if delta_a + delta_b == difference:
            return f"two things: {hint_a}; and {hint_b} (your count is off by {difference:+d})"
    return (f"your count is off by {difference:+d}; count, per block: two LayerNorms, c_attn (n_embd -> "
            "3 n_embd), attention c_proj, c_fc (n_embd -> 4 n_embd) and MLP c_proj; plus both embeddings and "
            "the final LayerNorm")


def check_parameter_count(fn: Callable[[GPTConfig], int]) -> None:
    """Check ``fn(config) -> int`` against the number of parameters of ``GPT(config)``."""
    run_check("parameter count", fn, GPT.parameter_count_formula, _cases(), diagnose=_diagnose)
