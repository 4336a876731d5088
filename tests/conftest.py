"""pytest set-up shared by the course's tests.

- The fixture notebooks in ``tests/sample_notebooks/`` are inputs of the tests, not notebooks of the
  course: nbval must not collect them.
- nbval's kernels (the notebooks in ``notebooks/``) start in the reproducible environment of
  ``tools/course_env.py``; the test process itself keeps its own environment.
- ``--nbval-sanitize-with`` defaults to ``tests/nbval_sanitize.cfg``, and a relative path is read
  from the repository root, so that pytest works from any folder.
- The browser test runs last; it records how long each notebook took, printed at the end.
- ``--numeric-profile=alt`` (or ``NBUTILS_NUMERIC_PROFILE=alt``) starts the kernels with other floating-point
  code paths (``tools/course_env.py``): the stored outputs, written under "home", must still match.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SANITIZE_FILE = ROOT / "tests" / "nbval_sanitize.cfg"

collect_ignore_glob = ["sample_notebooks/*"]


def _load_course_env():
    """Import tools/course_env.py by its path (tools/ is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("course_env", ROOT / "tools" / "course_env.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


course_env = _load_course_env()

_TIMINGS = pytest.StashKey[list]()


def numeric_profile(config: pytest.Config) -> str:
    """The profile chosen on the command line, else by ``NBUTILS_NUMERIC_PROFILE``, else "home"."""
    return config.getoption("--numeric-profile") or course_env.profile_from_env()


class NotebookKernelEnvironment:
    """A plugin (global, unlike this conftest's own hooks) that gives nbval's kernels the course env.

    nbval starts a notebook's kernel while pytest sets up the notebook's first cell; the kernel
    process inherits ``os.environ`` at that moment, so the environment is swapped around set-up only.
    """

    def __init__(self, profile: str) -> None:
        self.profile = profile

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Iterator[None]:
        if item.path.suffix != ".ipynb":
            yield
            return
        saved = dict(os.environ)
        wanted = course_env.kernel_env(saved, profile=self.profile)
        for name in set(saved) - set(wanted):
            del os.environ[name]
        os.environ.update(wanted)
        try:
            yield
        finally:
            for name in set(os.environ) - set(saved):
                del os.environ[name]
            os.environ.update(saved)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: runs notebooks in JupyterLab, driven by Chromium")
    config.stash[_TIMINGS] = []
    if not config.pluginmanager.has_plugin("course-notebook-env"):
        config.pluginmanager.register(NotebookKernelEnvironment(numeric_profile(config)), "course-notebook-env")
    option = config.option
    if getattr(option, "nbval", False) or getattr(option, "nbval_lax", False):
        chosen = getattr(option, "nbval_sanitize_with", None)
        if chosen is None:
            option.nbval_sanitize_with = str(SANITIZE_FILE)
        elif not Path(chosen).is_file() and (config.rootpath / chosen).is_file():
            option.nbval_sanitize_with = str(config.rootpath / chosen)
        # Build matplotlib's font cache now: a kernel building it would print a warning into a cell.
        import matplotlib.font_manager  # noqa: F401


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    """Run the slow browser test last, after the unit tests and the nbval notebooks."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)  # stable sort


@pytest.fixture(scope="session")
def notebook_timings(pytestconfig: pytest.Config) -> list:
    """A list of ``(name, phases)`` the browser test fills; printed in the terminal summary."""
    return pytestconfig.stash[_TIMINGS]


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    timings = config.stash.get(_TIMINGS, [])
    if not timings:
        return
    terminalreporter.section("notebook timings in the browser")
    for name, phases in timings:
        parts = ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in phases.items())
        terminalreporter.write_line(f"{name}: {parts}")


@pytest.fixture(scope="session")
def course_kernel_env(pytestconfig: pytest.Config) -> dict[str, str]:
    """The environment (see tools/course_env.py) for processes that start notebook kernels."""
    return course_env.kernel_env(profile=numeric_profile(pytestconfig))
