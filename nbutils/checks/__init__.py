"""Instant checks for the exercises: ``check_<exercise>(your_function)``.

Each notebook's checks live in their own module and are collected here, so a notebook only needs
``from nbutils.checks import check_softmax``.
"""

from nbutils.checks.core import Case, CheckFailed, run_check

__all__ = ["Case", "CheckFailed", "run_check"]
