"""Checks for notebook 09 (what the model knows about its world): a probe's accuracy, one patch by hand and
its logit difference, and a prediction of where the fact travels in the patching map."""

from __future__ import annotations

from typing import Any, Callable

import torch

from nbutils.checks.core import Case, CheckFailed, as_float_tensor, describe, not_written_yet, run_check

__all__ = ["check_probe_accuracy", "check_patched_logit_difference", "check_fact_route", "ROUTE_KEYS"]


# ------------------------------------------------------------------------------------------ probe accuracy
def reference_probe_accuracy(W: torch.Tensor, b: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> float:
    """The share of rows of X whose label y is the class with the largest score X @ W.T + b."""
    return ((X @ W.T + b).argmax(dim=-1) == y).double().mean().item()


def _probe_cases() -> list[Case]:
    g = torch.Generator().manual_seed(9)
    cases = []
    for n, c, k in ((6, 3, 2), (40, 5, 4), (200, 8, 6)):
        X = torch.randn(n, c, generator=g, dtype=torch.float64)
        W = torch.randn(k, c, generator=g, dtype=torch.float64)
        b = torch.randn(k, generator=g, dtype=torch.float64)
        y = torch.randint(0, k, (n,), generator=g)
        y[: n // 2] = (X @ W.T + b).argmax(-1)[: n // 2]       # half the labels are what the probe says
        cases.append(Case((W, b, X, y), label=f"{n} rows, {c} features, {k} classes"))
    return cases


def _diagnose_probe(case: Case, got: Any, expected: float) -> str | None:
    W, b, X, y = case.args
    value = as_float_tensor(got)
    if value is None or value.numel() != 1:
        return "return one number: the share of rows predicted right (a float in [0, 1])"
    value = float(value)
    scores = X @ W.T + b
    if abs(value - expected * len(y)) < 1e-6:
        return "that is the number of rows right; divide by the number of rows to get a share"
    if abs(value - (scores.argmin(-1) == y).double().mean().item()) < 1e-9:
        return "you took the class with the smallest score: a probe predicts the class with the largest (argmax)"
    if abs(value - ((X @ W.T).argmax(-1) == y).double().mean().item()) < 1e-9 and expected != value:
        return "the bias b is missing: the scores are X @ W.T + b"
    if not 0 <= value <= 1:
        return "an accuracy is a share between 0 and 1"
    return "predict with scores = X @ W.T + b, take argmax over the classes, compare with y, average"


def check_probe_accuracy(fn: Callable[..., Any]) -> None:
    """Check ``probe_accuracy(W, b, X, y)`` (W: (K, C), b: (K,), X: (N, C), y: (N,)) -> a share in [0, 1]."""
    run_check("probe_accuracy", fn, reference_probe_accuracy, _probe_cases(),
              compare=lambda got, exp: (v := as_float_tensor(got)) is not None and v.numel() == 1
              and abs(float(v) - exp) < 1e-9,
              diagnose=_diagnose_probe, stand_in=reference_probe_accuracy)


# ------------------------------------------------------------------------------------------- one patch
def reference_patched_logit_difference(model, clean_idx: torch.Tensor, corrupt_idx: torch.Tensor, layer: int,
                                       position: int, good: int, bad: int) -> float:
    """Run ``corrupt_idx`` with the stream after block ``layer`` at ``position`` taken from the clean run;
    return logit(good) - logit(bad) at the last position."""
    name = f"blocks.{layer}.resid_post"
    _, cache = model.run_with_cache(clean_idx, [name])
    with torch.no_grad(), model.patched(name, cache[name], positions=[position]):
        logits, _ = model(corrupt_idx)
    return float(logits[0, -1, good] - logits[0, -1, bad])


def _patch_cases() -> list[Case]:
    from nbutils.model import GPT, GPTConfig

    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=16, context_length=12, n_layer=3, n_head=2, n_embd=16)).eval()
    clean = torch.tensor([[1, 2, 3, 4, 5, 6, 7, 8]])
    corrupt = clean.clone()
    corrupt[0, 2] = 9
    return [Case((model, clean, corrupt, layer, position, 11, 12), label=f"layer {layer}, position {position}")
            for layer, position in ((0, 2), (1, 2), (1, 5), (2, 7), (0, 7))]


