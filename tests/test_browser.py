"""Run every notebook in a real JupyterLab, driven by a real Chromium, as a student would.

One JupyterLab server (on 127.0.0.1, random port and token, serving COPIES of the notebooks from a
temporary folder) and one headless Chromium serve the whole module; each notebook gets a fresh page:

1. open the notebook and wait until its kernel is started and idle;
2. clear all outputs and Run All Cells, then wait until every cell has run (or one has failed);
3. check: no error output and no traceback, every image decoded, every widget displayed;
4. for each widget marked with the CSS class ``nbutils-widget`` that holds a slider: press the
   arrow key on the slider and check that the rest of the widget changes.

The test is skipped when Playwright or Chromium is missing on a developer's machine, but fails
instead when ``CI=true``. ``COURSE_CHROMIUM`` names another Chromium binary;
``COURSE_BROWSER_TIMEOUT`` the seconds allowed per notebook (default 360).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "sample_notebooks" / "browser_fixture.ipynb"
COURSE_NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# (folder in the server's root, notebook): the fixture always runs, then the course's notebooks
CASES = [("sample", FIXTURE)] + [("notebooks", path) for path in COURSE_NOTEBOOKS]

IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
NOTEBOOK_TIMEOUT_S = float(os.environ.get("COURSE_BROWSER_TIMEOUT", "360"))
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--no-first-run",
    "--no-pings",
    "--metrics-recording-only",
    "--disable-features=Translate,MediaRouter,OptimizationHints",
]
# JupyterLab settings: no news, no update check, every cell in the page, no autosave
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
}

pytestmark = pytest.mark.browser


def _unavailable(reason: str) -> None:
    """Skip on a developer's machine; fail in CI, where the browser test must always run."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the browser test may not be skipped)", pytrace=False)
    pytest.skip(reason)


