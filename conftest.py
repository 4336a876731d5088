"""Lets `pytest notebooks/NN_name.ipynb` use the same set-up as the full run (see tests/conftest.py)."""
from tests.conftest import pytest_configure  # noqa: F401