def _diagnose_patch(case: Case, got: Any, expected: float) -> str | None:
    model, clean, corrupt, layer, position, good, bad = case.args
    value = as_float_tensor(got)
    if value is None or value.numel() != 1:
        return "return one number: logit(good) - logit(bad) at the last position of the patched run"
    value = float(value)
    with torch.no_grad():
        plain_clean = model(clean)[0][0, -1]
        plain_corrupt = model(corrupt)[0][0, -1]
    if abs(value - float(plain_corrupt[good] - plain_corrupt[bad])) < 1e-5 and abs(value - expected) > 1e-5:
        return "that is the corrupt run without any patch: run it inside `with model.patched(...)`"
    if abs(value + expected) < 1e-5:
        return "the sign is flipped: the logit difference is logit(good) - logit(bad)"
    if abs(value - float(plain_clean[good] - plain_clean[bad])) < 1e-5 and abs(value - expected) > 1e-5:
        return "that is the clean run: patch the clean activation INTO the corrupt run (run corrupt_idx)"
    for other in (layer - 1, layer + 1):
        if 0 <= other < model.config.n_layer and abs(value - reference_patched_logit_difference(
                model, clean, corrupt, other, position, good, bad)) < 1e-5:
            return f"you patched after block {other}; the hook point is f'blocks.{{layer}}.resid_post'"
    return "cache the clean run at blocks.{layer}.resid_post, patch it at [position] into the corrupt run"


def check_patched_logit_difference(fn: Callable[..., Any]) -> None:
    """Check ``patched_logit_difference(model, clean_idx, corrupt_idx, layer, position, good, bad)``."""
    run_check("patched_logit_difference", fn, reference_patched_logit_difference, _patch_cases(),
              compare=lambda got, exp: (v := as_float_tensor(got)) is not None and v.numel() == 1
              and abs(float(v) - exp) < 1e-4,
              diagnose=_diagnose_patch, stand_in=reference_patched_logit_difference)


# ------------------------------------------------------------------------------ where does the fact travel?
#: The two depths a prediction names (0 = the embeddings, d = the stream after block d - 1).
ROUTE_KEYS = ("place word: last depth that restores", "answer position: first depth that restores")


def _route(grid: torch.Tensor, place: int, answer: int, threshold: float = 0.5) -> dict[str, int]:
    col_place = [d for d in range(grid.shape[0]) if grid[d, place] >= threshold]
    col_answer = [d for d in range(grid.shape[0]) if grid[d, answer] >= threshold]
    return {ROUTE_KEYS[0]: max(col_place) if col_place else -1, ROUTE_KEYS[1]: min(col_answer) if col_answer else -1}


def check_fact_route(fn: Callable[[], dict], measured: torch.Tensor | None = None, place: int = 0,
                     answer: int = 0) -> None:
    """Check a prediction ``fn() -> {key: depth}`` for both ``ROUTE_KEYS``. Without ``measured`` only that it is
    complete (make it before the map is drawn); with ``measured`` (a depth x group grid of mean patch effects,
    ``place`` and ``answer`` its columns) it compares, counting an effect of at least 0.5 as restored."""
    try:
        prediction = fn()
    except NotImplementedError:
        if measured is None:
            not_written_yet("predict_route", fn, None)
        else:                       # said once already, before the map: now only show what was measured
            truth = _route(torch.as_tensor(measured), place, answer)
            print("predict_route (no prediction written): measured " + ", ".join(f"{k} = {v}" for k, v in truth.items()))
        return
    if not isinstance(prediction, dict) or any(k not in prediction for k in ROUTE_KEYS):
        raise CheckFailed(f"predict_route: return a dict with the keys {ROUTE_KEYS}, each a depth 0..4 "
                          f"(0 = embeddings, d = after block d - 1), got {describe(prediction)}")
    bad = {k: v for k, v in prediction.items() if k in ROUTE_KEYS and not (isinstance(v, int) and 0 <= v <= 4)}
    if bad:
        raise CheckFailed(f"predict_route: each depth must be an int from 0 to 4, got {bad}")
    if measured is None:
        print("✓ predict_route: your prediction is recorded; the map comes next.")
        return
    truth = _route(torch.as_tensor(measured), place, answer)
    lines = []
    for key in ROUTE_KEYS:
        ok = prediction[key] == truth[key]
        lines.append(f"  {'✓' if ok else '✗'} {key}: measured {truth[key]}, you said {prediction[key]}")
    why = ("Why: patching the place word restores the answer as long as no later position has read it yet; the "
           "first depth at which the answer position restores it is the block whose attention fetched it. "
           "Between the two the fact sits in no other position: it moves in one hop.")
    print("predict_route:\n" + "\n".join(lines) + "\n" + why)
