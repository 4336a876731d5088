"""Checks for the induction-heads notebook (10): the prefix-matching score of an attention pattern, a head
ablated by hand, and a prediction of the second copy's loss made before seeing it."""

from __future__ import annotations

from typing import Any, Callable

import torch

from nbutils.checks.core import Case, CheckFailed, as_float_tensor, close, describe, not_written_yet, run_check
from nbutils.heads import ablated, planted_induction_model, prefix_matching_from_pattern, repeated_tokens

__all__ = ["check_prefix_matching", "check_ablate_head", "check_second_copy_prediction", "PREDICTION_CHOICES"]


# ------------------------------------------------------------------------------------ prefix matching
def _causal_softmax(scores: torch.Tensor) -> torch.Tensor:
    T = scores.shape[0]
    return scores.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf")).softmax(-1)


def _patterns(n: int) -> dict[str, torch.Tensor]:
    T = 2 * n
    induction = torch.zeros(T, T)
    previous = torch.zeros(T, T)
    for t in range(T):
        previous[t, max(t - 1, 0)] = 1.0
        induction[t, t - n + 1 if t >= n else 0] = 1.0
    uniform = torch.ones(T, T).tril()
    uniform = uniform / uniform.sum(-1, keepdim=True)
    noisy = _causal_softmax(torch.randn(T, T, generator=torch.Generator().manual_seed(n)) * 2.0)
    return {"induction": induction, "previous": previous, "uniform": uniform, "noisy": noisy}


def _diagnose_prefix(case: Case, got: Any, expected: float) -> str | None:
    pattern, n = case.args
    value = as_float_tensor(got)
    if value is None or value.numel() != 1:
        return "return one number: the mean, over the positions of the second copy, of the attention they pay"
    value = float(value)
    j = torch.arange(n)
    tries = {
        "duplicate": float(pattern[n + j, j].mean()),
        "sum": float(pattern[n + j, j + 1].sum()),
        "previous": float(pattern[n + j, n + j - 1].mean()),
        "skip last": float(pattern[n + j[:-1], j[:-1] + 1].mean()) if n > 1 else float("nan"),
    }
    hints = {
        "duplicate": ("you measured the attention to the earlier occurrence of the current token itself (position "
                      "j). An induction head looks one step further, at j + 1: the token that came *next* last "
                      "time, which is what it copies"),
        "sum": "you summed over the positions; the score is their mean (so that it lies between 0 and 1)",
        "previous": ("that is the previous-token score of the second copy (position t looking at t - 1); the "
                     "prefix-matching score asks how much position n + j looks at j + 1, in the first copy"),
        "skip last": ("you left out the last position of the second copy (t = 2n - 1, which should look at "
                      "position n): every j = 0..n-1 counts"),
    }
    for key, hint in hints.items():
        if abs(value - tries[key]) < 1e-6 and abs(tries[key] - expected) > 1e-6:
            return hint
    if value > 1.0 + 1e-6:
        return "attention weights in a row add up to 1, so a mean of some of them cannot exceed 1"
    return ("the rows of the second copy are t = n + j for j = 0..n-1; take pattern[n + j, j + 1] for each and "
            "average them")


def check_prefix_matching(fn: Callable[[torch.Tensor, int], float]) -> None:
    """Check ``fn(pattern, n) -> float``, the prefix-matching score of one head's (2n, 2n) attention pattern on
    a sequence of n random tokens repeated, against ``nbutils.heads.prefix_matching_from_pattern``."""
    cases = []
    for n in (3, 5):
        for kind, pattern in _patterns(n).items():
            cases.append(Case((pattern, n), label=f"a {kind} pattern, n = {n} ({2 * n} positions)"))
    run_check("prefix_matching", fn, prefix_matching_from_pattern, cases,
              compare=lambda got, expected: (as_float_tensor(got) is not None and as_float_tensor(got).numel() == 1
                                             and abs(float(as_float_tensor(got)) - expected) < 1e-5),
              diagnose=_diagnose_prefix)


# ------------------------------------------------------------------------------------ ablation by hand
def _reference_ablation(model, idx: torch.Tensor, layer: int, head: int) -> torch.Tensor:
    with torch.no_grad(), ablated(model, [(layer, head)]):
        logits, _ = model(idx)
    return logits


def _small_model():
    from nbutils.model import GPT, GPTConfig

    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=20, context_length=12, n_layer=2, n_head=4, n_embd=16)).eval()


def _diagnose_ablation(case: Case, got: Any, expected: torch.Tensor) -> str | None:
    model, idx, layer, head = case.args
    if model.hooks:
        model.hooks.clear()
        return "a hook was left on the model: run the model inside `with model.hooked({...}):` so it is removed"
    if not isinstance(got, torch.Tensor):
        return "return the logits, the first thing model(idx) returns: logits, _ = model(idx)"
    if got.shape != expected.shape:
        return f"return the logits of shape {tuple(expected.shape)} (B, T, V)"
    with torch.no_grad():
        plain, _ = model(idx)
        with ablated(model, [(layer, h) for h in range(model.config.n_head)]):
            whole_layer, _ = model(idx)
    if torch.allclose(got, plain, atol=1e-6):
        return ("nothing changed. The hook must *return* the changed tensor (x = x.clone(); x[:, head] = 0; "
                "return x); a hook that returns None only looks")
    if torch.allclose(got, whole_layer, atol=1e-5):
        return ("you removed every head of the layer. head_out has shape (B, n_head, T, head_dim): x[:, head] is "
                "one head")
    return ("the hook point is f'blocks.{layer}.head_out', of shape (B, n_head, T, head_dim); zero x[:, head] "
            "(dim 1 is the head; dim 2 is the position)")


