"""Checks for the training notebook: cutting inputs and targets, and one training step."""

from __future__ import annotations

from typing import Callable

import torch

from nbutils.checks.core import Case, CheckFailed, describe, not_written_yet, run_check

__all__ = ["make_inputs_targets", "training_step", "check_shift_by_one", "check_training_step"]


# ------------------------------------------------------------------------------------ inputs and targets
def make_inputs_targets(ids: torch.Tensor, context_length: int, start: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The window of ``context_length`` ids from ``start`` (``x``) and the same window one token later (``y``):
    ``y[t] = ids[start + t + 1]`` is the token that follows ``x[t] = ids[start + t]``."""
    if start < 0 or start + context_length + 1 > len(ids):
        raise ValueError(f"a window at start={start} needs ids up to index {start + context_length}, "
                         f"but there are only {len(ids)} ids")
    return ids[start:start + context_length], ids[start + 1:start + context_length + 1]


def _as_list(value) -> list | None:
    try:
        return torch.as_tensor(value).tolist()
    except (TypeError, ValueError, RuntimeError):
        return None


def _same_pair(got, expected) -> bool:
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return False
    return _as_list(got[0]) == expected[0].tolist() and _as_list(got[1]) == expected[1].tolist()


def _diagnose_shift(case: Case, got, expected) -> str | None:
    ids, context_length, start = case.args
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return "return two things, the inputs and the targets: `return x, y`"
    x, y = (_as_list(part) for part in got)
    want_x, want_y = expected[0].tolist(), expected[1].tolist()
    if x is None or y is None:
        return "x and y should be tensors (slices of ids)"
    if x == want_y and y == want_x:
        return "x and y are swapped: x is the window starting at `start`, y the window one token later"
    if y == x:
        return "y is the same as x; y must be x shifted by one: y[t] is the token that comes after x[t]"
    if len(x) != context_length:
        return f"x has {len(x)} tokens; it should have exactly context_length = {context_length}"
    if len(y) != context_length:
        return (f"y has {len(y)} tokens; it should have context_length = {context_length} as well "
                f"(it ends one token later than x: ids[start + 1 : start + context_length + 1])")
    if x != want_x and x == ids[start + 1:start + 1 + context_length].tolist():
        return "x starts one token too late: it should start at ids[start]"
    if start >= 1 and y == ids[start - 1:start - 1 + context_length].tolist():
        return "y is shifted the wrong way: it should start at ids[start + 1], one token *after* x"
    if y == ids[start + 2:start + 2 + context_length].tolist():
        return "y is shifted by two; it should start at ids[start + 1]"
    return None


def check_shift_by_one(fn) -> None:
    """Check ``fn(ids, context_length, start) -> (x, y)`` against ``make_inputs_targets``."""
    ids = torch.arange(100, 130)  # the values show the positions: id 100 + i sits at index i
    cases = [
        Case((ids, 4, 0), label="ids = 100, 101, ..., 129; context_length=4, start=0"),
        Case((ids, 8, 5), label="the same ids, context_length=8, start=5"),
        Case((ids, 1, 10), label="context_length=1, start=10 (one input, one target)"),
        Case((ids, 29, 0), label="context_length=29, start=0 (the window uses every id)"),
    ]
    run_check("make_inputs_targets", fn, make_inputs_targets, cases, compare=_same_pair,
                     diagnose=_diagnose_shift)


# ------------------------------------------------------------------------------------ one training step
def training_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor,
                  y: torch.Tensor) -> float:
    """One update: forget old gradients, compute the loss, backpropagate, move the weights; return the loss."""
    optimizer.zero_grad()
    _, loss = model(x, y)
    loss.backward()
    optimizer.step()
    return loss.item()


def _tiny_setup() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    from nbutils.model import GPT, GPTConfig

    generator_state = torch.get_rng_state()
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=11, context_length=8, n_layer=1, n_head=2, n_embd=16))
    torch.set_rng_state(generator_state)  # do not disturb the notebook's own random numbers
    # No weight decay: then a step with zero gradients leaves the weights exactly where they were.
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01, weight_decay=0.0)
    return model, optimizer


def _batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 11, (200,), generator=generator)
    batches = []
    for start in (0, 37):
        x = torch.stack([ids[start + 9 * b:start + 9 * b + 8] for b in range(3)])
        y = torch.stack([ids[start + 9 * b + 1:start + 9 * b + 9] for b in range(3)])
        batches.append((x, y))
    return batches


def _params(model: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def _grads(model: torch.nn.Module) -> list[torch.Tensor | None]:
    return [None if p.grad is None else p.grad.detach().clone() for p in model.parameters()]


def _all_close(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.allclose(u, v, atol=1e-6, rtol=1e-5) for u, v in zip(a, b))


def check_training_step(fn: Callable) -> None:
    """Check ``fn(model, optimizer, x, y) -> float``: one step changes a tiny GPT's weights exactly as the
    reference does, twice in a row (the second call shows whether old gradients were cleared)."""
    name = "training_step"
    if not callable(fn):
        raise TypeError(f"{name}: pass your function itself (without calling it), got {type(fn).__name__}")
    ref_model, ref_optimizer = _tiny_setup()
    model, optimizer = _tiny_setup()
    previous_ref_grads: list[torch.Tensor | None] | None = None
    for call, (x, y) in enumerate(_batches(), start=1):
        label = f"call {call} of 2 on a tiny GPT with AdamW (lr 0.01), batch of 3 windows of 8 tokens"
        expected_loss = training_step(ref_model, ref_optimizer, x, y)
        before = _params(model)
        try:
            got = fn(model, optimizer, x.clone(), y.clone())
        except NotImplementedError:
            not_written_yet(name, fn, training_step)
            return
        except Exception as exc:
            raise CheckFailed(f"{name}: your function raised {type(exc).__name__}: {exc}\n  input: {label}") from exc

        def fail(what: str, expected, got_value, hint: str) -> None:
            raise CheckFailed(f"{name}: {what} for {label}\n  expected: {describe(expected)}\n"
                              f"  got:      {describe(got_value)}\n  hint: {hint}")

        after, expected_after = _params(model), _params(ref_model)
        if not _all_close(after, expected_after):
            grads = _grads(model)
            if _all_close(after, before):
                if all(g is None or not g.any() for g in grads):
                    hint = ("the weights did not change and there are no gradients: did you call loss.backward()? "
                            "And optimizer.zero_grad() must come first, not between loss.backward() and "
                            "optimizer.step() (there it erases the gradients before the step can use them)")
                else:
                    hint = "the weights did not change: did you call optimizer.step() after loss.backward()?"
            elif call == 2 and previous_ref_grads is not None and all(
                    g is not None and r is not None and torch.allclose(g, r + q, atol=1e-6, rtol=1e-4)
                    for g, r, q in zip(grads, _grads(ref_model), previous_ref_grads)):
                hint = ("the gradients of the first call were still there: backward() *adds* to .grad, so call "
                        "optimizer.zero_grad() at the start of every step")
            else:
                hint = ("the weights after your step differ from the reference: zero_grad, forward with the "
                        "targets, loss.backward(), optimizer.step(), in that order")
            fail("wrong weights after the step", expected_after[0], after[0], hint)
        if isinstance(got, torch.Tensor):
            fail("wrong return value", expected_loss, got,
                 "return the loss as a Python float: loss.item() (a tensor would keep the whole graph alive)")
        if not isinstance(got, (float, int)) or isinstance(got, bool):
            fail("wrong return value", expected_loss, got, "return the loss of this step as a float: loss.item()")
        if abs(got - expected_loss) > 1e-5 * max(1.0, abs(expected_loss)):
            fail("wrong loss", expected_loss, float(got),
                 "return the loss computed by this step's forward pass (before optimizer.step() changed the "
                 "weights), as loss.item()")
        previous_ref_grads = _grads(ref_model)
    print(f"✓ {name}: both steps match the reference (weights and loss).")
