"""A newcomer's first lesson in a real browser: JupyterLab with the course's profiles, in Chromium.

The student test does what a new student does: JupyterLab starts on a copy of ``lessons/`` with the
student profile (``course.lab_environment`` and ``course.lab_arguments``, as ``python3 course.py start``
uses them), lesson 01 opens, Run > Run All Cells runs it, and one question of the self-paced quiz is
answered wrong, then right. It checks what the student sees: the quiz's feedback, a plot, the
``%%live`` cell's timing line, no error or stderr output outside the exercises' check cells, no
"Jupyter news?" prompt and none of nbgrader's instructor tools. The instructor test checks that
``--instructor`` shows those tools, with the same selectors, so the student test's "not shown"
cannot pass because a selector went stale.

Needs Playwright for Python (the ``dev`` extra) and Debian's Chromium at /usr/bin/chromium, which
``python3 course.py test`` installs with apt-get as root; without either the tests skip, naming what
to install. The browser is never downloaded (``playwright install`` cannot work offline): Playwright
drives the system Chromium with a fresh profile and flags that keep it off the network.
"""

from __future__ import annotations

import importlib.util
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import nbformat
import pytest

from conftest import ROOT, free_port
from rightsize.quiz import load_lesson

pytestmark = pytest.mark.slow

try:
    from playwright import sync_api
except ImportError:  # the browser tests skip, saying what to install
    sync_api = None

LESSON = "01-why-small-models-win.ipynb"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
NEWS_PROMPT = "Would you like to get notified about official Jupyter news?"
# JupyterLab renders errors (tracebacks) and stderr streams with this MIME type
STDERR_OUTPUT = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"


