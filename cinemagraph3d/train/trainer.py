"""The adversarial training loop shared by both stages.

One step of global batch ``step`` (``G`` = the trained networks, ``D`` = the discriminator,
``c`` = the stage's condition, ``x̂ = G(sample)``, ``x`` = the target)::

    D step:  L_D = Σ_s mean relu(1 − D_s(c, x)) + mean relu(1 + D_s(c, x̂.detach()))
    G step:  L_G = w_gan·(−Σ_s mean D_s(c, x̂)) + w_fm·L_FM(D(c, x), D(c, x̂)) + stage terms

each followed by gradient clipping (global norm ``grad_clip``) and an Adam step; both learning
rates stay constant until ``decay_start·steps`` and then decay linearly to 0. Under ``torchrun``
the generator step and the discriminator's own step run through
:class:`~torch.nn.parallel.DistributedDataParallel` (gradients averaged over ranks); the
generator step reads the discriminator's plain module with its parameters frozen.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from pathlib import Path

import torch
from torch import nn

from ..errors import Cinemagraph3DError, InputError
from .discriminator import MultiScaleDiscriminator
from .infra import (
    GlobalBatches,
    RunLog,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
    setup_distributed,
    write_json,
)
from .losses import d_hinge_loss, feature_matching_loss, g_hinge_loss
from .settings import TrainSettings, settings_dict

__all__ = ["GanTrainer", "TrainResult", "prepare_run_dir"]


class TrainResult(dict):
    """Summary of a finished run: ``{"run", "steps", "final_validation", "initial_validation",
    "weights"}``."""


def prepare_run_dir(run: Path, resume: bool, force: bool, settings_json: dict, inputs=()) -> int | None:
    """Create (or reopen with ``resume``) a run directory; returns the checkpoint step to resume
    from (``None`` for a new run).

    A new run needs a path that does not exist (or, with ``force``, a run directory this tool
    created, which is deleted first). ``resume`` needs an existing run directory whose
    ``settings.json`` equals the new settings except for ``steps`` (which may grow).
    """
    from ..checks import OUTPUT_MARK, check_output_path

    if resume:
        if not (run / OUTPUT_MARK).is_file() or not (run / "settings.json").is_file():
            raise InputError("resume", "an existing run directory of cinemagraph3d train", str(run))
        import json

        old = json.loads((run / "settings.json").read_text())
        a = {k: v for k, v in old.items() if k != "steps"}
        b = {k: v for k, v in settings_json.items() if k != "steps"}
        if a != b:
            diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            raise InputError(
                "resume", "the settings of the run being resumed (only steps may change)", f"changed {diff}"
            )
        ck = latest_checkpoint(run)
        return None if ck is None else int(ck.name.split("_")[1])
    check_output_path(run, name="output", kind="dir", force=force, inputs=inputs)
    if run.exists():
        import shutil

        shutil.rmtree(run)
    run.mkdir()
    (run / OUTPUT_MARK).touch()
    return None


class _Generate(nn.Module):
    """Wraps a stage's generator so the whole generator pass is one ``forward`` (what DDP hooks)."""

    def __init__(self, trainer: GanTrainer, nets: nn.Module) -> None:
        super().__init__()
        self.nets = nets
        self._trainer = [trainer]  # not a sub-module

    def forward(self, batch):
        return self._trainer[0].generate(self.nets, batch)


