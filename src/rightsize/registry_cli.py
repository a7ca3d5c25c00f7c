"""``rightsize models``: print the model registry."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("models", help="list the models in the registry with prices and dates")
    p.add_argument("--all", action="store_true", help="include retired models")
    p.set_defaults(handler=show_models)


def show_models(args: argparse.Namespace) -> int:
    from .registry import list_models

    rows = [("id", "aliases", "provider", "tier", "$/Mtok in", "$/Mtok out", "price read", "retires")]
    for m in list_models(include_retired=args.all):
        rows.append((m.id, ",".join(m.aliases), m.provider, m.tier, f"{m.price.input_per_mtok:g}",
                     f"{m.price.output_per_mtok:g}", str(m.price.read_on),
                     ("retired " if m.retired else "") + (str(m.retires_on) if m.retires_on else "")))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return 0
