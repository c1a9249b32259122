"""Command-line start-up: how long the user waits for help, the version, and the refusal of a
wrong argument (which must come before torch is imported).

Usage: python benchmarks/bench_cli.py [--runs 3]

Each command runs ``--runs`` times as a fresh process (``python -m cinemagraph3d ...``); the
table gives the median wall time and whether torch was imported (checked with ``-X importtime``).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = {
    "animate --help": ["animate", "--help"],
    "--help": ["--help"],
    "--version": ["--version"],
    "eval --help": ["eval", "--help"],
    "animate (wrong --camera)": ["animate", "{photo}", "-o", "{out}", "--camera", "bogus"],
    "animate (missing photo)": ["animate", "{missing}", "-o", "{out}"],
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "p.png"
        photo.write_bytes(
            Path(__file__).resolve().parents[1].joinpath("tests", "data", "golden_circle.png").read_bytes()
        )
        fill = {"photo": str(photo), "out": str(Path(tmp) / "o.mp4"), "missing": str(Path(tmp) / "none.jpg")}
        print(f"| command | median wall (s), {args.runs} runs | torch imported |\n|---|---|---|")
        for name, argv in COMMANDS.items():
            argv = [a.format(**fill) for a in argv]
            times = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                subprocess.run([sys.executable, "-m", "cinemagraph3d", *argv], capture_output=True)
                times.append(time.perf_counter() - t0)
            probe = subprocess.run(
                [sys.executable, "-X", "importtime", "-m", "cinemagraph3d", *argv],
                capture_output=True,
                text=True,
            )
            torch = any(line.rstrip().endswith("| torch") for line in probe.stderr.splitlines())
            print(f"| `{name}` | {statistics.median(times):.2f} | {'yes' if torch else 'no'} |")


if __name__ == "__main__":
    main()
