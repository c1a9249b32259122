"""torchrun entry of the DDP test: stage-1 training on a dataset, then every rank saves its own
final generator and discriminator tensors to ``OUT/rank<R>.safetensors``.

Usage: torchrun --standalone --nproc_per_node 2 ddp_entry.py DATA RUN OUT STEPS GLOBAL_BATCH
"""

import os
import sys

import torch
from safetensors.torch import save_file

from cinemagraph3d.train.dataset import TrainData
from cinemagraph3d.train.motion import MotionTrainer
from cinemagraph3d.train.settings import MotionTrainSettings

torch.set_num_threads(1)


def main() -> None:
    data, run, out, steps, batch = sys.argv[1:6]
    settings = MotionTrainSettings(
        steps=int(steps), batch_size=int(batch), base_filters=2, spade_hidden=4, disc_channels=8,
        checkpoint_every=100, validate_every=100, lr_g=1e-3, device="cpu",
    )  # fmt: skip
    trainer = MotionTrainer(TrainData(data), settings, run, progress=False)
    trainer.fit()
    rank = int(os.environ.get("RANK", "0"))
    tensors = {f"G.{k}": v.contiguous() for k, v in trainer.nets.state_dict().items()}
    tensors.update({f"D.{k}": v.contiguous() for k, v in trainer.disc.state_dict().items()})
    save_file(tensors, os.path.join(out, f"rank{rank}.safetensors"))


if __name__ == "__main__":
    main()
