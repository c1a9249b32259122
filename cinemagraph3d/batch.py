"""Batch rendering: many photos or projects in one command, in this process or on a Ray cluster,
resumable, one failure never stopping the others, nothing partial ever written.

Pieces:

- :func:`discover_jobs` turns inputs (photos, labelme-annotated photos, project files, folders of
  them) and shared settings into :class:`Job` objects with stable, collision-free output names.
- :func:`render_job` renders one job in a private temporary folder and returns the encoded
  output as bytes (plus its one-line error when it failed): the unit of work of both engines, so
  workers need no shared filesystem.
- :func:`run_batch` runs the jobs not finished yet (``engine="local"``: one after the other in
  this process, the neural networks loaded once; ``engine="ray"``: one Ray task per job with
  declared resources and retries), writes each returned output atomically into the output
  folder and appends a record to its manifest (``manifest.jsonl``).

A job is *finished* when the manifest's last record for its output name says ``done`` with the
same fingerprint (SHA-256 over the bytes of every input file of the job, its settings and the
cinemagraph3d version) and the output file is there; rerunning the same command renders only
changed, new and failed jobs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import Cinemagraph3DError, InputError

__all__ = [
    "Job",
    "JobResult",
    "BatchSummary",
    "PHOTO_SUFFIXES",
    "BATCH_FORMATS",
    "discover_jobs",
    "fingerprint",
    "render_job",
    "run_batch",
    "read_manifest",
    "check_batch_output",
]

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff")
BATCH_FORMATS = ("mp4", "gif", "webp")
MANIFEST = "manifest.jsonl"
#: Environment switch for fault-injection tests: when set to a path that does not exist yet, the
#: first worker to start a job creates it and dies (``os._exit``), as a crashed machine would.
KILL_SWITCH = "CINEMAGRAPH3D_BATCH_KILL_ONCE"


@dataclass(frozen=True)
class Job:
    """One output of a batch.

    Attributes:
        name: output file name inside the output folder (e.g. ``a__lake.circle.mp4``); also the
            job's key in the manifest.
        source: the input path as found (photo or project file).
        kind: ``"photo"``, ``"labelme"`` (a photo with a labelme ``.json`` beside it) or
            ``"project"``.
        project: the job's :class:`~cinemagraph3d.project.Project` as a JSON-ready dict with
            absolute paths.
        auto_sky: animate the detected sky when the project has no motion input (as ``animate``).
    """

    name: str
    source: str
    kind: str
    project: dict
    auto_sky: bool = True


@dataclass
class JobResult:
    """What a worker returns: ``data`` is the encoded output (None when it failed)."""

    name: str
    ok: bool
    seconds: float
    error: str | None = None
    note: str | None = None
    data: bytes | None = None


@dataclass
class BatchSummary:
    """Counts and per-job records of one :func:`run_batch` call."""

    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    def table(self) -> str:
        """A small text table: done / skipped / failed, total time, throughput."""
        n = len(self.done)
        rate = n / self.seconds * 60 if self.seconds > 0 and n else 0.0
        rows = [
            ("done", str(n)),
            ("skipped (finished before)", str(len(self.skipped))),
            ("failed", str(len(self.failed))),
            ("total time", f"{self.seconds:.1f} s"),
            ("throughput", f"{rate:.1f} jobs/min"),
        ]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def _is_labelme(path: Path) -> bool:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(data, dict) and isinstance(data.get("shapes"), list)


def _is_project(path: Path) -> bool:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(data, dict) and "version" in data and "image" in data


def _collect(inputs: Iterable[str | os.PathLike]) -> list[tuple[Path, str]]:
    """``(path, kind)`` of every job source, in a stable order."""
    found: list[tuple[Path, str]] = []
    for given in inputs:
        p = Path(given)
        if not os.path.lexists(p):
            raise InputError(
                "batch input", "an existing photo, project file or folder", f"no such path {str(p)!r}"
            )
        files = sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]
        for f in files:
            if p.is_dir() and any(part.startswith(".") for part in f.relative_to(p).parts):
                continue  # hidden files and folders (our own temporaries among them)
            suffix = f.suffix.lower()
            if suffix in PHOTO_SUFFIXES:
                side = f.with_suffix(".json")
                found.append((f, "labelme" if side.is_file() and _is_labelme(side) else "photo"))
            elif suffix == ".json":
                if _is_project(f):
                    found.append((f, "project"))
                elif p.is_dir() or _is_labelme(f):
                    continue  # a labelme sidecar (used by its photo) or some other JSON in a folder
                else:
                    raise InputError("batch input", "a project .json (with version and image)", str(f))
            elif not p.is_dir():
                raise InputError(
                    "batch input",
                    f"a photo ({'/'.join(PHOTO_SUFFIXES)}), a project .json or a folder",
                    str(f),
                )
    seen, out = set(), []
    for f, kind in found:
        key = os.path.realpath(f)
        if key not in seen:
            seen.add(key)
            out.append((f, kind))
    if not out:
        raise InputError("batch inputs", "at least one photo or project file", "none found")
    return out


def _stem_names(paths: list[Path]) -> list[str]:
    """Stable output stems from input paths: the path below the inputs' common folder with
    ``/`` written as ``__`` and the suffix dropped (``a/x.jpg`` → ``a__x``); where two inputs
    would share a stem (``x.jpg`` beside ``x.png``) their suffixes are kept (``x.jpg``)."""
    absolute = [Path(os.path.abspath(p)) for p in paths]
    root = Path(os.path.commonpath([str(p.parent) for p in absolute]))
    rel = [p.relative_to(root) for p in absolute]

    def clean(text: str) -> str:
        return re.sub(r"[^A-Za-z0-9._-]+", "_", text)

    stems = ["__".join(clean(x) for x in r.with_suffix("").parts) for r in rel]
    counts: dict[str, int] = {}
    for s in stems:
        counts[s] = counts.get(s, 0) + 1
    return ["__".join(clean(x) for x in r.parts) if counts[s] > 1 else s for s, r in zip(stems, rel)]


def discover_jobs(
    inputs: Iterable[str | os.PathLike],
    settings: dict | None = None,
    cameras: list[str] | None = None,
    fmt: str = "mp4",
    auto_sky: bool = True,
) -> list[Job]:
    """The jobs of a batch.

    Args:
        inputs: photos, project files, photos with a labelme ``.json`` beside them, or folders
            of them (searched recursively; hidden entries skipped; a ``.json`` in a folder that is
            neither a project nor a labelme sidecar is ignored).
        settings: :class:`~cinemagraph3d.project.Project` fields shared by every photo job
            (``camera``, ``frames``, ``fps``, ``max_side``, ``preset``, ``weights``, ...). Project
            files keep their own settings.
        cameras: one output per camera path (also for project files); None: the settings' (or
            project's) camera only, and no camera in the output name.
        fmt: output format, one of :data:`BATCH_FORMATS`.
        auto_sky: animate the detected sky of photos without any motion input (as ``animate``).

    Returns:
        The jobs in a stable order, with distinct output names.

    Raises:
        InputError: a missing input, an unknown file type, bad settings (field named), an
            unknown camera or format.
    """
    from .project import V1_FIELDS, Project, load_project, nest_flat

    if fmt not in BATCH_FORMATS:
        raise InputError("format", f"one of {', '.join(BATCH_FORMATS)}", repr(fmt))
    settings = dict(settings or {})
    bad = sorted(set(settings) - set(V1_FIELDS) | ({"image"} & set(settings)))
    if bad:
        raise InputError(
            "batch settings", "project fields (the option names) other than image", f"keys {bad}"
        )
    Project.from_dict({**nest_flat(settings, "batch settings"), "image": "x"}, where="batch settings")
    for cam in cameras or []:
        Project(image="x", camera={"path": cam}).validate()
    sources = _collect(inputs)
    stems = _stem_names([p for p, _ in sources])
    jobs = []
    for (path, kind), stem in zip(sources, stems):
        if kind == "project":
            base = load_project(path)
        else:
            extra = {"labelme": str(path.with_suffix(".json"))} if kind == "labelme" else {}
            base = (
                Project.from_flat(**{**settings, **extra, "image": str(path)}).resolved(Path.cwd()).validate()
            )
        for cam in cameras or [None]:
            p = base if cam is None else base.replace(camera={"path": cam}).validate()
            name = f"{stem}.{cam}.{fmt}" if cam is not None else f"{stem}.{fmt}"
            jobs.append(Job(name, str(path), kind, p.to_dict(), auto_sky))
    names = [j.name for j in jobs]
    assert len(set(names)) == len(names), names
    return jobs


def _file_digest(path: str, cache: dict) -> str:
    if path in cache:
        return cache[path]
    p = Path(path)
    h = hashlib.sha256()
    if p.is_dir():
        for f in sorted(q for q in p.rglob("*") if q.is_file()):
            h.update(str(f.relative_to(p)).encode() + b"\0")
            h.update(f.read_bytes())
    elif p.is_file():
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    else:
        h.update(b"missing")
    cache[path] = h.hexdigest()
    return cache[path]


def fingerprint(job: Job, cache: dict | None = None) -> str:
    """SHA-256 over the job's settings, the bytes of every input file it reads and the
    cinemagraph3d version: equal fingerprints render equal outputs."""
    from . import __version__
    from .project import Project

    cache = {} if cache is None else cache
    project = Project.from_dict(job.project)
    files = {p: _file_digest(p, cache) for p in sorted(set(project.paths()))}
    doc = {"version": __version__, "project": job.project, "files": files, "auto_sky": job.auto_sky}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


_NEURAL_CACHE: dict = {}


def _neural(weights: str):
    """The neural preset's :class:`~cinemagraph3d.models.Models` of ``weights``, loaded once per process."""
    from .models.bundle import load_models

    key = os.path.realpath(weights)
    if key not in _NEURAL_CACHE:
        _NEURAL_CACHE[key] = load_models(weights)
    return _NEURAL_CACHE[key]


