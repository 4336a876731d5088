"""Tests of ``python -m nbutils.student``: student copies keep the checks and lose the solutions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from nbutils import student

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "sample_notebooks" / "exercise_fixture.ipynb"
COURSE_NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _code_lines(nb) -> list[str]:
    return [line.strip() for cell in nb.cells if cell.cell_type == "code" for line in cell.source.splitlines()]


def _run_cell(source: str, namespace: dict) -> None:
    exec(compile(source, "<cell>", "exec"), namespace)


# ---------------------------------------------------------------- strip_solutions


def test_stub_keeps_indentation_and_surrounding_lines():
    source = "def f(x):\n    # BEGIN SOLUTION\n    y = x + 1\n    return y\n    # END SOLUTION\ncheck_f(f)\n"
    assert student.strip_solutions(source) == (
        "def f(x):\n    # TODO: your code here\n    raise NotImplementedError\ncheck_f(f)\n"
    )


def test_stub_at_top_level_and_without_final_newline():
    source = "# BEGIN SOLUTION\nanswer = 42\n# END SOLUTION"
    assert student.strip_solutions(source) == "# TODO: your code here\nraise NotImplementedError"


def test_several_blocks_in_one_cell_and_tabs():
    source = "if True:\n\t# BEGIN SOLUTION\n\ta = 1\n\t# END SOLUTION\n# BEGIN SOLUTION\nb = 2\n# END SOLUTION\n"
    stripped = student.strip_solutions(source)
    assert stripped.count("raise NotImplementedError") == 2
    assert "\traise NotImplementedError\n" in stripped
    assert "a = 1" not in stripped and "b = 2" not in stripped


def test_source_without_markers_is_unchanged():
    source = "x = 1  # BEGIN SOLUTION is only a marker when alone on its line\nprint(x)"
    assert student.strip_solutions(source) == source


def test_stub_raises_not_implemented_and_check_call_survives():
    source = (
        "def double(x):\n    # BEGIN SOLUTION\n    return 2 * x\n    # END SOLUTION\n"
        "assert double(3) == 6\n"
    )
    namespace: dict = {}
    _run_cell(source, namespace)  # the solution passes its check
    stripped = student.strip_solutions(source)
    assert "assert double(3) == 6" in stripped
    with pytest.raises(NotImplementedError):
        _run_cell(stripped, {})


def test_markdown_answer_is_replaced():
    source = "Why?\n\n<!-- BEGIN SOLUTION -->\nBecause.\n<!-- END SOLUTION -->\n"
    assert student.strip_solutions(source, markdown=True) == "Why?\n\n*Your answer here.*\n"


@pytest.mark.parametrize(
    "source, message",
    [
        ("# BEGIN SOLUTION\nx = 1\n", "never closed"),
        ("x = 1\n# END SOLUTION\n", "never opened"),
        ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION\n# END SOLUTION\n", "nested"),
    ],
)
def test_unbalanced_markers_raise_with_location(source, message):
    with pytest.raises(student.MarkerError, match=message) as info:
        student.strip_solutions(source, where="lesson.ipynb, cell 7")
    assert "lesson.ipynb, cell 7" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_wrong_types_raise():
    with pytest.raises(TypeError):
        student.strip_solutions(["not", "a", "string"])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        student.make_student_notebook("not a notebook")  # type: ignore[arg-type]


# ---------------------------------------------------------------- whole notebooks


def test_fixture_copy_has_no_solution_and_keeps_checks():
    nb = nbformat.read(FIXTURE, as_version=4)
    copy = student.make_student_notebook(nb, FIXTURE.name)
    solution = [
        line.strip()
        for cell in nb.cells
        for block in student.solution_blocks(cell.source, markdown=cell.cell_type == "markdown")
        for line in block
        if line.strip()
    ]
    assert solution, "the fixture should contain solutions"
    text = "\n".join(cell.source for cell in copy.cells)
    for line in solution:
        assert line not in text
    assert "# BEGIN SOLUTION" not in text and "<!-- BEGIN SOLUTION -->" not in text
    assert "check_softmax(softmax)" in text and "check_mean(mean)" in text
    assert student.exercise_problems(nb) == []
    # outputs and execution counts are cleared everywhere; the rest is intact
    assert all(c.outputs == [] and c.execution_count is None for c in copy.cells if c.cell_type == "code")
    assert [c.id for c in copy.cells] == [c.id for c in nb.cells]
    assert copy.cells[0].source == nb.cells[0].source
    assert nb.cells[2].outputs, "the original notebook must not be modified"
    nbformat.validate(copy)


def test_fixture_stub_raises_where_no_check_catches_it():
    copy = student.make_student_notebook(nbformat.read(FIXTURE, as_version=4))
    namespace: dict = {}
    _run_cell(copy.cells[1].source, namespace)  # the checks themselves
    with pytest.raises(NotImplementedError):
        _run_cell(copy.cells[2].source, namespace)


def test_exercise_without_check_is_reported():
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("def f():\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION"),
            nbformat.v4.new_markdown_cell("check_f(f) in markdown does not count"),
            nbformat.v4.new_code_cell("print(f())"),
        ]
    )
    assert student.exercise_problems(nb, "demo.ipynb") == [
        "demo.ipynb, cell 0: exercise without a check_...() call in it or in the next code cell"
    ]


def test_cli_writes_copies_and_refuses_to_overwrite(tmp_path):
    out = tmp_path / "student"
    done = subprocess.run(
        [sys.executable, "-m", "nbutils.student", str(FIXTURE.parent), "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    written = sorted(p.name for p in out.glob("*.ipynb"))
    assert written == sorted(p.name for p in FIXTURE.parent.glob("*.ipynb"))
    copy = nbformat.read(out / FIXTURE.name, as_version=4)
    assert "raise NotImplementedError" in "\n".join(_code_lines(copy))
    # writing into the source folder would erase the solutions
    assert student.main([str(out / FIXTURE.name), "--out", str(out)]) == 1


def test_cli_reports_unbalanced_markers(tmp_path, capsys):
    broken = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("# BEGIN SOLUTION\nx = 2\ncheck_x(x)")]
    )
    path = tmp_path / "broken.ipynb"
    nbformat.write(broken, path)
    assert student.main([str(path), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "broken.ipynb, cell 1" in err and "never closed" in err
    assert not (tmp_path / "out" / "broken.ipynb").exists()


# ---------------------------------------------------------------- the course's own notebooks


@pytest.mark.parametrize("path", COURSE_NOTEBOOKS, ids=[p.name for p in COURSE_NOTEBOOKS])
def test_course_notebook_student_copy(path):
    nb = nbformat.read(path, as_version=4)
    assert student.exercise_problems(nb, path.name) == []
    copy = student.make_student_notebook(nb, path.name)
    for original, converted in zip(nb.cells, copy.cells):
        markdown = original.cell_type == "markdown"
        blocks = student.solution_blocks(original.source, where=path.name, markdown=markdown)
        if not blocks:
            continue
        kept = converted.source.splitlines()
        for line in {line.strip() for block in blocks for line in block if line.strip()}:
            # a solution line may survive only where the same line also stands outside the markers
            outside = sum(1 for k in kept if k.strip() == line)
            original_outside = sum(1 for k in original.source.splitlines() if k.strip() == line) - sum(
                1 for block in blocks for k in block if k.strip() == line
            )
            assert outside == original_outside, f"{path.name}: solution line survives: {line!r}"
        assert "BEGIN SOLUTION" not in converted.source


def _load_runner():
    """tools/run_notebooks.py, imported by path (tools/ is a folder of scripts)."""
    import importlib.util

    sys.path.insert(0, str(ROOT / "tools"))
    spec = importlib.util.spec_from_file_location("run_notebooks", ROOT / "tools" / "run_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", COURSE_NOTEBOOKS, ids=[p.name for p in COURSE_NOTEBOOKS])
def test_student_copy_runs_top_to_bottom(path, tmp_path):
    """A fresh student copy, no exercise solved, runs from the first cell to the last without an error: each
    unwritten exercise says what to write, and the cells after it use the course's version of the function."""
    nb = nbformat.read(path, as_version=4)
    copy_path = tmp_path / path.name
    nbformat.write(student.make_student_notebook(nb, path.name), copy_path)
    seconds, _, error = _load_runner().run_notebook(copy_path, cell_timeout=600, write=True, patterns=[])
    assert error is None, f"{path.name} (student copy) stopped: {error}"
    executed = nbformat.read(copy_path, as_version=4)
    text = "".join(output.get("text", "") for cell in executed.cells if cell.cell_type == "code"
                   for output in cell.get("outputs", []) if output.get("output_type") == "stream")
    n_exercises = sum(bool(student.solution_blocks(cell.source, where=path.name)) for cell in nb.cells
                      if cell.cell_type == "code")
    assert text.count("not written yet") == n_exercises, f"{path.name}: every unsolved exercise says so"
    errors = [o for cell in executed.cells if cell.cell_type == "code" for o in cell.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