def check_ablate_head(fn: Callable[..., torch.Tensor]) -> None:
    """Check ``fn(model, idx, layer, head) -> logits`` (the model run with one head's output set to zero,
    through a hook at ``blocks.{layer}.head_out``) against ``nbutils.heads.ablated``."""
    planted = planted_induction_model()
    small = _small_model()
    repeats = repeated_tokens(8, 4, 8, seed=1)
    random = torch.randint(0, 20, (2, 10), generator=torch.Generator().manual_seed(3))
    cases = [Case((planted, repeats, 1, 0), label="the hand-built model, its induction head (1, 0)"),
             Case((planted, repeats, 0, 0), label="the hand-built model, its previous-token head (0, 0)"),
             Case((small, random, 1, 2), label="a small random GPT (2 layers, 4 heads), head (1, 2)"),
             Case((small, random, 0, 3), label="the same GPT, head (0, 3)")]
    run_check("ablate_head", fn, _reference_ablation, cases,
              compare=lambda got, expected: close(got, expected, atol=1e-5), diagnose=_diagnose_ablation)
    if planted.hooks or small.hooks:
        raise CheckFailed("ablate_head: a hook was left on the model; use `with model.hooked({...}):`")


# ------------------------------------------------------------------------------------ the prediction
PREDICTION_CHOICES = ("lower", "about the same", "higher")
TOLERANCE = 0.1  # nats: a difference smaller than this counts as "about the same"

_WHY = {
    "untrained model": ("an untrained model predicts nearly the same spread over all tokens everywhere (about "
                        "ln V nats): it has no circuit to look back with, so a repeat does not help"),
    "bigram model": ("a bigram model sees only the current token, and the second copy is made of exactly the same "
                     "pairs (token, next token) as the first: the same losses, whatever came before"),
    "course model": ("it gets worse, not better: on random text it never saw, the course model's loss grows with "
                     "the position, repeated or not; the control below (random tokens that never repeat) "
                     "separates that from the effect of the repeat"),
    "hand-built induction model": ("the hand-built model's layer-1 head looks at the token after the earlier "
                                   "occurrence of the current token and copies it: in the second copy it knows "
                                   "the answer"),
}


def _direction(first: float, second: float) -> str:
    if second < first - TOLERANCE:
        return "lower"
    return "higher" if second > first + TOLERANCE else "about the same"


def check_second_copy_prediction(fn: Callable[[], dict], measured: dict[str, tuple[float, float]] | None = None) -> None:
    """Check a prediction ``fn() -> {model name: "lower" | "about the same" | "higher"}`` of the second copy's
    loss against the first copy's. Without ``measured`` it only checks that the prediction is complete
    (call it before the losses are shown); with ``measured`` ({name: (first-copy loss, second-copy loss)}) it
    compares and explains each model."""
    names = list(measured) if measured is not None else list(_WHY)
    try:
        prediction = fn()
    except NotImplementedError:
        if measured is None:
            not_written_yet("predict_second_copy", fn, None)
        else:  # said once already, before the measurement; now only show what was measured
            print("predict_second_copy: no prediction was written; the measured second copies:\n" + "\n".join(
                f"  {name}: first copy {a:.2f}, second copy {b:.2f} nats -> {_direction(a, b)}"
                for name, (a, b) in measured.items()))
        return
    if not isinstance(prediction, dict):
        raise CheckFailed(f"predict_second_copy: return a dict {{model name: one of {PREDICTION_CHOICES}}}, "
                          f"got {describe(prediction)}")
    missing = [n for n in names if n not in prediction]
    bad = {n: v for n, v in prediction.items() if n in names and v not in PREDICTION_CHOICES}
    if missing or bad:
        raise CheckFailed(f"predict_second_copy: give one of {PREDICTION_CHOICES} for each of {names}"
                          + (f"; missing: {missing}" if missing else "") + (f"; not a choice: {bad}" if bad else ""))
    if measured is None:
        print(f"✓ predict_second_copy: your prediction is recorded for {len(names)} models; the losses come next.")
        return
    lines, right = [], 0
    for name in names:
        first, second = measured[name]
        truth = _direction(first, second)
        ok = prediction[name] == truth
        right += ok
        lines.append(f"  {'✓' if ok else '✗'} {name}: first copy {first:.2f}, second copy {second:.2f} nats -> "
                     f"{truth} (you said {prediction[name]})" + ("" if ok else f". Why: {_WHY.get(name, '')}"))
    print(f"predict_second_copy: {right} of {len(names)} right (a change under {TOLERANCE} nats counts as "
          f"about the same)\n" + "\n".join(lines))
