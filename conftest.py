"""Lets `pytest notebooks/NN_name.ipynb` use the same set-up as the full run (see tests/conftest.py).

Command-line options live here, in the root conftest, because pytest reads options only from the conftest
files it loads first (this one is loaded for every path of the repository).
"""
import pytest

from tests.conftest import course_env, numeric_profile, pytest_configure  # noqa: F401


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--numeric-profile", choices=course_env.PROFILES, default=None,
                     help="floating-point settings of the notebook kernels: 'home' (the stored outputs' own) or "
                          "'alt' (other code paths, to catch outputs that would not hold on another CPU); "
                          f"default: ${course_env.PROFILE_VARIABLE}, else 'home'")


def pytest_report_header(config: pytest.Config) -> str:
    return f"notebook kernels: numeric profile {numeric_profile(config)!r} (tools/course_env.py)"
