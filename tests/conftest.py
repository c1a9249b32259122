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
