"""One place for the argument checks every module needs, so a bad input gets the same clear message everywhere.

    >>> require_int("steps", 10)
    10
    >>> require_int("steps", 0)
    Traceback (most recent call last):
    ...
    ValueError: steps must be an int >= 1, got 0

``bool`` is a subclass of ``int`` in Python (``True + True == 2``), so ``require_int("steps", True)`` is
refused too: a flag passed where a count belongs is almost always a mistake.
"""

from __future__ import annotations

import math

__all__ = ["require_int", "require_float"]


def require_int(name: str, value: object, minimum: int | None = 1, maximum: int | None = None) -> int:
    """``value`` if it is an int (not a bool) in ``[minimum, maximum]`` (``None``: no bound); else ``ValueError``."""
    bounds = []
    if minimum is not None:
        bounds.append(f">= {minimum}")
    if maximum is not None:
        bounds.append(f"<= {maximum}")
    wanted = "an int" + (" " + " and ".join(bounds) if bounds else "")
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be {wanted}, got {value!r}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be {wanted}, got {value!r}")
    return value


def require_float(name: str, value: object, minimum: float | None = None, maximum: float | None = None,
                  open_minimum: bool = False) -> float:
    """``value`` as a float if it is a finite real number in the bounds (``open_minimum``: strictly above
    ``minimum``); else ``ValueError``. Ints are accepted (``lr=1`` is a number), bools are not."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if minimum is not None and (value <= minimum if open_minimum else value < minimum):
        raise ValueError(f"{name} must be {'>' if open_minimum else '>='} {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value!r}")
    return float(value)
