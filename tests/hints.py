"""A helper shared by the tests of the exercise checks."""

from __future__ import annotations

from typing import Callable

import pytest

from nbutils.checks.core import CheckFailed


def expect_hint(check: Callable, fn: Callable, *fragments: str) -> str:
    """Run ``check(fn)`` on a wrong answer ``fn``: it must fail with every one of ``fragments`` in its
    message (the hint a student would read). Returns the message."""
    with pytest.raises(CheckFailed) as info:
        check(fn)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    return message
