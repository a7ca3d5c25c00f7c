"""``rightsize course site``: every lesson, run as a new student would run it, rendered to a static site.

"Read before you run": each student notebook in ``lessons/`` is executed top to bottom in a fresh
kernel, exactly as a newcomer's "Run all" would (``%%live`` cells measure this machine, exercises
still hold their placeholders and say "not done yet"), and rendered with nbconvert's HTML exporter
(plots embedded) into ``<out>/NN-name.html``, with an ``index.html`` listing the lessons and when
and where they ran. A cell that raises stops nothing but marks the run as failed: the function
returns the problems, and the command fails on any.

The test suite builds the same site as a by-product of its lesson checks
(:func:`rightsize.course.check.check_lesson` keeps each newcomer's Run all; ``tests/test_lessons.py``
renders them into ``build/site/``), so every CI run has one to read.
"""

from __future__ import annotations

import datetime as _dt
import html
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["SitePage", "build_site", "page_title", "render_page", "write_index"]


@dataclass
class SitePage:
    """One rendered lesson: where it went, how long it ran, what failed in it."""

    lesson: str
    title: str
    path: Path
    seconds: float
    problems: list[str] = field(default_factory=list)


def render_page(nb: Any, out: Path, title: str) -> Path:
    """Write an executed notebook as one self-contained HTML page (images inline)."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab", embed_images=True)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(body, encoding="utf-8")
    return out


def build_site(lessons_dir: Path, out: Path, *, timeout: float = 300, env: dict[str, str] | None = None,
               only: list[str] | None = None) -> list[SitePage]:
    """Run every ``lessons_dir/NN-*.ipynb`` like a new student and write the site to ``out``."""
    from .build import SOLUTION_GLOB
    from .check import execute_notebook, failed_cells

    pages = []
    for lesson in sorted(lessons_dir.glob(SOLUTION_GLOB)):
        if only and lesson.name[:2] not in only:
            continue
        executed, seconds = execute_notebook(lesson, timeout=timeout, env=env)
        page = render_page(executed, out / f"{lesson.stem}.html", lesson.stem)
        pages.append(SitePage(lesson.stem, page_title(lesson), page, seconds, failed_cells(executed)))
    write_index(out, pages)
    return pages


def page_title(path: Path) -> str:
    """A notebook's first Markdown heading (the lesson's title), or "" without one."""
    import json

    for cell in json.loads(path.read_text(encoding="utf-8")).get("cells", []):
        source = "".join(cell.get("source", []))
        if cell.get("cell_type") == "markdown" and source.startswith("#"):
            return source.splitlines()[0].lstrip("# ").strip()
    return ""


def write_index(out: Path, pages: list[SitePage], *, how: str = "") -> Path:
    """``out/index.html``: the lessons in order, how long each ran, any failing cells, and where.

    ``how`` says how the notebooks were run when it was not plain live (e.g. answers replayed).
    """
    when = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    rows = "\n".join(
        f"<li><a href='{html.escape(p.path.name)}'>{html.escape(p.title or p.lesson)}</a> "
        f"(ran in {p.seconds:.0f} s{'; ' + str(len(p.problems)) + ' failing cell(s)' if p.problems else ''})</li>"
        for p in pages)
    out.mkdir(parents=True, exist_ok=True)
    (out / "index.html").write_text(
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>rightsize: the lessons</title></head><body>"
        "<h1>rightsize: the lessons, as a new student sees them</h1>"
        f"<p>Each lesson was run top to bottom in a fresh kernel on {html.escape(platform.node() or 'this machine')} "
        f"({os.cpu_count()} CPUs, load average {load:.1f}) on {when}. Measured numbers are that machine's; "
        f"exercises still hold their placeholders.{' ' + html.escape(how) if how else ''}</p>"
        f"<ol>\n{rows}\n</ol></body></html>\n", encoding="utf-8")
    return out / "index.html"
