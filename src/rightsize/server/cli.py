"""``rightsize serve``: run the lab server."""

from __future__ import annotations

import argparse
import logging

from ..lab import DEFAULT_HOST, DEFAULT_PORT


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("serve", help="run the lab server (OpenAI and Anthropic protocols, local model)")
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    p.add_argument("--faults", metavar="FILE", help="YAML/JSON fault configuration applied to every request")
    p.add_argument("--idle-exit", type=float, default=0, metavar="SECONDS",
                   help="stop after this many seconds without requests (0: never)")
    p.add_argument("--replay", action="append", default=[], metavar="FILE_OR_DIR",
                   help="also serve these recordings (JSONL file, folder, or a shipped name; 'shipped' for all) "
                        "as models replay/<name>, with their recorded timing")
    p.add_argument("--replay-only", action="store_true",
                   help="serve only the recordings given with --replay (no local model is loaded)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.set_defaults(handler=serve)


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .app import create_app
    from .faults import FaultConfig

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        faults = FaultConfig.from_file(args.faults) if args.faults else FaultConfig()
    except (OSError, ValueError) as exc:
        from ..errors import RightsizeError

        raise RightsizeError(f"cannot read the fault file: {exc}") from exc
    server: uvicorn.Server | None = None

    def stop() -> None:
        if server is not None:
            server.should_exit = True

    backends = _backends(args)
    app = create_app(faults=faults, backends=backends, idle_exit=args.idle_exit or None, on_idle=stop)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning", access_log=False,
                            timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    logging.getLogger("rightsize.lab").info(
        "lab server on http://%s:%d (OpenAI: /v1/chat/completions, Anthropic: /v1/messages)%s%s",
        args.host, args.port, f"; models: {', '.join(m for b in backends for m in b.model_ids)}" if args.replay
        else "", f"; faults: {faults.model_dump(exclude_defaults=True)}" if faults.active else "")
    server.run()
    return 0


def _backends(args: argparse.Namespace) -> list:  # type: ignore[type-arg]
    """The local model, plus the recordings of ``--replay`` (or only those, with ``--replay-only``)."""
    from ..errors import RightsizeError
    from .backends import LocalBackend

    if args.replay_only and not args.replay:
        raise RightsizeError("--replay-only needs at least one --replay FILE_OR_DIR")
    backends: list = [] if args.replay_only else [LocalBackend()]  # type: ignore[type-arg]
    if args.replay:
        from .replay import ReplayBackend

        backends.append(ReplayBackend.from_sources(args.replay))
    return backends
