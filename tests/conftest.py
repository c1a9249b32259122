import os
import warnings

import pytest
import torch

os.environ.setdefault("CINEMAGRAPH3D_BACKEND", "auto")
warnings.filterwarnings("ignore", message="cinemagraph3d native extension not built")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a.double() - b.double()) ** 2).mean())
    return float("inf") if mse == 0 else 10.0 * __import__("math").log10(1.0 / mse)


def run_cli_fresh(argv: list[str]) -> tuple[int, bool, str]:
    """``cinemagraph3d.cli.main(argv)`` in a fresh interpreter: (exit status, whether torch was
    imported by then, stderr) — for the checks that must answer before torch loads."""
    import subprocess
    import sys

    code = f"import sys; from cinemagraph3d.cli import main; rc = main({argv!r}); print(rc, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    fields = out.stdout.split()
    assert len(fields) == 2, (out.stdout, out.stderr)
    return int(fields[0]), fields[1] == "True", out.stderr
