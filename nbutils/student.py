"""Write the student copies of the course notebooks.

The notebooks in ``notebooks/`` hold the full solutions of the exercises, fenced by two marker lines
inside a code cell::

    def softmax(logits):
        # BEGIN SOLUTION
        shifted = logits - logits.max(dim=-1, keepdim=True).values
        ...
        # END SOLUTION
    check_softmax(softmax)

A student copy replaces every fenced block by a stub with the indentation of the ``# BEGIN SOLUTION``
line, so that running the cell raises ``NotImplementedError`` until the student writes the code::

    def softmax(logits):
        # TODO: your code here
        raise NotImplementedError
    check_softmax(softmax)

Markdown cells may fence a written answer with ``<!-- BEGIN SOLUTION -->`` and ``<!-- END SOLUTION -->``;
the answer becomes ``*Your answer here.*``.

Everything else stays as it is, except that the outputs and execution counts of every code cell are
cleared: a stored output could show a solution's result (or even its code, in a traceback), and
a copy without outputs invites the student to run it from the top.

Command line::

    python -m nbutils.student notebooks/ --out student/
    python -m nbutils.student notebooks/03_softmax.ipynb --out student/

This module uses only the standard library and ``nbformat``.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import nbformat

__all__ = [
    "BEGIN_MARKER",
    "END_MARKER",
    "MD_BEGIN_MARKER",
    "MD_END_MARKER",
    "STUB_LINES",
    "MD_STUB",
    "MarkerError",
    "strip_solutions",
    "solution_blocks",
    "exercise_problems",
    "make_student_notebook",
    "write_student_copy",
    "main",
]

BEGIN_MARKER = "# BEGIN SOLUTION"
END_MARKER = "# END SOLUTION"
MD_BEGIN_MARKER = "<!-- BEGIN SOLUTION -->"
MD_END_MARKER = "<!-- END SOLUTION -->"
STUB_LINES = ("# TODO: your code here", "raise NotImplementedError")
MD_STUB = "*Your answer here.*"

# A marker must be alone on its line (spaces around it are allowed).
_CODE_BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION[ \t]*$")
_CODE_END = re.compile(r"^[ \t]*# END SOLUTION[ \t]*$")
_MD_BEGIN = re.compile(r"^(?P<indent>[ \t]*)<!-- BEGIN SOLUTION -->[ \t]*$")
_MD_END = re.compile(r"^[ \t]*<!-- END SOLUTION -->[ \t]*$")
# A call of one of the course's checks, such as check_softmax(softmax).
_CHECK_CALL = re.compile(r"\bcheck_\w+\s*\(")


class MarkerError(ValueError):
    """A notebook's solution markers are unbalanced, nested or misplaced."""


def _patterns(markdown: bool) -> tuple[re.Pattern[str], re.Pattern[str]]:
    return (_MD_BEGIN, _MD_END) if markdown else (_CODE_BEGIN, _CODE_END)


def solution_blocks(source: str, *, where: str = "cell", markdown: bool = False) -> list[list[str]]:
    """Return the lines between each pair of markers in ``source`` (markers excluded).

    ``where`` names the cell in error messages, for example ``"03_softmax.ipynb, cell 12"``.
    Raises ``MarkerError`` when the markers are unbalanced or nested.
    """
    if not isinstance(source, str):
        raise TypeError(f"{where}: cell source must be a str, got {type(source).__name__}")
    begin, end = _patterns(markdown)
    blocks: list[list[str]] = []
    current: list[str] | None = None
    begin_line = 0
    for number, line in enumerate(source.splitlines(), start=1):
        if begin.match(line):
            if current is not None:
                raise MarkerError(
                    f"{where}: line {number} opens a solution block, but the one opened on "
                    f"line {begin_line} is not closed yet (markers cannot be nested)"
                )
            current, begin_line = [], number
        elif end.match(line):
            if current is None:
                raise MarkerError(f"{where}: line {number} closes a solution block that was never opened")
            blocks.append(current)
            current = None
        elif current is not None:
            current.append(line)
    if current is not None:
        raise MarkerError(f"{where}: the solution block opened on line {begin_line} is never closed")
    return blocks


def strip_solutions(source: str, *, where: str = "cell", markdown: bool = False) -> str:
    """Replace every fenced solution block in ``source`` by a stub.

    In code the stub is ``# TODO: your code here`` and ``raise NotImplementedError``, indented like the
    ``# BEGIN SOLUTION`` line; in markdown it is ``*Your answer here.*``. Lines outside the markers
    are kept exactly. Raises ``MarkerError`` for unbalanced or nested markers.
    """
    solution_blocks(source, where=where, markdown=markdown)  # validates the markers first
    begin, end = _patterns(markdown)
    stub = (MD_STUB,) if markdown else STUB_LINES
    kept: list[str] = []
    inside = False
    for line in source.splitlines(keepends=True):
        opened = begin.match(line.rstrip("\r\n"))
        if opened:
            inside = True
            indent = opened.group("indent")
            kept.extend(f"{indent}{text}\n" for text in stub)
        elif end.match(line.rstrip("\r\n")):
            inside = False
        elif not inside:
            kept.append(line)
    result = "".join(kept)
    if not source.endswith("\n") and result.endswith("\n"):
        result = result[:-1]  # keep the cell's own choice of a final newline
    return result


