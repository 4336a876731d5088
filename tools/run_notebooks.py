"""Execute the course's notebooks top to bottom in a clean kernel and store the outputs in place.

    python tools/run_notebooks.py                      # every notebooks/*.ipynb
    python tools/run_notebooks.py notebooks/03_*.ipynb # some of them
    python tools/run_notebooks.py --check              # run, compare with the stored outputs, write nothing
    python tools/run_notebooks.py --check --profile alt  # the same, with other floating-point code paths
    python tools/run_notebooks.py --keep-going NB        # every cell even after an error; list errors, write nothing

The kernel is the Python running this script, started in the environment of ``tools/course_env.py``:
the same one that the nbval tests use, so the stored outputs are the ones the tests expect. Each
notebook's wall time is printed, and so are the code cells whose (sanitized) text output changed.
Images and widget views are left out of that comparison, as nbval leaves them out.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import ipykernel.kernelspec
import nbformat
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from traitlets import default

sys.path.insert(0, str(Path(__file__).resolve().parent))
from course_env import kernel_env  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SANITIZE_FILE = ROOT / "tests" / "nbval_sanitize.cfg"
KERNEL_NAME = "course-current-python"
IGNORED_MIME_TYPES = ("image/png", "image/jpeg", "application/vnd.jupyter.widget-view+json")


class CurrentPythonKernelSpecs(KernelSpecManager):
    """Kernel specs plus one kernel that runs this very Python (like nbval's --nbval-current-env)."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        if kernel_name == KERNEL_NAME:
            return KernelSpec(resource_dir=ipykernel.kernelspec.RESOURCES, **ipykernel.kernelspec.get_kernel_dict())
        return super().get_kernel_spec(kernel_name)


class CurrentPythonKernelManager(AsyncKernelManager):
    """A kernel manager that knows the kernel ``course-current-python``."""

    @default("kernel_spec_manager")
    def _current_python_specs(self) -> KernelSpecManager:
        return CurrentPythonKernelSpecs(data_dir=self.data_dir)


def load_sanitize_patterns(path: Path = SANITIZE_FILE) -> list[tuple[str, str]]:
    """Read the (regex, replacement) pairs of an nbval sanitize file."""
    text = path.read_text(encoding="utf-8")
    return re.findall(r"^regex: (.*)$\n^replace: (.*)$", text, flags=re.MULTILINE)


_NOT_COMPARED = re.compile(r"^\s*#\s*NBVAL_(IGNORE_OUTPUT|SKIP)\b", flags=re.MULTILINE)


def comparable_outputs(cell: dict, patterns: Sequence[tuple[str, str]]) -> list:
    """A code cell's outputs reduced to what nbval compares: sanitized text, no images or widget views.
    A cell marked ``# NBVAL_IGNORE_OUTPUT`` or ``# NBVAL_SKIP`` is not compared (as nbval does): only its errors count."""
    if _NOT_COMPARED.search(cell.get("source", "")):
        return [{"error": o.get("ename")} for o in cell.get("outputs", []) if o.get("output_type") == "error"]

    def clean(value):
        if isinstance(value, list):
            value = "".join(value)
        if isinstance(value, str):
            for regex, replacement in patterns:
                value = re.sub(regex, replacement, value)
        return value

    reduced = []
    streams: dict[str, str] = {}
    for output in cell.get("outputs", []):
        kind = output.get("output_type")
        if kind == "stream":
            streams[output["name"]] = streams.get(output["name"], "") + clean(output.get("text", ""))
        elif kind in ("display_data", "execute_result"):
            data = output.get("data", {})
            reduced.append({mime: clean(v) for mime, v in sorted(data.items()) if mime not in IGNORED_MIME_TYPES})
        elif kind == "error":
            reduced.append({"error": output.get("ename")})
    for name, text in streams.items():  # as nbval does: a carriage return erases the line so far
        streams[name] = re.sub(r"^.*\r(?=[^\n])", "", text, flags=re.MULTILINE)
    return [streams] + reduced if streams else reduced


def _error_line(output) -> str:
    """The message of an error output, or, for a bare ``assert``, the line of the cell that failed."""
    message = str(output.get("evalue", "")).strip()
    if message:
        return message.splitlines()[-1]
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in output.get("traceback", [])]
    arrows = [row.strip() for line in lines for row in line.splitlines() if row.lstrip().startswith("---->")]
    return arrows[-1] if arrows else ""


