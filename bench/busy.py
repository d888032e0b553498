"""Run a command while other processes keep CPU cores busy (a developer's machine under load).

CI may run on a machine that is compiling or serving at the same time; the suite must pass
there too. `make test-busy` runs the whole suite this way.

Usage: python bench/busy.py [--cores 2] -- COMMAND [ARGS...]
Exit status: the command's.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys


def burn() -> None:
    """Spin one core until killed."""
    os.nice(0)
    while True:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 2, help="busy processes (default: all cores)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    burners = [multiprocessing.Process(target=burn, daemon=True) for _ in range(args.cores)]
    for p in burners:
        p.start()
    print(f"busy.py: {args.cores} core(s) kept busy while running: {' '.join(command)}", flush=True)
    try:
        return subprocess.call(command)
    finally:
        for p in burners:
            p.kill()
            p.join(5)


if __name__ == "__main__":
    sys.exit(main())
