"""Instant checks for the exercises: ``check_<exercise>(your_function)``.

Each notebook's checks live in their own module and are collected here, so a notebook only needs
``from nbutils.checks import check_softmax``. A passing check prints one line; a failing one raises
``CheckFailed`` with the input that failed, the expected and the actual answer, and a hint.
"""

from nbutils.checks.core import Case, CheckFailed, run_check
from nbutils.checks.counting import check_next_word_counts

__all__ = ["Case", "CheckFailed", "run_check", "check_next_word_counts"]
