"""Feedback pages show what a student's notebook made: make every bit of it inert, then check.

Three layers, so one slip is not a hole:

1. :class:`SanitizeStudentContent` (a feedback preprocessor, in the course config): Markdown cells
   are rendered and cleaned with ``nh3`` (a maintained HTML sanitizer); outputs keep only plain
   text, cleaned HTML and validated PNG/JPEG images (JavaScript, widgets, SVG and unknown types
   are dropped); every output and cell is size-capped, error tracebacks included; notebook and
   cell metadata a template could echo (titles, tags) are dropped.
2. The page template (``templates/rightsize_feedback``) loads no script at all and declares a
   Content-Security-Policy that forbids scripts, frames and remote content.
3. :func:`audit_page` reads each finished page and lists anything executable left (a ``<script>``,
   an ``on...=`` attribute, a ``javascript:`` URL, a frame, a form): ``rightsize course feedback``
   replaces such a page with a short notice instead of sending it.
"""

from __future__ import annotations

import base64
import binascii
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import nh3
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool, Int

__all__ = ["TEMPLATE_DIR", "SanitizeStudentContent", "audit_page", "clean_html"]

#: the folder holding the ``rightsize_feedback`` nbconvert template
TEMPLATE_DIR = str(Path(__file__).resolve().parent / "templates")

_TAGS = set(nh3.ALLOWED_TAGS) - {"area", "map"}
_ATTRIBUTES: dict[str, set[str]] = {**{k: set(v) for k, v in nh3.ALLOWED_ATTRIBUTES.items()},
                                    "*": {"class"}, "span": {"style"}, "p": {"style"}, "div": {"style"}}
_STYLE = {"color", "background-color", "font-weight", "font-style", "text-align"}
_OUTPUT_TYPES = ("text/plain", "text/html", "text/markdown", "image/png", "image/jpeg")
_BASE64 = re.compile(r"^[A-Za-z0-9+/=\s]*$")


def clean_html(text: str) -> str:
    """Student HTML with everything executable removed (scripts, handlers, non-web URLs, forms)."""
    return nh3.clean(text, tags=_TAGS, attributes=_ATTRIBUTES, url_schemes={"http", "https", "mailto"},
                     filter_style_properties=_STYLE, strip_comments=True)


def _markdown_html(text: str) -> str:
    from nbconvert.filters.markdown import markdown2html

    return clean_html(markdown2html(text))


def _cap(text: Any, limit: int) -> str:
    text = text if isinstance(text, str) else "".join(map(str, text)) if isinstance(text, list) else str(text)
    return text if len(text) <= limit else text[:limit] + f"\n[... {len(text) - limit} more characters not shown]"


def _image(data: Any, limit: int) -> str | None:
    if not isinstance(data, str) or len(data) > limit or not _BASE64.match(data):
        return None
    try:
        base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        return None
    return "".join(data.split())


