"""The machinery behind every exercise check.

A check runs the student's function and the course's reference function on the same few inputs and compares
the answers. When they differ it says, in words, *which* input failed, what was expected, what came back and,
where it can tell, *why* (a hint). A passing check prints one line; a wrong answer raises ``CheckFailed`` so
that "Run All" stops at the first exercise whose answer is wrong.

An exercise that is *not written yet* (the student copy's stub still raises ``NotImplementedError``) does not
stop "Run All": the check says what to write, and the cells below carry on with the course's own version of
the function (``stand_in``), which the check puts in the notebook under the student's function's name. A
student can so run a fresh copy top to bottom and read ahead; writing the function and running its cell
again replaces the stand-in by the student's own code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np
import torch

__all__ = ["Case", "CheckFailed", "run_check", "not_written_yet", "describe", "close", "as_float_tensor"]


class CheckFailed(AssertionError):
    """Raised by a ``check_...`` function when the student's answer is not right yet."""


@dataclass
class Case:
    """One input for a check: positional ``args``, keyword ``kwargs`` and a ``label`` saying what it tests."""

    args: tuple
    kwargs: dict = field(default_factory=dict)
    label: str = ""


def describe(value: Any, limit: int = 6) -> str:
    """A short, readable description of a value for an error message (shape and first numbers of a tensor)."""
    if isinstance(value, torch.Tensor):
        flat = value.detach().float().flatten()[:limit].tolist() if value.numel() else []
        numbers = ", ".join(f"{v:.4g}" for v in flat)
        more = ", ..." if value.numel() > limit else ""
        return f"tensor of shape {tuple(value.shape)}, dtype {value.dtype}: [{numbers}{more}]"
    if isinstance(value, np.ndarray):
        return describe(torch.from_numpy(np.asarray(value, dtype=np.float64)), limit)
    if isinstance(value, float):
        return f"{value:.6g}"
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def as_float_tensor(value: Any) -> torch.Tensor | None:
    """A student's answer as a float64 CPU tensor, or None when it cannot be read as numbers."""
    try:
        if isinstance(value, torch.Tensor):
            return value.detach().double().cpu()
        return torch.as_tensor(value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        return None


def close(got: Any, expected: Any, atol: float = 1e-5, rtol: float = 1e-4) -> bool:
    """True when two answers agree: tensors/arrays elementwise within tolerance, numbers within tolerance,
    anything else by ``==``."""
    if isinstance(expected, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            return False
        if got.shape != expected.shape:
            return False
        return bool(torch.allclose(got.detach().double().cpu(), expected.detach().double().cpu(),
                                   atol=atol, rtol=rtol, equal_nan=False))
    if isinstance(expected, np.ndarray):
        got_array = np.asarray(got)
        return got_array.shape == expected.shape and bool(np.allclose(got_array, expected, atol=atol, rtol=rtol))
    if isinstance(expected, float):
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        return isinstance(got, (int, float)) and math.isclose(got, expected, abs_tol=atol, rel_tol=rtol)
    return got == expected


def not_written_yet(name: str, student_fn: Callable[..., Any], stand_in: Callable[..., Any] | None) -> None:
    """Say that ``student_fn`` is still a stub, and let the notebook carry on with ``stand_in``.

    The stand-in is stored under the student's function's name in the namespace where the student defined
    it (the notebook's), so later cells that call, say, ``softmax`` get the course's version. Nothing is
    replaced when the name no longer refers to the student's function, or when there is no stand-in.
    """
    fn_name = getattr(student_fn, "__name__", None)
    namespace = getattr(student_fn, "__globals__", None)
    lines = [f"✗ {name}: not written yet. Replace `raise NotImplementedError` in `{fn_name or name}` by your code "
             "and run this cell again."]
    doc = (getattr(student_fn, "__doc__", None) or "").strip()
    if doc:
        lines.append("  what it should do: " + " ".join(doc.split()))
    replaced = (stand_in is not None and fn_name is not None and isinstance(namespace, dict)
                and namespace.get(fn_name) is student_fn)
    if replaced:
        namespace[fn_name] = stand_in
        lines.append(f"  Until then, the cells below use the course's own `{fn_name}`, so Run All carries on.")
    print("\n".join(lines))


def run_check(
    name: str,
    student_fn: Callable[..., Any],
    reference_fn: Callable[..., Any],
    cases: Iterable[Case],
    *,
    compare: Callable[[Any, Any], bool] = close,
    diagnose: Callable[[Case, Any, Any], str | None] | None = None,
    stand_in: Callable[..., Any] | None = None,
) -> None:
    """Run ``student_fn`` and ``reference_fn`` on every case and explain the first difference.

    ``diagnose(case, got, expected)`` may return a hint (a sentence) that explains a typical mistake, for
    instance "the rows do not sum to 1". Prints one line when every case passes (and returns nothing, so a
    notebook cell that ends with a check shows only that line); raises ``CheckFailed`` otherwise.

    If ``student_fn`` raises ``NotImplementedError`` (an exercise not written yet), the check says so without
    raising and puts ``stand_in`` (default: ``reference_fn``) in its place; see :func:`not_written_yet`. Pass a
    ``stand_in`` when ``reference_fn`` returns something other than what the student's function should (a
    float instead of a tensor, say).
    """
    if not callable(student_fn):
        raise TypeError(f"{name}: pass your function itself (without calling it), got {type(student_fn).__name__}")
    cases = list(cases)
    for number, case in enumerate(cases, start=1):
        label = case.label or f"case {number}"
        expected = reference_fn(*case.args, **case.kwargs)
        try:
            got = student_fn(*case.args, **case.kwargs)
        except NotImplementedError:
            not_written_yet(name, student_fn, reference_fn if stand_in is None else stand_in)
            return
        except Exception as exc:  # the student's code crashed: say where, keep the original error attached
            raise CheckFailed(f"{name}: your function raised {type(exc).__name__}: {exc}\n"
                              f"  input: {label}") from exc
        if not compare(got, expected):
            hint = diagnose(case, got, expected) if diagnose else None
            message = (f"{name}: wrong answer for {label}\n"
                       f"  expected: {describe(expected)}\n"
                       f"  got:      {describe(got)}")
            if hint:
                message += f"\n  hint: {hint}"
            raise CheckFailed(message)
    print(f"✓ {name}: all {len(cases)} cases pass.")