def run_notebook(path: Path, *, cell_timeout: int, write: bool, patterns,
                 profile: str = "home", keep_going: bool = False) -> tuple[float, list[int], str | None]:
    """Execute one notebook. Returns (seconds, indices of code cells whose output changed, error or None).

    ``keep_going``: run every cell even after an error (the notebook is then never written); the error
    returned lists every failing code cell with the last line of its error."""
    nb = nbformat.read(path, as_version=4)
    before = [comparable_outputs(c, patterns) for c in nb.cells if c.cell_type == "code"]
    client = NotebookClient(
        nb,
        timeout=cell_timeout,
        kernel_name=KERNEL_NAME,
        kernel_manager_class=CurrentPythonKernelManager,
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
        allow_errors=keep_going,
    )
    start = time.perf_counter()
    error = None
    try:
        # the kernel's own log lines (start-up warnings) would interleave with this script's report
        client.execute(env=kernel_env(profile=profile), cwd=str(path.parent), stderr=subprocess.DEVNULL)
    except CellExecutionError as failure:
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(failure)).strip()  # no terminal colours
        error = text.splitlines()[-1] if text else repr(failure)
    seconds = time.perf_counter() - start
    if keep_going:
        failed = [f"code cell {k}: {o.get('ename')}: {_error_line(o)}"
                  for k, c in enumerate(c for c in nb.cells if c.cell_type == "code")
                  for o in c.get("outputs", []) if o.get("output_type") == "error"]
        error = "; ".join(failed) or None
        write = False
    after = [comparable_outputs(c, patterns) for c in nb.cells if c.cell_type == "code"]
    changed = [i for i, (old, new) in enumerate(zip(before, after)) if old != new]
    if write and error is None:
        # the kernel ran under a private name; store the standard one that JupyterLab and nbval know
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
        nbformat.write(nb, path)
    return seconds, changed, error


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="notebooks to run (default: notebooks/*.ipynb)")
    parser.add_argument("--check", action="store_true", help="run and compare, but do not write the notebooks")
    parser.add_argument("--timeout", type=int, default=900, help="seconds allowed per cell (default 900)")
    parser.add_argument("--profile", choices=("home", "alt"), default="home",
                        help="numeric profile of the kernel (tools/course_env.py); outputs are only written under home")
    parser.add_argument("--keep-going", action="store_true",
                        help="run every cell even after an error, list every failing cell, write nothing")
    args = parser.parse_args(argv)
    if args.profile != "home" and not args.check:
        parser.error("stored outputs are written under the home profile only: add --check to use --profile alt")
    paths = [Path(p) for p in args.notebooks] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    if not paths:
        print("no notebooks to run")
        return 0
    patterns = load_sanitize_patterns()
    failures = 0
    for path in paths:
        if path.suffix != ".ipynb" or not path.is_file():
            print(f"{path}: not a notebook file", file=sys.stderr)
            failures += 1
            continue
        print(f"{path} ...", end=" ", flush=True)
        seconds, changed, error = run_notebook(path, cell_timeout=args.timeout, write=not args.check, patterns=patterns,
                                               profile=args.profile, keep_going=args.keep_going)
        status = "FAILED: " + error if error else ("ok" if not changed else f"outputs changed in code cells {changed}")
        print(f"{seconds:.1f} s, {status}" + ("" if args.check or args.keep_going or error else ", written"))
        failures += bool(error) or (args.check and bool(changed))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