def _find_chromium() -> str | None:
    for candidate in (os.environ.get("COURSE_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LabServer:
    url: str
    token: str
    root: Path
    process: subprocess.Popen
    log: Path

    def api(self, method: str, path: str, timeout: float = 10) -> object:
        request = urllib.request.Request(
            f"{self.url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def shutdown_sessions(self, path: str) -> None:
        """Shut down the kernels of the notebook ``path`` (frees memory before the next notebook)."""
        for session in self.api("GET", "/api/sessions") or []:
            if session.get("path") == path:
                self.api("DELETE", f"/api/sessions/{session['id']}", timeout=30)

    def stop(self) -> None:
        """Stop the server by its process id: ask nicely (it then stops its kernels), then insist."""
        if self.process.poll() is None:
            try:
                self.api("POST", "/api/shutdown", timeout=10)
                self.process.wait(timeout=20)
            except (OSError, urllib.error.URLError, subprocess.TimeoutExpired):
                pass
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def lab(tmp_path_factory, course_kernel_env) -> LabServer:
    """A JupyterLab server serving copies of the notebooks, isolated from the user's Jupyter set-up."""
    base = tmp_path_factory.mktemp("lab")
    root = base / "root"
    (root / "sample").mkdir(parents=True)
    shutil.copy2(FIXTURE, root / "sample" / FIXTURE.name)
    if (ROOT / "notebooks").is_dir():
        shutil.copytree(ROOT / "notebooks", root / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    settings = base / "settings"
    for plugin, values in LAB_SETTINGS.items():
        target = settings / f"{plugin}.jupyterlab-settings"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))
    env = dict(course_kernel_env)
    for variable, folder in {
        "JUPYTER_CONFIG_DIR": "config",
        "JUPYTER_DATA_DIR": "data",
        "JUPYTER_RUNTIME_DIR": "runtime",
        "JUPYTERLAB_WORKSPACES_DIR": "workspaces",
    }.items():
        (base / folder).mkdir()
        env[variable] = str(base / folder)
    env["JUPYTERLAB_SETTINGS_DIR"] = str(settings)
    port, token = _free_port(), secrets.token_hex(24)
    command = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={base / 'workspaces'}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
        "--LabApp.expose_app_in_browser=True",
    ]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = base / "jupyterlab.log"
    with open(log, "wb") as log_file:
        process = subprocess.Popen(command, cwd=root, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    server = LabServer(f"http://127.0.0.1:{port}", token, root, process, log)
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                pytest.fail(f"JupyterLab exited with status {process.returncode}:\n{server.log_tail()}")
            try:
                server.api("GET", "/api/status", timeout=5)
                break
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer within 120 s:\n{server.log_tail()}")
                time.sleep(0.5)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module (Debian's own binary, never a downloaded one)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Python Playwright is not installed")
    executable = _find_chromium()
    if executable is None:
        _unavailable("no Chromium found (install Debian's 'chromium' package or set COURSE_CHROMIUM)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


# ------------------------------------------------------------------ JavaScript run in the page

# True once the notebook `path` is open and its kernel is started, connected and idle.
JS_KERNEL_READY = """(path) => {
  const app = window.jupyterapp;
  const panel = app && app.shell && app.shell.currentWidget;
  if (!panel || !panel.context || panel.context.path !== path || !panel.context.isReady) return false;
  const context = panel.sessionContext;
  if (!context || context.kernelDisplayName === 'No Kernel') return false;
  const kernel = context.session && context.session.kernel;
  return !!kernel && kernel.status === 'idle' && kernel.connectionStatus === 'connected';
}"""

JS_RUN_ALL = """async () => {
  const app = window.jupyterapp;
  await app.commands.execute('notebook:clear-all-cell-outputs');
  app.commands.execute('notebook:run-all-cells');  // not awaited: the test polls instead
  return true;
}"""

# 'done' when every non-empty code cell has run, 'error' when a cell failed (Run All stops there),
# 'dead' when the kernel died; false while still running.
JS_RUN_STATE = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  if (!kernel || kernel.status === 'dead') return 'dead';
  if (kernel.status !== 'idle') return false;
  if ([...panel.node.querySelectorAll('.jp-InputArea-prompt')].some(p => p.textContent.includes('*'))) return false;
  const cells = panel.content.widgets.filter(c => c.model.type === 'code');
  if (cells.some(c => c.model.outputs.toJSON().some(o => o.output_type === 'error'))) return 'error';
  const pending = cells.some(c => c.model.sharedModel.getSource().trim() !== '' && c.model.executionCount === null);
  return pending ? false : 'done';
}"""

# Widget outputs carry no mime-type attribute in the page: a displayed widget is an output whose
# first child has the class 'jupyter-widgets' (outputs nested inside an Output widget do not count).
JS_RUNNING_CELLS = """() => window.jupyterapp.shell.currentWidget.content.widgets
  .map((cell, index) => [index, cell])
  .filter(([, cell]) => cell.model.type === 'code' && (cell.node.querySelector('.jp-InputArea-prompt') || {}).textContent
      && cell.node.querySelector('.jp-InputArea-prompt').textContent.includes('*'))
  .map(([index]) => index)"""

JS_WIDGET_HELPERS = """
  const widgetOutputsInModel = (panel) => panel.content.widgets
      .filter(c => c.model.type === 'code')
      .flatMap(c => c.model.outputs.toJSON())
      .filter(o => o.data && o.data['application/vnd.jupyter.widget-view+json']).length;
  const topOutputs = (panel) => [...panel.node.querySelectorAll('.jp-OutputArea-output')]
      .filter(n => !n.parentElement.closest('.jupyter-widgets'));
  const shownWidgets = (panel) => topOutputs(panel)
      .filter(n => n.firstElementChild && n.firstElementChild.classList.contains('jupyter-widgets')).length;
"""

JS_OUTPUTS_SETTLED = """() => {""" + JS_WIDGET_HELPERS + """
  const panel = window.jupyterapp.shell.currentWidget;
  const images = [...panel.node.querySelectorAll('.jp-OutputArea-output img')];
  const failed = topOutputs(panel).filter(n => (n.textContent || '').includes('Error displaying widget')).length;
  return images.every(i => i.complete) && shownWidgets(panel) + failed >= widgetOutputsInModel(panel);
}"""

JS_REPORT = """() => {""" + JS_WIDGET_HELPERS + """
  const panel = window.jupyterapp.shell.currentWidget;
  const report = {errors: [], tracebacks: [], badImages: [], widgetErrors: [], emptyWidgets: 0,
                  images: 0, widgetViews: 0, markedWidgets: 0, text: ''};
  panel.content.widgets.forEach((cell, index) => {
    if (cell.model.type !== 'code') return;
    for (const o of cell.model.outputs.toJSON()) {
      if (o.output_type === 'error') report.errors.push(`cell ${index}: ${o.ename}: ${o.evalue}`);
    }
  });
  const outputs = [...panel.node.querySelectorAll('.jp-OutputArea-output')];
  for (const node of outputs) {
    const text = node.textContent || '';
    report.text += text + '\\n';
    if (node.getAttribute('data-mime-type') === 'application/vnd.jupyter.stderr' && text.includes('Traceback'))
      report.tracebacks.push(text.slice(0, 1500));
    if (text.includes('Error displaying widget')) report.widgetErrors.push(text.slice(0, 300));
  }
  for (const image of panel.node.querySelectorAll('.jp-OutputArea-output img')) {
    report.images += 1;
    if (!(image.complete && image.naturalWidth > 0)) report.badImages.push(image.src.slice(0, 80));
  }
  report.widgetViews = widgetOutputsInModel(panel);
  report.emptyWidgets = Math.max(0, report.widgetViews - shownWidgets(panel));
  report.markedWidgets = panel.node.querySelectorAll('.jp-OutputArea-output .nbutils-widget').length;
  return report;
}"""

# What a widget shows, apart from its sliders (whose own look changes with the value anyway).
JS_SNAPSHOT = """(root) => {
  const copy = root.cloneNode(true);
  copy.querySelectorAll('.widget-slider, .widget-readout, .noUi-target, input').forEach(n => n.remove());
  return copy.innerHTML;
}"""

JS_CHANGED = """([root, before]) => {
  const copy = root.cloneNode(true);
  copy.querySelectorAll('.widget-slider, .widget-readout, .noUi-target, input').forEach(n => n.remove());
  return copy.innerHTML !== before;
}"""


def _uses_course_widgets(path: Path) -> bool:
    """Whether the notebook's code displays a course widget, so that one must appear in the browser."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    code = "\n".join(
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        for c in nb.get("cells", [])
        if c.get("cell_type") == "code"
    )
    return bool(re.search(r"nbutils\.widgets|from nbutils import[^\n]*\bwidgets\b|nbutils-widget", code))


def _move_sliders(page, failures: list[str]) -> int:
    """Press an arrow key on the slider of each marked widget; record widgets that did not react."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    roots = page.locator(".jp-OutputArea-output .nbutils-widget")
    moved = 0
    for index in range(roots.count()):
        root = roots.nth(index)
        handle = root.locator(".noUi-handle").first
        if handle.count() == 0:
            continue  # a widget without a slider: nothing to move
        root.scroll_into_view_if_needed()
        before = root.evaluate(JS_SNAPSHOT)
        at_max = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
        handle.focus()
        page.keyboard.press("ArrowLeft" if at_max else "ArrowRight")
        try:
            page.wait_for_function(JS_CHANGED, arg=[root.element_handle(), before], timeout=60_000, polling=200)
            moved += 1
        except PlaywrightTimeout:
            failures.append(f"widget {index}: moving its slider with the keyboard changed nothing")
    return moved


@pytest.mark.parametrize(
    "folder, path", CASES, ids=[f"{folder}/{path.name}" for folder, path in CASES]
)
def test_notebook_runs_in_jupyterlab(folder, path, browser, lab, notebook_timings):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    name = f"{folder}/{path.name}"
    phases: dict[str, float] = {}
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    start = time.perf_counter()
    try:
        page.goto(f"{lab.url}/lab/tree/{quote(name)}?token={lab.token}", wait_until="domcontentloaded")
        try:
            page.wait_for_function(JS_KERNEL_READY, arg=name, timeout=180_000, polling=250)
        except PlaywrightTimeout:
            pytest.fail(f"{name}: no idle kernel after 180 s; server log:\n{lab.log_tail()}", pytrace=False)
        phases["open"] = time.perf_counter() - start

        mark = time.perf_counter()
        page.evaluate(JS_RUN_ALL)
        try:
            waited = page.wait_for_function(JS_RUN_STATE, timeout=NOTEBOOK_TIMEOUT_S * 1000, polling=500)
        except PlaywrightTimeout:
            running = page.evaluate(JS_RUNNING_CELLS)
            pytest.fail(f"{name}: still running after {NOTEBOOK_TIMEOUT_S:.0f} s (cells {running})", pytrace=False)
        state = waited.json_value()
        phases["run"] = time.perf_counter() - mark

        mark = time.perf_counter()
        try:
            page.wait_for_function(JS_OUTPUTS_SETTLED, timeout=30_000, polling=250)
        except PlaywrightTimeout:
            pass  # the report below says what did not settle
        report = page.evaluate(JS_REPORT)
        problems = [f"the kernel died ({lab.log_tail(10)})"] if state == "dead" else []
        problems += [f"error output: {e}" for e in report["errors"]]
        problems += [f"traceback on stderr: {t}" for t in report["tracebacks"]]
        problems += [f"image not rendered: {src}" for src in report["badImages"]]
        problems += [f"widget not rendered: {w}" for w in report["widgetErrors"]]
        if report["emptyWidgets"]:
            problems.append(f"{report['emptyWidgets']} widget output(s) never displayed a widget")
        if _uses_course_widgets(path) and report["markedWidgets"] == 0:
            problems.append("the notebook uses nbutils widgets, but no element with class 'nbutils-widget' appeared")
        if path == FIXTURE and "front end attached: True" not in report["text"]:
            problems.append("JPY_SESSION_NAME is not set in a kernel that JupyterLab started")
        if not problems:
            moved = _move_sliders(page, problems)
            if moved:
                page.wait_for_function(JS_RUN_STATE, timeout=60_000, polling=250)
                page.wait_for_function(JS_OUTPUTS_SETTLED, timeout=30_000, polling=250)
                again = page.evaluate(JS_REPORT)
                for kind in ("errors", "tracebacks", "badImages", "widgetErrors"):
                    problems += [f"after moving a slider: {item}" for item in again[kind]]
            if path == FIXTURE and moved == 0:
                problems.append("the fixture's slider was not moved")
        phases["checks"] = time.perf_counter() - mark
        phases["total"] = time.perf_counter() - start
        notebook_timings.append((name, phases))
        summary = f"{report['images']} image(s), {report['widgetViews']} widget(s), {report['markedWidgets']} marked"
        print(f"{name}: {summary}; " + ", ".join(f"{k} {v:.1f} s" for k, v in phases.items()))
        if page_errors:
            print("JavaScript errors in the page:", *page_errors[:5], sep="\n  ")
        assert not problems, f"{name}:\n  " + "\n  ".join(problems)
    finally:
        page.close()
        try:
            lab.shutdown_sessions(name)
        except (OSError, urllib.error.URLError):
            pass
