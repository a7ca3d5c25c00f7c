"""The ``rightsize`` command.

Each area of the package contributes its subcommands from its own small module with a
``register(subparsers)`` function, listed in ``_COMMAND_MODULES``; heavy imports happen inside
the command functions so ``rightsize --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .errors import RightsizeError

_COMMAND_MODULES = [
    "rightsize.server.cli",
    "rightsize.doctor",
    "rightsize.registry_cli",
    "rightsize.profiling.cli",
    "rightsize.evals.cli",
    "rightsize.quiz.cli",
    "rightsize.course.cli",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rightsize",
        description="Pick the right-sized language model: measure latency, cost and quality.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):  # that area is not part of this install
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except RightsizeError as exc:
        print(f"rightsize: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("rightsize: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
