"""Coverage-guided fuzzing of every parser with atheris (libFuzzer for Python).

Usage::

    .venv/bin/pip install atheris
    .venv/bin/python tests/fuzz/run_atheris.py --runs 100000            # every target
    .venv/bin/python tests/fuzz/run_atheris.py --runs 20000 labelme hints

Each target (see ``targets.py``) runs in its own process for ``--runs`` inputs, starting from a
small seed corpus of valid documents, with the cinemagraph3d modules instrumented for coverage.
A crash is any exception other than the project's typed errors; libFuzzer then stops and writes
the input as ``crash-*`` in ``--artifacts``. The summary table gives inputs tried, crashes and
seconds per target. Not part of the test suite (it takes minutes); the property-based tests in
``tests/test_fuzz_parsers.py`` run the same targets on every ``make test``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

SEEDS = {
    "labelme": [
        {"imageWidth": 32, "imageHeight": 24, "shapes": [
            {"label": "motion", "shape_type": "polygon", "points": [[1, 1], [30, 2], [20, 20]]},
            {"label": "hint", "shape_type": "line", "points": [[5, 5], [9, 6]]}]},
    ],
    "hints": [{"units": "pixels_per_frame", "hints": [{"x": 3, "y": 4, "dx": 1, "dy": -0.5}]}],
    "project": [{"version": 1, "image": "photo.png", "camera": "swing", "frames": 12, "arrows": [[1, 2, 3, 4]],
                 "regions": [{"sky": True, "prompts": ["drift left"]}]}],
    "project_fields": [[1, "circle", 0.02, [[1, 2]], {"sky": True}, None, True]],
    "trajectory": [
        {"K": [[32, 0, 16], [0, 32, 12], [0, 0, 1]], "cam_from_world": [
            [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]] * 3},
        {"keyframes": [{"position": [0, 0, 0]}, {"position": [0.1, 0, 0], "rotation_deg": [2, 0, 0]}]},
    ],
    "weights_manifest": [{"format_version": 1, "architecture": "image_decoder", "config": {"base_channels": 8}}],
    "cli_values": ["1,2,3,4", "flow left fast", "12.5,3", "swirl cw 2"],
}  # fmt: skip

RUNNER = r"""
import sys, atheris
sys.path.insert(0, {here!r})
with atheris.instrument_imports(include=["cinemagraph3d"]):
    import cinemagraph3d.cli, cinemagraph3d.project, cinemagraph3d.motion, cinemagraph3d.geometry
    import cinemagraph3d.depth, cinemagraph3d.weights, cinemagraph3d.controls
import targets
fn = targets.TARGETS[{name!r}]
atheris.Setup(sys.argv, fn)
atheris.Fuzz()
"""


def _seed_dir(name: str) -> Path:
    d = Path(tempfile.mkdtemp(prefix=f"c3d-seeds-{name}-"))
    for k, doc in enumerate(SEEDS.get(name, [])):
        data = doc.encode() if isinstance(doc, str) else json.dumps(doc).encode()
        (d / f"seed{k}").write_bytes(data)
    if name.startswith("depth"):
        import io

        import numpy as np

        f = io.BytesIO()
        np.save(f, np.linspace(1, 3, 24 * 32).reshape(24, 32).astype(np.float32))
        (d / "seed_npy").write_bytes(
            f.getvalue() if name == "depth_npy" else b"\x00\x10\x18" + bytes(range(64))
        )
    return d


def main() -> int:
    sys.path.insert(0, str(HERE))
    from targets import TARGETS

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("targets", nargs="*", default=sorted(TARGETS), help=f"default: all of {sorted(TARGETS)}")
    ap.add_argument("--runs", type=int, default=100_000, help="inputs per target (default 100000)")
    ap.add_argument("--max-len", type=int, default=2048, help="longest input in bytes (default 2048)")
    ap.add_argument("--artifacts", default="fuzz-artifacts", help="folder for crash inputs")
    ap.add_argument("--json", help="also write the summary as JSON")
    args = ap.parse_args()
    Path(args.artifacts).mkdir(exist_ok=True)
    rows = []
    for name in args.targets:
        seeds = _seed_dir(name)
        code = RUNNER.format(here=str(HERE), name=name)
        cmd = [sys.executable, "-c", code, f"-atheris_runs={args.runs}", f"-max_len={args.max_len}",
               f"-artifact_prefix={args.artifacts}/{name}-", "-print_final_stats=1", str(seeds)]  # fmt: skip
        t0 = time.time()
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
        secs = time.time() - t0
        log = proc.stdout + proc.stderr
        runs = 0
        for line in log.splitlines():
            m = re.match(r"(?:stat::number_of_executed_units:\s*(\d+))|(?:Done (\d+) (?:runs )?in)", line)
            if m:
                runs = int(m.group(1) or m.group(2))
        crashed = proc.returncode != 0
        rows.append({"target": name, "inputs": runs, "crashes": int(crashed), "seconds": round(secs, 1)})
        print(f"{name:18s} {runs:>9d} inputs  {int(crashed)} crashes  {secs:7.1f} s", flush=True)
        if crashed:
            print("\n".join(log.splitlines()[-40:]))
    total = sum(r["inputs"] for r in rows)
    crashes = sum(r["crashes"] for r in rows)
    print(f"{'total':18s} {total:>9d} inputs  {crashes} crashes")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "total": total, "crashes": crashes}, indent=2))
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