def _has_code_marker(cell: dict) -> bool:
    return cell.get("cell_type") == "code" and any(
        _CODE_BEGIN.match(line) for line in cell.get("source", "").splitlines()
    )


def exercise_problems(nb: dict, name: str = "notebook") -> list[str]:
    """List the exercise cells that no check follows.

    An exercise is a code cell with a ``# BEGIN SOLUTION`` marker. Its check (a call such as
    ``check_softmax(softmax)``) must sit in the same cell, after the solution block, or in the next
    code cell. Returns one readable message per problem; an empty list means all is well.
    """
    cells = nb.get("cells", [])
    problems = []
    for index, cell in enumerate(cells):
        if not _has_code_marker(cell):
            continue
        after_block = cell["source"].split(END_MARKER)[-1]
        following = next((c for c in cells[index + 1 :] if c.get("cell_type") == "code"), None)
        if _CHECK_CALL.search(after_block):
            continue
        if following is not None and _CHECK_CALL.search(following.get("source", "")):
            continue
        problems.append(f"{name}, cell {index}: exercise without a check_...() call in it or in the next code cell")
    return problems


def make_student_notebook(nb: dict, name: str = "notebook") -> nbformat.NotebookNode:
    """Return a student copy of ``nb`` (a notebook read with nbformat); ``nb`` itself is not changed.

    Solutions are replaced by stubs, every code cell loses its outputs and execution count, and the
    saved widget state (notebook metadata ``widgets``) is dropped because it belongs to those outputs.
    ``name`` is used in error messages. Raises ``MarkerError`` for unbalanced markers.
    """
    if not isinstance(nb, dict) or "cells" not in nb:
        raise TypeError(f"{name}: expected a notebook (a dict with 'cells'), got {type(nb).__name__}")
    copy_nb = nbformat.from_dict(copy.deepcopy(dict(nb)))
    for index, cell in enumerate(copy_nb.cells):
        where = f"{name}, cell {index}"
        if cell.cell_type == "code":
            cell.source = strip_solutions(cell.source, where=where)
            cell.outputs = []
            cell.execution_count = None
        elif cell.cell_type == "markdown":
            cell.source = strip_solutions(cell.source, where=where, markdown=True)
    copy_nb.metadata.pop("widgets", None)
    return copy_nb


def write_student_copy(source: str | Path, out_dir: str | Path) -> Path:
    """Write the student copy of the notebook file ``source`` into ``out_dir``, under the same name.

    Refuses to overwrite the source notebook. Returns the path written.
    """
    source = Path(source)
    if source.suffix != ".ipynb" or not source.is_file():
        raise ValueError(f"{source}: not a notebook file (.ipynb)")
    out_dir = Path(out_dir)
    target = out_dir / source.name
    if target.resolve() == source.resolve():
        raise ValueError(f"{source}: --out must differ from the notebook's own folder (it would erase the solutions)")
    nb = nbformat.read(source, as_version=4)
    problems = exercise_problems(nb, source.name)
    if problems:
        raise MarkerError("\n".join(problems))
    student = make_student_notebook(nb, source.name)
    out_dir.mkdir(parents=True, exist_ok=True)
    nbformat.write(student, target)
    return target


def _notebooks(paths: Sequence[str]) -> list[Path]:
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.glob("*.ipynb") if not p.name.startswith(".")))
        elif path.is_file():
            found.append(path)
        else:
            raise ValueError(f"{raw}: no such notebook or folder")
    if not found:
        raise ValueError("no notebooks found in: " + ", ".join(paths))
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit status (0 on success, 1 on an error)."""
    parser = argparse.ArgumentParser(
        prog="python -m nbutils.student",
        description="Write student copies of the course notebooks: solutions become stubs, outputs are cleared.",
    )
    parser.add_argument("sources", nargs="+", help="notebooks, or folders whose *.ipynb files are converted")
    parser.add_argument("--out", required=True, help="folder that receives the student copies")
    args = parser.parse_args(argv)
    try:
        for notebook in _notebooks(args.sources):
            print(f"{notebook} -> {write_student_copy(notebook, args.out)}")
    except (ValueError, OSError, nbformat.ValidationError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
