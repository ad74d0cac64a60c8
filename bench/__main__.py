"""`python -m bench <command>`: each command is a module with configure(parser) and run(args)."""
from __future__ import annotations

import argparse
import importlib
import sys

# command -> module; modules import lazily so `--help` stays instant.
COMMANDS = {
    "latency": "bench.latency",
    "throughput": "bench.throughput",
    "scale": "bench.scale",
    "occlude": "bench.occlude",
    "online": "bench.online",
    "restoration": "bench.restoration",
    "sketch": "bench.sketch",
    "rerank-grid": "bench.rerank_grid",
    "retrieval": "bench.retrieval",
    "ablate": "bench.ablate",
    "report": "bench.report",
    "fuzz": "bench.fuzz",
    "load": "bench.load",
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    # Only the chosen command's module is imported: one broken optional extra never blocks the rest.
    chosen = [c for c in COMMANDS if c in argv[:1]] or list(COMMANDS)
    modules = {}
    for name in chosen:
        try:
            module = importlib.import_module(COMMANDS[name])
        except ImportError as exc:
            sub.add_parser(name, help=f"unavailable: {exc}")
            continue
        modules[name] = module
        module.configure(sub.add_parser(name, help=(module.__doc__ or "").strip().splitlines()[0]))
    args = parser.parse_args(argv)
    if args.command not in modules:
        parser.error(f"command {args.command!r} is unavailable here (a dependency failed to import)")
    return int(modules[args.command].run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