def render_job(job: Job, device: str = "cpu") -> JobResult:
    """Render one job in a private temporary folder; the encoded output comes back as bytes.

    ``device``: where its frames are rendered (``animate``'s ``device``: ``cpu``, ``cuda``,
    ``cuda:N``, ``auto``). Every failure of the job (a bad photo, an unreadable mask, a full
    disk, no such GPU on the worker) is caught and returned as a one-line ``error``; the temporary
    folder is removed in every case.
    """
    from .api import animate, with_auto_sky
    from .project import Project

    switch = os.environ.get(KILL_SWITCH)
    if switch and not os.path.exists(switch):
        Path(switch).write_text("killed once\n")
        os._exit(17)  # a worker dying mid-job, for the fault-injection test
    t0 = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="c3d-batch-"))
    note = None
    try:
        project = Project.from_dict(job.project).validate()
        if job.auto_sky:
            project, note = with_auto_sky(project)
        models = _neural(project.render.weights) if project.render.preset == "neural" else None
        out = animate(project, tmp / job.name, models=models, device=device)
        data = out.read_bytes()
        return JobResult(job.name, True, time.perf_counter() - t0, note=note, data=data)
    except Cinemagraph3DError as exc:
        return JobResult(job.name, False, time.perf_counter() - t0, error=" ".join(str(exc).split()))
    except (OSError, MemoryError, RuntimeError, ValueError) as exc:
        msg = " ".join(str(exc).split()) or type(exc).__name__
        return JobResult(job.name, False, time.perf_counter() - t0, error=f"{type(exc).__name__}: {msg}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def read_manifest(outdir: str | os.PathLike) -> dict[str, dict]:
    """The last record of every job in ``outdir/manifest.jsonl`` (by output name)."""
    path = Path(outdir) / MANIFEST
    records: dict[str, dict] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # a line cut by a crash: ignored, the job is redone
            if isinstance(rec, dict) and isinstance(rec.get("name"), str):
                records[rec["name"]] = rec
    return records


def _write_output(outdir: Path, name: str, data: bytes) -> None:
    final = outdir / name
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=outdir)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _ray_results(todo: list[Job], address: str, cpus: float, gpus: float, retries: int, device: str = "cpu"):
    """Yield :class:`JobResult` of ``todo`` as Ray tasks finish (in completion order)."""
    try:
        import ray
    except ImportError:
        from .errors import BackendError

        raise BackendError(
            "engine 'ray' needs the optional Ray extra: pip install 'cinemagraph3d[batch]'"
        ) from None
    started = False
    if not ray.is_initialized():
        env = {k: os.environ[k] for k in (KILL_SWITCH,) if k in os.environ}
        runtime_env = {"env_vars": env} if env else None
        if address == "local":
            ray.init(
                num_cpus=max(1, int(os.cpu_count() or 1)),
                include_dashboard=False,
                log_to_driver=False,
                runtime_env=runtime_env,
                configure_logging=False,
            )
        else:
            ray.init(address=address, log_to_driver=False, runtime_env=runtime_env, configure_logging=False)
        started = True
    try:
        task = ray.remote(num_cpus=cpus, num_gpus=gpus, max_retries=retries)(render_job)
        pending = {task.remote(job, device): job for job in todo}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            ref = ready[0]
            job = pending.pop(ref)
            try:
                yield ray.get(ref)
            except Exception as exc:  # noqa: BLE001 - the task died more often than its retries
                msg = " ".join(str(exc).split())[:300]
                yield JobResult(job.name, False, 0.0, error=f"worker failed after {retries} retries: {msg}")
    finally:
        if started:
            ray.shutdown()


