"""`python -m bench <command>`: each command is a module with configure(parser) and run(args)."""
from __future__ import annotations

import argparse
import importlib
import sys

# command -> module; modules import lazily so `--help` stays instant.
COMMANDS = {
    "latency": "bench.latency",
    "throughput": "bench.throughput",
    "index": "bench.index",
    "occlude": "bench.occlude",
    "online": "bench.online",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    modules = {}
    for name, mod in COMMANDS.items():
        module = importlib.import_module(mod)
        modules[name] = module
        p = sub.add_parser(name, help=(module.__doc__ or "").strip().splitlines()[0])
        module.configure(p)
    args = parser.parse_args(argv)
    return int(modules[args.command].run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