class GanTrainer:
    """Base class of the stage trainers. Subclasses define :meth:`build_generator`,
    :meth:`make_batch`, :meth:`generate`, :meth:`stage_losses`, :meth:`validate`,
    :meth:`export` and the attributes ``cond_channels``, ``out_channels``, ``loss_names``,
    ``val_names``.

    Args:
        data: a :class:`~cinemagraph3d.train.TrainData`.
        settings: the stage's settings dataclass.
        run: run directory.
        resume: continue from the newest checkpoint in ``run``.
        force: replace an existing run directory created by this tool.
        progress: show a progress bar (rank 0).
    """

    cond_channels: int
    out_channels: int
    loss_names: tuple[str, ...] = ()
    val_names: tuple[str, ...] = ()
    stage = "stage"

    def __init__(self, data, settings: TrainSettings, run, *, resume=False, force=False, progress=True):
        self.data, self.settings = data, settings
        self.run = Path(os.fspath(run))
        self.resume, self.force, self.progress = resume, force, progress

    # -- to override ---------------------------------------------------------------------
    def build_generator(self) -> nn.Module:
        raise NotImplementedError

    def make_batch(self, step: int, samples: list[tuple[int, int]]):
        raise NotImplementedError

    def generate(self, nets: nn.Module, batch):
        """``(fake, real, cond)``: the generator output, its target and the discriminator's
        condition, each ``(B, ·, H, W)``."""
        raise NotImplementedError

    def stage_losses(self, fake, real, batch) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def validate(self, nets: nn.Module) -> dict[str, float]:
        raise NotImplementedError

    def export(self, nets: nn.Module, out: Path, source: dict) -> list[Path]:
        raise NotImplementedError

    def inputs(self) -> list[Path]:
        """Directories the run reads (the run directory may be none of them)."""
        return [self.data.path]

    def settings_json(self) -> dict:
        return {"stage": self.stage, "data": str(self.data.path.resolve()), **settings_dict(self.settings)}

    # -- the loop ----------------------------------------------------------------------------
    def _autocast(self, device: torch.device):
        if device.type == "cuda" and self.settings.amp:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def fit(self, stop_at: int | None = None) -> TrainResult:
        """Train for ``settings.steps`` steps (or the rest of them with ``resume``) and write the
        weights, ``log.csv``, ``loss.png``, ``settings.json`` and checkpoints into the run.

        Args:
            stop_at: stop after this step (a checkpoint is written there and no weights are
                exported; ``resume`` continues the same run, schedule included).
        """
        from tqdm import tqdm

        s = self.settings
        dist = setup_distributed(s.device)
        self.dist = dist
        try:
            if dist.main:
                prepare_run_dir(self.run, self.resume, self.force, self.settings_json(), self.inputs())
                write_json(self.run / "settings.json", self.settings_json())
            dist.barrier()
            torch.manual_seed(s.seed)  # identical initial weights on every rank
            nets = self.build_generator().to(dist.device).train()
            disc = MultiScaleDiscriminator(
                self.cond_channels + self.out_channels, s.disc_channels, s.disc_layers, s.disc_scales
            ).to(dist.device)
            torch.manual_seed(s.seed + dist.rank)  # per-rank stream (the samples use their own seeds)
            params_g = [p for p in nets.parameters() if p.requires_grad]
            opt_g = torch.optim.Adam(params_g, lr=s.lr_g, betas=s.betas)
            opt_d = torch.optim.Adam(disc.parameters(), lr=s.lr_d, betas=s.betas)
            decay0 = int(s.decay_start * s.steps)

            def factor(k: int) -> float:
                return 1.0 if k < decay0 else max(0.0, 1.0 - (k - decay0) / max(1, s.steps - decay0))

            sch_g = torch.optim.lr_scheduler.LambdaLR(opt_g, factor)
            sch_d = torch.optim.lr_scheduler.LambdaLR(opt_d, factor)
            modules = {"G": nets, "D": disc}
            optims, scheds = {"G": opt_g, "D": opt_d}, {"G": sch_g, "D": sch_d}
            if self.resume:
                # every rank reads the same checkpoint
                from .infra import latest_checkpoint as _latest

                ck = _latest(self.run)
                start = 0 if ck is None else load_checkpoint(ck, modules, optims, scheds, dist.device)
            else:
                start = 0
            self.nets, self.disc = nets, disc
            gen = _Generate(self, nets)
            gen_step, disc_step = gen, disc
            if dist.world > 1:
                from torch.nn.parallel import DistributedDataParallel as DDP

                ids = [dist.device.index] if dist.device.type == "cuda" else None
                gen_step = DDP(gen, device_ids=ids)
                disc_step = DDP(disc, device_ids=ids)
            batches = GlobalBatches(len(self.data.train), s.batch_size, s.seed, dist.world, dist.rank)
            log = RunLog(self.run, ["lr_g", "loss_d", "loss_g", "gan", "fm", *self.loss_names, *self.val_names],
                         resume_step=start if self.resume and start > 0 else None) if dist.main else None  # fmt: skip
            initial = None
            if dist.main and start == 0:
                initial = self._validate(nets)
                log.write(0, initial)
            dist.barrier()
            bar = tqdm(total=s.steps, initial=start, desc=f"train {self.stage}", unit="step",
                       disable=not (self.progress and dist.main))  # fmt: skip
            last_val = initial
            t0 = time.perf_counter()
            end = s.steps if stop_at is None else max(start, min(int(stop_at), s.steps))
            for step in range(start, end):
                lr_g = opt_g.param_groups[0]["lr"]  # the rate this step uses
                values = self._step(step, batches, gen_step, disc, disc_step, opt_g, opt_d, params_g, dist)
                sch_g.step()
                sch_d.step()
                done = step + 1
                row = {"lr_g": lr_g, **values}
                if done % s.validate_every == 0 or done == s.steps:
                    if dist.main:
                        last_val = self._validate(nets)
                        row.update(last_val)
                    dist.barrier()
                if dist.main:
                    log.write(done, row)
                    bar.set_postfix({k: f"{v:.3g}" for k, v in values.items() if k in ("loss_g", "loss_d")})
                bar.update(1)
                if done % s.checkpoint_every == 0 or done in (s.steps, end):
                    if dist.main:
                        save_checkpoint(self.run, done, modules, optims, scheds, s.keep_checkpoints)
                        log.plot()
                    dist.barrier()
            bar.close()
            weights = []
            if dist.main and end < s.steps:
                log.close()
            elif dist.main:
                log.close()
                src = {"trained_with": f"cinemagraph3d train {self.stage}", "steps": s.steps,
                       "data": str(self.data.path), "seconds": round(time.perf_counter() - t0, 1)}  # fmt: skip
                weights = self.export(nets, self.run, src)
            dist.barrier()
            return TrainResult(run=self.run, steps=end, final_validation=last_val,
                               initial_validation=initial, weights=weights)  # fmt: skip
        finally:
            dist.close()

    def _validate(self, nets: nn.Module) -> dict[str, float]:
        if not self.data.val:
            return {}
        nets.eval()
        try:
            with torch.no_grad(), self._autocast(self.dist.device):
                return self.validate(nets)
        finally:
            nets.train()

    def _clip(self, params) -> None:
        if self.settings.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, self.settings.grad_clip)

    def _step(
        self, step, batches, gen_step, disc, disc_step, opt_g, opt_d, params_g, dist
    ) -> dict[str, float]:
        s = self.settings
        batch = self.make_batch(step, batches.local(step))
        with self._autocast(dist.device):
            fake, real, cond = gen_step(batch)

        def d_input(x):
            return x if cond is None else torch.cat([cond, x], 1)

        b = fake.shape[0]
        # discriminator
        for p in disc.parameters():
            p.requires_grad_(True)
        with self._autocast(dist.device):
            out = disc_step(torch.cat([d_input(fake.detach()), d_input(real)]))
            loss_d = d_hinge_loss(
                [[m[b:] for m in o] for o in out], [[m[:b] for m in o] for o in out]
            ).float()
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self._clip(disc.parameters())
        opt_d.step()
        # generator
        for p in disc.parameters():
            p.requires_grad_(False)
        with self._autocast(dist.device):
            out = disc(torch.cat([d_input(fake), d_input(real)]))
            real_maps = [[m[b:] for m in o] for o in out]
            fake_maps = [[m[:b] for m in o] for o in out]
            gan = g_hinge_loss(fake_maps).float()
            fm = feature_matching_loss(real_maps, fake_maps).float()
            terms = {k: v.float() for k, v in self.stage_losses(fake, real, batch).items()}
        loss_g = s.w_gan * gan + s.w_fm * fm + sum(terms.values())
        if not math.isfinite(float(loss_g.detach())):
            raise Cinemagraph3DError(
                f"{self.stage} training diverged at step {step} (loss {float(loss_g.detach())})"
            )
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self._clip(params_g)
        opt_g.step()
        values = {
            "loss_d": float(loss_d.detach()),
            "loss_g": float(loss_g.detach()),
            "gan": float(gan.detach()),
            "fm": float(fm.detach()),
        }
        values.update({k: float(v.detach()) for k, v in terms.items()})
        if dist.world > 1:  # log the mean over ranks
            t = torch.tensor(list(values.values()), dtype=torch.float64, device=dist.device)
            torch.distributed.all_reduce(t)
            values = dict(zip(values, (t / dist.world).tolist()))
        return values
