"""Shared plumbing for driving nbgrader from Python: where things are, and its configuration.

nbgrader's Python API does not read ``nbgrader_config.py`` by itself (NBGRADER.md): every
command here loads the course's config file with traitlets and hands it to nbgrader's classes.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import MissingDependencyError, RightsizeError

if TYPE_CHECKING:
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

__all__ = [
    "course_directory",
    "fast_imports",
    "shared_gradebook_engine",
    "default_course_dir",
    "find_repo_root",
    "load_config",
    "nbgrader_logger",
    "tools_on_path",
]

CONFIG_NAME = "nbgrader_config.py"


def find_repo_root(start: Path | None = None) -> Path:
    """The course repository holding ``autograder/nbgrader_config.py``, from ``start`` upwards."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "autograder" / CONFIG_NAME).is_file():
            return folder
    # an editable install: src/rightsize/course/_nbgrader.py -> the repository
    repo = Path(__file__).resolve().parents[3]
    if (repo / "autograder" / CONFIG_NAME).is_file():
        return repo
    raise RightsizeError("cannot find the course repository (a folder with autograder/nbgrader_config.py): "
                         "run this from your clone of the course, or pass --course-dir")


def default_course_dir(repo_root: Path | None = None) -> Path:
    """``autograder/course`` of the repository (git-ignored, made by ``rightsize course build``)."""
    env = os.environ.get("RIGHTSIZE_COURSE_DIR")
    if env:
        return Path(env).expanduser().resolve()
    return (repo_root or find_repo_root()) / "autograder" / "course"


def tools_on_path() -> None:
    """Put this Python's ``bin`` first on PATH: nbgrader shells out to ``alembic`` (NBGRADER.md, trap 7)."""
    bin_dir = os.path.dirname(sys.executable)
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if parts[:1] != [bin_dir]:
        os.environ["PATH"] = os.pathsep.join([bin_dir, *[p for p in parts if p != bin_dir]])


def require_nbgrader() -> None:
    try:
        import nbgrader  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError("nbgrader", "the autograder") from exc


def load_config(course_dir: Path) -> Config:
    """The course's nbgrader configuration, with the course root set to ``course_dir``."""
    require_nbgrader()
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    path = course_dir / CONFIG_NAME
    if not path.is_file():
        raise RightsizeError(f"no {CONFIG_NAME} in {course_dir}: run `rightsize course build` first "
                             "(or pass the --course-dir that build used)")
    config = PyFileConfigLoader(CONFIG_NAME, str(course_dir)).load_config()
    extra = Config()
    extra.CourseDirectory.root = str(course_dir.resolve())
    config.merge(extra)
    return config


def course_directory(course_dir: Path, config: Config) -> CourseDirectory:
    from nbgrader.coursedir import CourseDirectory

    coursedir = CourseDirectory(config=config)
    coursedir.root = str(course_dir.resolve())
    return coursedir


def nbgrader_logger(verbose: bool = False) -> logging.Logger:
    """A logger for nbgrader's converters: quiet unless ``verbose``.

    nbgrader logs a "checksum changed" warning for every cell with hidden tests (NBGRADER.md,
    trap 4) and chatters at INFO; the commands here report what matters themselves.
    """
    log = logging.getLogger("rightsize.course.nbgrader")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[nbgrader %(levelname)s] %(message)s"))
        log.addHandler(handler)
        log.propagate = False
    log.setLevel(logging.INFO if verbose else logging.ERROR)
    return log


def fast_imports() -> None:
    """Skip ``rfc3987_syntax`` in this process: jsonschema compiles ~40 grammars from it at import
    (1.6 s on 2 cores, paid by every nbgrader command) for URI formats nbformat never checks.

    For the command-line process only; call it before anything imports nbformat.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def _alembic_head() -> str:
    """The gradebook schema's alembic head, computed in-process (nbgrader runs ``alembic heads``)."""
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import _temp_alembic_ini

    with _temp_alembic_ini("sqlite:////tmp/gradebook.db") as ini:
        head = ScriptDirectory.from_config(AlembicConfig(ini)).get_current_head()
    if not head:
        raise RuntimeError("no alembic head")
    return str(head)


@contextmanager
def shared_gradebook_engine() -> Iterator[None]:
    """Make nbgrader's gradebook access cheap inside the ``with`` block, for this process only.

    - every ``Gradebook`` shares one database engine per URL: nbgrader's preprocessors open a new
      Gradebook (a new SQLAlchemy engine, with an empty compiled-statement cache) for each
      notebook and step, and recompiling the same queries was most of the grader's own time;
    - a new gradebook learns its schema version in-process, once, instead of nbgrader starting
      the ``alembic`` command (seconds on 2 cores) for every gradebook it creates.
    """
    import nbgrader.api as api

    original_version = api.get_alembic_version
    versions: list[str] = []

    def cached_version() -> str:
        if not versions:
            try:
                versions.append(_alembic_head())
            except Exception:  # fall back to nbgrader's own way
                versions.append(original_version())
        return versions[0]

    api.get_alembic_version = cached_version
    original = api.create_engine
    engines: dict[tuple[str, tuple[tuple[str, Any], ...]], Any] = {}

    def cached_engine(url: Any, **kwargs: Any) -> Any:
        key = (str(url), tuple(sorted(kwargs.items())))
        if key not in engines:
            engines[key] = original(url, **kwargs)
        return engines[key]

    api.create_engine = cached_engine
    try:
        yield
    finally:
        api.create_engine = original
        api.get_alembic_version = original_version
        for engine in engines.values():
            engine.dispose()
