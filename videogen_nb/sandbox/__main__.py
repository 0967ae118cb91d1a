"""``python -m videogen_nb.sandbox``: run a standing sandbox gateway until interrupted.

Every ``Behaviour`` knob is a flag (``task_seconds`` -> ``--task-seconds``).
"""

from __future__ import annotations

import argparse
import sys
import threading

import attrs

from .behaviour import Behaviour
from .handle import start

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m videogen_nb.sandbox",
        description="A local video gateway serving the unified video API with real MP4s.",
    )
    parser.add_argument("--port", type=int, default=8000, help="port (0: any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    for field in attrs.fields(Behaviour):
        default = field.default
        shown = "" if field.name == "api_key" else f" (default: {default!r})"
        parser.add_argument(
            "--" + field.name.replace("_", "-"),
            dest=field.name,
            default=None,
            metavar="VALUE",
            help=f"sandbox behaviour `{field.name}`{shown}",
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse flags, start the sandbox, print where it listens, and serve until Ctrl-C."""
    args = vars(_parser().parse_args(argv))
    port, host = args.pop("port"), args.pop("host")
    behaviour = {k: v for k, v in args.items() if v is not None}
    try:
        handle = start(port=port, host=host, **behaviour)
    except (TypeError, ValueError, OSError) as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 2
    # Printing the key is the point here: this is a local throwaway key for the sandbox only.
    print(f"VIDEOGEN_BASE_URL={handle.base_url}", flush=True)
    print(f"VIDEOGEN_API_KEY={handle.api_key}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