def _course() -> ModuleType:
    """course.py, imported: the test starts JupyterLab with the very helpers `course.py start` uses."""
    spec = importlib.util.spec_from_file_location("course_script", ROOT / "course.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


course = _course()


# -- JupyterLab and Chromium ---------------------------------------------------------------------

@contextmanager
def jupyterlab(profile: str, root_dir: Path, scratch: Path) -> Iterator[tuple[str, str]]:
    """JupyterLab on ``root_dir`` with a course profile, on a free port with a token; yields (url, token)."""
    port, token = free_port(), secrets.token_hex(16)
    # a developer's own ~/.jupyter settings and workspaces stay out of the test, and untouched by it
    private = {name: str(scratch / name.lower()) for name in
               ("JUPYTER_CONFIG_DIR", "JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR", "JUPYTER_RUNTIME_DIR")}
    env = course.lab_environment(profile, {**os.environ, **private})
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root_dir}",
           *course.lab_arguments()]
    log_path = scratch / f"jupyterlab-{profile}.log"
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, env=env, cwd=root_dir, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 90
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"JupyterLab exited with {proc.returncode}:\n{_tail(log_path)}")
                try:
                    if httpx.get(f"{url}/api/status", headers={"Authorization": f"token {token}"},
                                 timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer within 90 s:\n{_tail(log_path)}")
                time.sleep(0.3)
            yield url, token
        finally:
            proc.terminate()  # JupyterLab shuts its kernels down on SIGTERM
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


@pytest.fixture()
def browser_page(tmp_path: Path) -> Iterator[Any]:
    """A page in Debian's Chromium with a fresh profile; skips, naming what to install, when it cannot start."""
    if sync_api is None:
        pytest.skip("Playwright for Python is not installed: pip install playwright "
                    "(it is in the dev extra: python3 course.py setup)")
    chromium = course.CHROMIUM
    if not chromium.exists():
        pytest.skip(f"no {chromium}: install Debian's Chromium (apt-get install -y chromium; "
                    "python3 course.py test does it as root)")
    with sync_api.sync_playwright() as playwright:
        try:
            context = playwright.chromium.launch_persistent_context(
                str(tmp_path / "chromium-profile"), executable_path=str(chromium), args=CHROMIUM_FLAGS,
                headless=True, viewport={"width": 1400, "height": 1000})
        except sync_api.Error as err:
            pytest.skip(f"{chromium} could not start ({str(err).splitlines()[0]}): reinstall Debian's Chromium "
                        "(apt-get install -y chromium) and the libraries it needs")
        # generous waits: other jobs may share the 2 cores, and JupyterLab's first load takes a while then
        context.set_default_timeout(60_000)
        sync_api.expect.set_options(timeout=60_000)
        page = context.new_page()
        try:
            yield page
        finally:
            context.close()


@contextmanager
def screenshot_on_failure(page: Any, path: Path) -> Iterator[None]:
    """On a failed check, keep a screenshot of what the student would have seen, and say where."""
    try:
        yield
    except BaseException as err:
        try:
            page.screenshot(path=str(path), full_page=False)
            note = f"\n(screenshot: {path})"
        except Exception:  # the page may be gone; the original failure matters more
            note = ""
        if isinstance(err, AssertionError):
            raise AssertionError(f"{err}{note}") from err
        raise


# -- What the student sees -----------------------------------------------------------------------

def open_notebook(page: Any, url: str, token: str, name: str, *, wait_for_kernel: bool = True) -> None:
    page.goto(f"{url}/lab/tree/{name}?token={token}")
    sync_api.expect(page.locator(".jp-NotebookPanel .jp-Notebook")).to_be_visible()
    if not wait_for_kernel:
        return
    # the kernel has started and is waiting (the status bar reads "Python 3 (ipykernel) | Idle")
    sync_api.expect(page.locator("#jp-main-statusbar")).to_contain_text(re.compile(r"Python 3.*\| Idle"),
                                                                       timeout=90_000)


# Each code cell's input prompt ("[3]:", "[*]:"), or null for a cell whose input the lesson hides
# (its placeholder shows no prompt, so only the kernel's status tells when it has run).
_PROMPTS = """() => [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell')].map(cell => {
    const prompt = cell.querySelector('.jp-InputArea .jp-InputPrompt');
    return prompt ? prompt.textContent : null;
})"""


def run_all_cells(page: Any, cells: list[Any], timeout_s: float) -> None:
    """Run > Run All Cells, as a student does, then wait until it is over: every visible code cell
    shows its execution count and the kernel has stayed idle for two seconds.

    On a timeout the failure names the cell still waiting, with what it has printed so far.
    """
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    status = page.locator("#jp-main-statusbar")
    deadline = time.monotonic() + timeout_s
    idle_since: float | None = None
    while True:
        prompts = page.evaluate(_PROMPTS)
        waiting = [i for i, text in enumerate(prompts) if text is not None and not re.search(r"\[\d+\]", text)]
        idle = "| Idle" in (status.text_content() or "")
        now = time.monotonic()
        idle_since = (idle_since or now) if prompts and not waiting and idle else None
        if idle_since is not None and now - idle_since >= 2:
            return
        if now > deadline:
            if waiting:
                first = waiting[0]
                output = page.locator(".jp-NotebookPanel .jp-CodeCell").nth(first).locator(".jp-Cell-outputArea")
                where = (f"cell {first} ({cells[first].source.splitlines()[0][:60]!r}) shows {prompts[first]!r}; "
                         f"its output so far: {(output.text_content() or '')[-500:]!r}")
            else:
                where = "the kernel is still busy, in a cell whose input is hidden"
            pytest.fail(f"Run All had not finished after {timeout_s:.0f} s: {where}")
        time.sleep(0.5)


def nbgrader_tools_on_page(page: Any) -> dict[str, Any]:
    """Locators of nbgrader's instructor tools in JupyterLab's page."""
    return {
        "the Nbgrader menu": page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader"),
        "the Validate button": page.locator(".jp-NotebookPanel-toolbar", has_text="Validate"),
        "the Create Assignment sidebar": page.locator(".jp-SideBar .lm-TabBar-tab[title*='Create Assignment' i]"),
    }


def nbgrader_tools_on_server(url: str, token: str) -> dict[str, bool]:
    """Which of nbgrader's instructor pages the server serves."""
    def reachable(path: str) -> bool:
        return httpx.get(f"{url}{path}", headers={"Authorization": f"token {token}"}, timeout=10,
                         follow_redirects=True).status_code == 200

    return {"the formgrader page": reachable("/formgrader"), "the course list": reachable("/formgraders")}


def code_cells(notebook: Path) -> list[Any]:
    return [cell for cell in nbformat.read(notebook, as_version=4).cells if cell.cell_type == "code"]


def is_check_cell(cell: Any) -> bool:
    """An exercise's or quiz question's check cell (nbgrader's grade cells): they may show a failure."""
    return bool(cell.metadata.get("nbgrader", {}).get("grade"))


# -- The tests ------------------------------------------------------------------------------------

@pytest.mark.timeout(420)
def test_a_student_runs_lesson_01_and_takes_the_quiz_in_chromium(browser_page: Any, tmp_path: Path) -> None:
    page = browser_page
    lessons = tmp_path / "lessons"
    shutil.copytree(ROOT / "lessons", lessons)
    cells = code_cells(lessons / LESSON)
    # Run All is over when every code cell shows an execution count, so none may have one before
    assert all(cell.execution_count is None for cell in cells), f"lessons/{LESSON} was saved with outputs"
    quiz = load_lesson("01", ROOT / "quizzes")
    started = time.monotonic()
    with jupyterlab("student", lessons, tmp_path) as (url, token), \
            screenshot_on_failure(page, tmp_path / "student.png"):
        open_notebook(page, url, token, LESSON)
        run_all_cells(page, cells, timeout_s=300)
        ran_in = time.monotonic() - started
        dom_cells = page.locator(".jp-NotebookPanel .jp-CodeCell")
        assert dom_cells.count() == len(cells), "the page shows a different number of code cells than the lesson"

        # the %%live cell says how long it took and how loaded the machine was
        live = [i for i, cell in enumerate(cells) if cell.source.startswith("%%live")]
        assert live, "lesson 01 has no %%live cell any more: pick another check for the timing line"
        live_text = dom_cells.nth(live[0]).locator(".jp-Cell-outputArea").text_content() or ""
        assert re.search(r"\[live: \d+\.\d s wall time; .* over the last minute\]", live_text), live_text

        # no traceback or stderr noise except in check cells, whose job is to report an unfinished exercise
        noisy = []
        for i, cell in enumerate(cells):
            if not is_check_cell(cell):
                for output in dom_cells.nth(i).locator(STDERR_OUTPUT).all():
                    noisy.append(f"cell {i} ({cell.source.splitlines()[0][:50]!r}): {output.text_content()[:300]}")
        assert not noisy, "error or stderr output outside the check cells:\n" + "\n".join(noisy)

        # a plot rendered: an image in an output, decoded by the browser
        images = page.locator(".jp-NotebookPanel .jp-OutputArea-output img")
        assert images.count() >= 1, "no plot (no image output) after running lesson 01"
        assert images.first.evaluate("img => img.complete && img.naturalWidth > 0"), "the plot image did not load"

        # the self-paced quiz: question 1 answered wrong, then right, with the bank's explanations
        first = quiz.questions[0]
        wrong = next(letter for letter in first.letters if letter not in first.correct_letters)
        right = first.correct_letters[0]
        quiz_box = page.locator(".widget-vbox").filter(has_text=f"Lesson {quiz.lesson} quiz").first
        box = quiz_box.locator(".widget-vbox").filter(has=page.get_by_role("button", name="Check")).first
        box.scroll_into_view_if_needed()
        feedback = box.locator(".widget-html").last
        box.get_by_role("radio", name=f"{wrong})").check()
        box.get_by_role("button", name="Check").click()
        sync_api.expect(feedback).to_contain_text("Not quite")
        sync_api.expect(feedback).to_contain_text(first.choice(wrong).why)
        sync_api.expect(feedback).not_to_contain_text(first.choice(right).why)  # the answer stays hidden
        box.get_by_role("button", name="Try again").click()
        sync_api.expect(feedback).to_have_text("")
        box.get_by_role("radio", name=f"{right})").check()
        box.get_by_role("button", name="Check").click()
        sync_api.expect(feedback).to_contain_text("Right!")
        sync_api.expect(feedback).to_contain_text(first.choice(right).why)
        total = len(quiz.questions)
        sync_api.expect(page.get_by_text(f"Score: 0 of {total} right on the first try (1 of {total} checked)")
                        .first).to_be_visible()

        # what must not be there for a student
        # (the page has long finished loading its extensions by now)
        shown = [tool for tool, where in nbgrader_tools_on_page(page).items() if where.count()]
        shown += [tool for tool, served in nbgrader_tools_on_server(url, token).items() if served]
        assert not shown, f"the student profile shows nbgrader's instructor tools: {', '.join(shown)}"
        # the course's override is in effect (JupyterLab serves it as the setting's default) and no prompt shows
        notifications = httpx.get(f"{url}/lab/api/settings/@jupyterlab/apputils-extension:notification",
                                  headers={"Authorization": f"token {token}"}, timeout=10).json()
        assert notifications["schema"]["properties"]["fetchNews"]["default"] == "false", (
            "the course's JupyterLab overrides are not installed: run python3 course.py setup")
        assert page.get_by_text(NEWS_PROMPT).count() == 0, "JupyterLab asked the student about Jupyter news"

        # the error check above is not blind: an error in an ordinary cell does show up there
        page.locator(".jp-NotebookPanel .jp-CodeCell").last.click()
        page.keyboard.press("Escape")
        page.keyboard.press("b")  # a new cell below, in command mode
        page.keyboard.press("Enter")
        page.keyboard.type("1 / 0")
        page.keyboard.press("Shift+Enter")
        sync_api.expect(dom_cells.nth(len(cells)).locator(STDERR_OUTPUT)).to_contain_text("ZeroDivisionError")
    print(f"lesson 01 opened and ran in {ran_in:.0f} s; whole test {time.monotonic() - started:.0f} s")


@pytest.mark.timeout(240)
def test_the_instructor_profile_shows_the_nbgrader_tools(browser_page: Any, tmp_path: Path) -> None:
    page = browser_page
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    (lessons / LESSON).write_bytes((ROOT / "lessons" / LESSON).read_bytes())
    with jupyterlab("instructor", lessons, tmp_path) as (url, token), \
            screenshot_on_failure(page, tmp_path / "instructor.png"):
        open_notebook(page, url, token, LESSON, wait_for_kernel=False)
        for tool, where in nbgrader_tools_on_page(page).items():
            sync_api.expect(where.first, f"the instructor profile hides {tool}").to_be_visible()
        hidden = [tool for tool, served in nbgrader_tools_on_server(url, token).items() if not served]
        assert not hidden, f"the instructor profile hides nbgrader's tools: {', '.join(hidden)}"
        assert page.get_by_text(NEWS_PROMPT).count() == 0, "JupyterLab asked the instructor about Jupyter news"


def test_course_start_opens_jupyterlab_with_a_profile_as_root_and_passes_extra_arguments(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """``python3 course.py start`` as root in a container: the command it runs, without running it."""
    launched: list[tuple[list[str], dict[str, str]]] = []
    monkeypatch.setattr(course, "setup", lambda **_: Path(sys.executable))
    monkeypatch.setattr(course.subprocess, "run", lambda cmd, **kw: subprocess.CompletedProcess(cmd, 0))
    monkeypatch.setattr(course.subprocess, "call", lambda cmd, env: launched.append((cmd, env)) or 0)
    monkeypatch.setattr(course.os, "geteuid", lambda: 0, raising=False)
    for argv, passed, profile in ((["start", "--no-browser", "--port", "9999"], "--port 9999", "student"),
                                  (["start", "--instructor", "--ServerApp.ip=0.0.0.0"], "--ServerApp.ip=0.0.0.0",
                                   "instructor")):
        monkeypatch.setattr(sys, "argv", ["course.py", *argv])
        assert course.main() == 0
        cmd, env = launched.pop()
        assert cmd[1] == "lab" and "--allow-root" in cmd and f" {passed}" in " ".join(cmd), cmd
        assert ("--no-browser" in cmd) == ("--no-browser" in argv)
        assert "--instructor" not in cmd  # course.py's own flag, not JupyterLab's
        assert env["JUPYTER_CONFIG_PATH"].split(os.pathsep)[0] == str(ROOT / "jupyter-config" / profile)
        said = capsys.readouterr().out
        assert "passing --allow-root to JupyterLab" in said and f"the {profile} profile" in said
    monkeypatch.setattr(course.os, "geteuid", lambda: 1000, raising=False)
    assert course.lab_arguments(["--port=1"]) == ["--port=1"]  # a normal user needs no --allow-root