def check_batch_output(outdir: str | os.PathLike, *, name: str = "outdir") -> Path:
    """The output folder of a batch: a new path (the rule of
    :func:`~cinemagraph3d.checks.check_output_path`), or a folder a batch created before (it
    holds the cinemagraph3d marker), which is resumed. Nothing is created here; ``name`` is what
    the folder is called in error messages."""
    from .checks import OUTPUT_MARK, check_output_path

    out = Path(outdir)
    if out.is_dir() and not out.is_symlink() and (out / OUTPUT_MARK).is_file():
        return out
    if out.is_dir():
        raise InputError(
            name,
            "a new folder, or one an earlier batch created (to resume it)",
            f"{str(out)!r} was not created by cinemagraph3d",
        )
    return check_output_path(out, name=name, kind="dir")


def run_batch(
    jobs: list[Job],
    outdir: str | os.PathLike,
    *,
    engine: str = "local",
    ray_address: str = "local",
    cpus_per_job: float = 1.0,
    gpus_per_job: float = 0.0,
    retries: int = 3,
    progress: Callable[[str, str], None] | None = None,
    device: str = "cpu",
) -> BatchSummary:
    """Render the unfinished ``jobs`` into ``outdir`` (created, and marked as cinemagraph3d's).

    Args:
        jobs: from :func:`discover_jobs`.
        outdir: output folder: new, or one this tool created for a batch (resumed).
        engine: ``"local"`` (in this process, one job after the other) or ``"ray"``.
        ray_address: ``"local"`` (start a Ray instance here), ``"auto"`` (the running cluster)
            or a cluster address.
        cpus_per_job, gpus_per_job: resources each Ray task declares.
        retries: Ray task retries when a worker dies.
        device: where each job's frames are rendered (``cpu``, ``cuda``, ``cuda:N``, ``auto``;
            see :mod:`cinemagraph3d.devices`). With the local engine a GPU this process does not
            see is refused before any job; Ray workers resolve it where they run (give the
            tasks GPUs with ``gpus_per_job``). Not part of a job's fingerprint: a finished job is
            not rendered again on another device.
        progress: called with ``(name, status)`` as each job ends (status ``done``,
            ``skipped``, ``failed``).

    Returns:
        A :class:`BatchSummary` (``ok`` is False when a job failed).
    """
    from .checks import OUTPUT_MARK
    from .devices import parse_device, resolve_device

    device = parse_device(device)
    if engine == "local":
        resolve_device(device)
    out = check_batch_output(outdir)
    if not out.is_dir():
        out.mkdir()
        (out / OUTPUT_MARK).touch()
    t0 = time.perf_counter()
    records = read_manifest(out)
    cache: dict = {}
    summary = BatchSummary()
    todo, prints = [], {}
    for job in jobs:
        fp = fingerprint(job, cache)
        prints[job.name] = fp
        rec = records.get(job.name)
        if (
            rec
            and rec.get("status") == "done"
            and rec.get("fingerprint") == fp
            and (out / job.name).is_file()
        ):
            summary.skipped.append(job.name)
            if progress:
                progress(job.name, "skipped")
        else:
            todo.append(job)
    if engine == "local":
        results: Iterable[JobResult] = (render_job(job, device) for job in todo)
    elif engine == "ray":
        results = (
            _ray_results(todo, ray_address, cpus_per_job, gpus_per_job, retries, device) if todo else iter(())
        )
    else:
        raise InputError("engine", "'local' or 'ray'", repr(engine))
    by_name = {j.name: j for j in jobs}
    with open(out / MANIFEST, "a", encoding="utf-8") as manifest:
        for res in results:
            job = by_name[res.name]
            if res.ok and res.data is not None:
                _write_output(out, job.name, res.data)
                summary.done.append(job.name)
            else:
                summary.failed[job.name] = res.error or "failed"
            rec = {
                "name": job.name,
                "source": job.source,
                "status": "done" if res.ok else "failed",
                "fingerprint": prints[job.name],
                "seconds": round(res.seconds, 3),
                "error": res.error,
                "note": res.note,
                "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            }
            manifest.write(json.dumps(rec) + "\n")
            manifest.flush()
            if progress:
                progress(job.name, rec["status"])
    summary.seconds = time.perf_counter() - t0
    return summary