class SanitizeStudentContent(Preprocessor):  # type: ignore[misc]
    """Make a notebook safe to render as a feedback page (see the module docstring)."""

    enabled = Bool(True, help="on by default: nbconvert runs a preprocessor only when it is enabled").tag(config=True)
    max_cell_chars = Int(100_000, help="characters of a cell's source shown").tag(config=True)
    max_output_chars = Int(100_000, help="characters of one text output shown").tag(config=True)
    max_image_bytes = Int(2_000_000, help="largest base64 image shown").tag(config=True)
    max_outputs = Int(50, help="outputs shown per cell").tag(config=True)

    def preprocess(self, nb: Any, resources: Any) -> tuple[Any, Any]:
        nb.metadata = {k: v for k, v in nb.metadata.items() if k in ("kernelspec", "language_info")}
        for cell in nb.cells:
            self._cell(cell)
        return nb, resources

    def _cell(self, cell: Any) -> None:
        cell.metadata = {k: v for k, v in cell.get("metadata", {}).items() if k in ("nbgrader", "rightsize")}
        cell.pop("attachments", None)
        if cell.cell_type == "markdown":
            cell.source = _markdown_html(_cap(cell.source, self.max_cell_chars))
        elif cell.cell_type == "code":
            cell.source = _cap(cell.source, self.max_cell_chars)
            outputs = [o for o in (self._output(o) for o in cell.get("outputs", [])[: self.max_outputs]) if o]
            if len(cell.get("outputs", [])) > self.max_outputs:
                outputs.append({"output_type": "stream", "name": "stdout",
                                "text": f"[{len(cell.outputs) - self.max_outputs} more outputs not shown]\n"})
            from nbformat import from_dict

            cell.outputs = [from_dict(o) for o in outputs]
        else:  # raw cells render verbatim in HTML: show them as text
            cell.cell_type, cell.source = "markdown", _markdown_html("```\n" + _cap(cell.source, self.max_cell_chars)
                                                                    .replace("```", "'''") + "\n```")

    def _output(self, output: Any) -> dict[str, Any] | None:
        kind = output.get("output_type")
        limit = self.max_output_chars
        if kind == "stream":
            return {"output_type": "stream", "name": "stderr" if output.get("name") == "stderr" else "stdout",
                    "text": _cap(output.get("text", ""), limit)}
        if kind == "error":
            traceback = [str(line) for line in list(output.get("traceback") or [])[:100]]
            shown = _cap("\n".join(traceback), limit).split("\n")
            return {"output_type": "error", "ename": _cap(output.get("ename", ""), 200),
                    "evalue": _cap(output.get("evalue", ""), 2000), "traceback": shown}
        if kind not in ("display_data", "execute_result"):
            return None
        data = output.get("data", {})
        if not isinstance(data, dict):
            return None
        clean: dict[str, Any] = {}
        for mime in _OUTPUT_TYPES:
            if mime not in data:
                continue
            if mime in ("image/png", "image/jpeg"):
                image = _image(data[mime], self.max_image_bytes)
                if image:
                    clean[mime] = image
            elif mime == "text/html":
                clean[mime] = clean_html(_cap(data[mime], limit))
            elif mime == "text/markdown":
                clean["text/html"] = clean.get("text/html") or _markdown_html(_cap(data[mime], limit))
            else:
                clean[mime] = _cap(data[mime], limit)
        if not clean:
            clean["text/plain"] = "[an output of a kind feedback pages do not show]"
        metadata = {"rightsize-verdict": True} if output.get("metadata", {}).get("rightsize-verdict") else {}
        result: dict[str, Any] = {"output_type": kind, "data": clean, "metadata": metadata}
        if kind == "execute_result":
            count = output.get("execution_count")
            result["execution_count"] = count if type(count) is int else None
        return result


# ---------------------------------------------------------------------------------- the audit
_BANNED_TAGS = {"script", "iframe", "frame", "frameset", "object", "embed", "applet", "form", "base", "link",
                "svg", "math"}
_URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "background", "poster", "cite", "data"}


class _Audit(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BANNED_TAGS:
            self.problems.append(f"a <{tag}> element")
        if tag == "meta" and (dict(attrs).get("http-equiv") or "").lower() == "refresh":
            self.problems.append("a refreshing <meta>")
        for name, value in attrs:
            name = name.lower()
            if name.startswith("on"):
                self.problems.append(f"an {name}= attribute on <{tag}>")
            elif name == "srcdoc":
                self.problems.append(f"a srcdoc= attribute on <{tag}>")
            elif name in _URL_ATTRIBUTES and value is not None:
                url = re.sub(r"[\s\x00-\x1f]", "", value).lower()
                if url.startswith(("javascript:", "vbscript:")):
                    self.problems.append(f"a {url.split(':')[0]}: URL in <{tag} {name}=>")
                elif url.startswith("data:") and not (tag == "img" and name == "src"
                                                       and url.startswith(("data:image/png", "data:image/jpeg"))):
                    self.problems.append(f"a data: URL in <{tag} {name}=>")

    handle_startendtag = handle_starttag


def audit_page(page: str) -> list[str]:
    """What is executable in a rendered page (empty when it is safe to hand out)."""
    audit = _Audit()
    audit.feed(page)
    audit.close()
    return sorted(set(audit.problems))
