"""Output formats: WebM (VP9), HEVC tagged hvc1, quality and bit rate, loops repeated inside the
file, clean refusals."""

from __future__ import annotations

import subprocess

import imageio_ffmpeg
import numpy as np
import pytest
import torch

from cinemagraph3d.errors import InputError
from cinemagraph3d.io import VideoWriter, iter_frames


def _frames(n=4, h=36, w=64):
    y, x = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    return [torch.stack([x, y, (x * k / n + y) % 1.0]) for k in range(n)]


def _probe(path) -> str:
    exe = imageio_ffmpeg.get_ffmpeg_exe()
    return subprocess.run([exe, "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr


@pytest.mark.parametrize(
    "name, kw, codec",
    [
        ("v.webm", {}, "vp9"),
        ("v.webm", {"crf": 20, "bitrate": "400k"}, "vp9"),
        ("v.mp4", {"codec": "hevc"}, "hevc"),
        ("v.mov", {"codec": "hevc", "crf": 30}, "hevc"),
        ("v.mp4", {"crf": 18}, "h264"),
        ("v.mp4", {"bitrate": "2M"}, "h264"),
        ("v.webp", {"crf": 60}, "webp"),
    ],
)
def test_codecs_round_trip(tmp_path, name, kw, codec):
    frames = _frames()
    with VideoWriter(tmp_path / name, 10, **kw) as w:
        for f in frames:
            w.write(f)
    got = list(iter_frames(tmp_path / name))
    assert len(got) == 4
    ref = [(f.permute(1, 2, 0).numpy() * 255) for f in frames]
    assert np.mean([np.abs(g.astype(float) - r).mean() for g, r in zip(got, ref)]) < 12
    info = _probe(tmp_path / name)
    assert {"vp9": "Video: vp9", "hevc": "Video: hevc", "h264": "Video: h264", "webp": "webp"}[codec] in info
    if codec == "hevc":
        assert "hvc1" in info  # Apple players need the hvc1 tag, not hev1
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_quality_changes_the_size(tmp_path):
    sizes = {}
    for q in (10, 45):
        with VideoWriter(tmp_path / f"q{q}.mp4", 10, codec="hevc", crf=q) as w:
            for f in _frames(6, 72, 128):
                w.write(f + 0.05 * torch.rand_like(f))
        sizes[q] = (tmp_path / f"q{q}.mp4").stat().st_size
    assert sizes[10] > 1.5 * sizes[45]


@pytest.mark.parametrize("name", ["v.mp4", "v.gif", "frames"])
def test_loops_repeat_the_loop_exactly(tmp_path, name):
    frames = _frames(3)
    with VideoWriter(tmp_path / name, 10, loops=3) as w:
        for f in frames:
            w.write(f)
    got = [g.astype(float) for g in iter_frames(tmp_path / name)]
    assert len(got) == 9
    tol = 0.0 if name == "frames" else 3.0  # PNG frames are exact; the codecs within a few levels
    for k in range(3, 9):
        assert np.abs(got[k] - got[k % 3]).mean() <= tol, k
    assert np.abs(got[1] - got[0]).mean() > 3 * max(tol, 1.0)  # the frames do differ
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".") and p.name != name]


@pytest.mark.parametrize(
    "name, kw, word",
    [
        ("v.webm", {"codec": "h264"}, "output.codec"),
        ("v.mp4", {"codec": "vp9"}, "output.codec"),
        ("v.mp4", {"codec": "av1x"}, "output.codec"),
        ("v.mp4", {"crf": 70}, "output.quality"),
        ("v.webm", {"crf": -1}, "output.quality"),
        ("v.gif", {"crf": 5}, "output.quality"),
        ("v.gif", {"bitrate": "1M"}, "output.bitrate"),
        ("v.mp4", {"bitrate": "fast"}, "output.bitrate"),
        ("v.mp4", {"bitrate": "1"}, "output.bitrate"),
        ("v.mp4", {"loops": 0}, "output.loops"),
        ("v.mp4", {"loops": 1000}, "output.loops"),
        ("frames", {"codec": "h264"}, "output.codec"),
    ],
)
def test_bad_output_settings_are_refused_before_writing(tmp_path, name, kw, word):
    with pytest.raises(InputError, match=word):
        VideoWriter(tmp_path / name, 10, **kw)
    assert list(tmp_path.iterdir()) == []


def test_cli_output_settings(tmp_path, capsys):
    from cinemagraph3d.cli import main

    args = ["demo", "--size", "64x36", "--frames", "3"]
    assert main([*args, "-o", str(tmp_path / "d.webm")]) == 0
    assert "vp9" in _probe(tmp_path / "d.webm")
    import cv2

    cv2.imwrite(str(tmp_path / "p.png"), np.full((36, 64, 3), 100, np.uint8))
    capsys.readouterr()
    code = main(["animate", str(tmp_path / "p.png"), "-o", str(tmp_path / "x.gif"), "--quality", "5"])
    assert code == 2 and "--quality: expected no quality setting for gif" in capsys.readouterr().err
    assert not (tmp_path / "x.gif").exists()


def _textured(h, w, seed=0):
    import cv2

    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.uniform(0, 255, (h, w, 3)).astype(np.float32), (0, 0), 1.2)
    return np.clip((img - img.mean()) * 3 + 128, 0, 255).astype(np.uint8)


def test_stereo_disparity_matches_the_geometry(tmp_path):
    """Three fronto-parallel planes (z = 2, 3, 5): between the eyes each plane shifts by
    ``zoom · f · b · (1/z − 1/z_subject)`` pixels, measured by phase correlation."""
    import cv2

    from cinemagraph3d.api import prepare_project, project_frames, stereo_pair
    from cinemagraph3d.project import Project

    h, w = 96, 192
    cv2.imwrite(str(tmp_path / "photo.png"), _textured(h, w))
    depth = np.empty((h, w), np.float32)
    depth[:, : w // 3], depth[:, w // 3 : 2 * w // 3], depth[:, 2 * w // 3 :] = 2.0, 3.0, 5.0
    np.save(tmp_path / "depth.npy", depth)
    project = Project.from_flat(
        image=str(tmp_path / "photo.png"),
        depth=str(tmp_path / "depth.npy"),
        camera="static",
        frames=1,
        stereo="sbs",
        baseline=0.06,
    )
    prepared = prepare_project(project)
    frame = next(iter(project_frames(prepared)))
    assert tuple(frame.shape) == (3, h, 2 * w)
    left = frame[:, :, :w].mean(0).numpy().astype(np.float32)
    right = frame[:, :, w:].mean(0).numpy().astype(np.float32)
    scene = prepared.scene
    _, _, zoom = stereo_pair(scene, prepared.trajectory, 0.06)
    b, f = 0.06 * scene.z_near, scene.camera.fx
    win = np.outer(np.hanning(40), np.hanning(40)).astype(np.float32)
    for z, cx in ((2.0, w // 6), (3.0, w // 2), (5.0, 5 * w // 6)):
        # a patch near the plane's centre (the zoom keeps the image centre fixed)
        x0 = int(round(w / 2 + (cx - w / 2) * zoom)) - 20
        y0 = h // 2 - 20
        (dx, dy), _ = cv2.phaseCorrelate(
            left[y0 : y0 + 40, x0 : x0 + 40], right[y0 : y0 + 40, x0 : x0 + 40], win
        )
        expected = zoom * f * b * (1 / z - 1 / scene.z_subject)
        assert abs(-dx - expected) < 0.35, (z, -dx, expected)
        assert abs(dy) < 0.2


def test_stereo_packings(tmp_path):
    from cinemagraph3d.api import pack_stereo

    a, b = torch.rand(3, 4, 6), torch.rand(3, 4, 6)
    assert tuple(pack_stereo(a, b, "sbs").shape) == (3, 4, 12)
    assert tuple(pack_stereo(a, b, "tb").shape) == (3, 8, 6)
    ana = pack_stereo(a, b, "anaglyph")
    assert torch.equal(ana[0], a[0]) and torch.equal(ana[1:], b[1:])
    with pytest.raises(InputError):
        pack_stereo(a, b, "wiggle")


def test_depth_out_matches_the_depth_file(tmp_path, capsys):
    """Static camera, two planes: the 16-bit depth frames hold 65535·min(1, z_near/z) (z_near =
    2, the 5th percentile), and a grey video of the same is written on request."""
    import cv2

    from cinemagraph3d.cli import main

    h, w = 40, 64
    cv2.imwrite(str(tmp_path / "photo.png"), _textured(h, w))
    depth = np.full((h, w), 2.0, np.float32)
    depth[:, w // 2 :] = 4.0
    np.save(tmp_path / "depth.npy", depth)
    base = [
        "animate",
        str(tmp_path / "photo.png"),
        "--depth",
        str(tmp_path / "depth.npy"),
        "--camera",
        "static",
    ]
    base += ["--frames", "2", "--no-auto-sky"]
    assert main([*base, "-o", str(tmp_path / "v.mp4"), "--depth-out", str(tmp_path / "d")]) == 0, (
        capsys.readouterr()
    )
    d = cv2.imread(str(tmp_path / "d" / "0001.png"), cv2.IMREAD_UNCHANGED)
    assert d.dtype == np.uint16 and d.shape == (h, w)
    assert np.median(d[4:-4, 4 : w // 2 - 4]) == 65535
    assert abs(float(np.median(d[4:-4, w // 2 + 4 : -4])) - 65535 / 2) < 200
    assert main([*base, "-o", str(tmp_path / "v2.mp4"), "--depth-out", str(tmp_path / "d.mp4")]) == 0
    grey = list(iter_frames(tmp_path / "d.mp4"))
    assert len(grey) == 2 and abs(float(np.median(grey[0][10:30, 40:60])) - 128) < 6
    # refusals: the depth output is an input, or taken
    capsys.readouterr()
    assert main([*base, "-o", str(tmp_path / "v3.mp4"), "--depth-out", str(tmp_path / "d")]) == 2
    assert "--depth-out" in capsys.readouterr().err and not (tmp_path / "v3.mp4").exists()


def test_ply_with_colour_and_motion_round_trips(tmp_path, capsys):
    """animate --ply writes the scene's cloud without open3d: positions, colours and, for a
    uniform 'flow right 1' region, vx = 1 px/step · z / fx (fronto-parallel lifting), 0 elsewhere."""
    import cv2

    from cinemagraph3d.cli import main
    from cinemagraph3d.io import read_ply

    h, w = 40, 64
    cv2.imwrite(str(tmp_path / "photo.png"), _textured(h, w))
    np.save(tmp_path / "depth.npy", np.full((h, w), 3.0, np.float32))
    mask = np.zeros((h, w), np.uint8)
    mask[20:, :] = 255
    cv2.imwrite(str(tmp_path / "m.png"), mask)
    argv = ["animate", str(tmp_path / "photo.png"), "--depth", str(tmp_path / "depth.npy"), "--frames", "2"]
    argv += [
        "--camera",
        "static",
        "--mask",
        str(tmp_path / "m.png"),
        "--prompt",
        "flow right",
        "--magnitude",
        "1",
    ]
    argv += ["-o", str(tmp_path / "v.mp4"), "--ply", str(tmp_path / "c.ply")]
    assert main(argv) == 0, capsys.readouterr().err
    v = read_ply(tmp_path / "c.ply")
    assert {"x", "y", "z", "red", "green", "blue", "alpha", "layer", "vx", "vy", "vz"} <= set(v.dtype.names)
    assert len(v) >= h * w and np.allclose(v["z"][: h * w].mean(), 3.0, rtol=0.05)
    f = max(h, w)  # the default focal length
    inside = (v["y"] > 0.1) & (v["y"] < 0.9 * 3.0 * (h / 2) / f)  # well inside the moving half
    assert inside.sum() > 100
    assert np.allclose(np.median(v["vx"][inside]), 1.0 * 3.0 / f, rtol=0.1)
    top = v["y"] < -0.2 * 3.0 * (h / 2) / f
    assert np.abs(v["vx"][top]).max() == 0 and np.abs(v["vz"]).max() == 0
    assert v["red"].std() > 10  # the texture's colours


def _jpeg_segments(data: bytes):
    """``(marker, payload)`` of a JPEG's header segments up to SOS, parsed from the bytes."""
    assert data[:2] == b"\xff\xd8"
    pos, out = 2, []
    while data[pos] == 0xFF and data[pos + 1] != 0xDA:
        marker = data[pos + 1]
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        out.append((marker, data[pos + 4 : pos + 2 + length]))
        pos += 2 + length
    return out


def test_motion_photo_structure_follows_the_format(tmp_path):
    """Android Motion Photo 1.0, checked point by point from the bytes: a JPEG whose APP1 XMP
    says MotionPhoto=1 with a Container:Directory (Primary image/jpeg, then MotionPhoto
    video/mp4 whose Item:Length is the byte count of the MP4 appended after the JPEG's EOI);
    the MP4 plays the whole loop and the JPEG shows frame 0."""
    import xml.etree.ElementTree as ET

    import cv2

    frames = _frames(5, 36, 64)
    out = tmp_path / "loop.jpg"
    with VideoWriter(out, 10) as w:
        for f in frames:
            w.write(f)
    data = out.read_bytes()
    xmp = [
        p for m, p in _jpeg_segments(data) if m == 0xE1 and p.startswith(b"http://ns.adobe.com/xap/1.0/\x00")
    ]
    assert len(xmp) == 1
    packet = xmp[0].split(b"\x00", 1)[1].decode()
    root = ET.fromstring(
        packet[packet.index("<x:xmpmeta") : packet.index("</x:xmpmeta>") + len("</x:xmpmeta>")]
    )
    ns = {
        "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
        "GCamera": "http://ns.google.com/photos/1.0/camera/",
        "Container": "http://ns.google.com/photos/1.0/container/",
        "Item": "http://ns.google.com/photos/1.0/container/item/",
    }
    desc = root.find("rdf:RDF/rdf:Description", ns)
    assert desc.get(f"{{{ns['GCamera']}}}MotionPhoto") == "1"
    assert desc.get(f"{{{ns['GCamera']}}}MotionPhotoVersion") == "1"
    assert desc.get(f"{{{ns['GCamera']}}}MotionPhotoPresentationTimestampUs") == "0"
    items = desc.findall("Container:Directory/rdf:Seq/rdf:li/Container:Item", ns)
    attrs = [{k.split("}")[1]: v for k, v in it.attrib.items()} for it in items]
    assert [a["Semantic"] for a in attrs] == ["Primary", "MotionPhoto"]
    assert attrs[0]["Mime"] == "image/jpeg" and attrs[1]["Mime"] == "video/mp4"
    length = int(attrs[1]["Length"])
    video = data[-length:]
    assert video[4:8] == b"ftyp"  # an MP4 starts exactly Item:Length bytes before the end
    jpeg = data[:-length]
    assert jpeg.endswith(b"\xff\xd9")  # the primary image ends right before it
    assert int(desc.get(f"{{{ns['GCamera']}}}MicroVideoOffset")) == length
    (tmp_path / "v.mp4").write_bytes(video)
    assert len(list(iter_frames(tmp_path / "v.mp4"))) == 5
    still = cv2.cvtColor(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    assert np.abs(still.astype(float) - frames[0].permute(1, 2, 0).numpy() * 255).mean() < 6
    assert [p.name for p in tmp_path.iterdir()] == ["loop.jpg", "v.mp4"]


def _atoms(data: bytes, start: int = 0, end: int | None = None) -> dict:
    """Top-level atoms of ``data[start:end]`` by type (last one wins), as ``(start, end)`` of
    their payload — parsed here from the QuickTime layout (32-bit size + type)."""
    import struct

    end = len(data) if end is None else end
    out, pos = {}, start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        assert 8 <= size <= end - pos, (kind, size)
        out.setdefault(kind, []).append((pos + 8, pos + size))
        pos += size
    assert pos == end
    return out


def test_live_photo_pair_carries_one_identifier_and_a_still_time(tmp_path):
    """Apple Live Photo, checked from the bytes: the JPEG's EXIF maker note (Apple layout) holds
    tag 17 = the UUID; the MOV's movie-level meta (mdta handler) declares
    com.apple.quicktime.content.identifier with the same UUID; a timed-metadata track (handler
    'meta', sample entry 'mebx' declaring com.apple.quicktime.still-image-time, signed 8-bit)
    has one sample, −1, at time 0; the movie still plays every frame."""
    import struct

    import cv2

    frames = _frames(6, 36, 64)
    with VideoWriter(tmp_path / "live.mov", 10, live_photo=True) as w:
        for f in frames:
            w.write(f)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["live.jpg", "live.mov"]
    # --- the JPEG: APP1 Exif -> IFD0 -> ExifIFD -> MakerNote "Apple iOS" -> tag 0x0011
    jpg = (tmp_path / "live.jpg").read_bytes()
    exif = [p for m, p in _jpeg_segments(jpg) if m == 0xE1 and p.startswith(b"Exif\x00\x00")][0][6:]
    assert exif[:4] == b"MM\x00\x2a"

    def ifd(base: bytes, at: int) -> dict:
        n = struct.unpack(">H", base[at : at + 2])[0]
        entries = {}
        for k in range(n):
            tag, typ, count, value = struct.unpack(">HHII", base[at + 2 + 12 * k : at + 14 + 12 * k])
            entries[tag] = (typ, count, value)
        return entries

    ifd0 = ifd(exif, struct.unpack(">I", exif[4:8])[0])
    exif_ifd = ifd(exif, ifd0[0x8769][2])
    typ, count, at = exif_ifd[0x927C]
    note = exif[at : at + count]
    assert note[:10] == b"Apple iOS\x00" and struct.unpack(">H", note[10:12])[0] == 1 and note[12:14] == b"MM"
    typ, count, at = ifd(note, 14)[0x0011]
    assert typ == 2  # ASCII
    ident = note[at : at + count].rstrip(b"\x00").decode()
    assert len(ident) == 36 and ident.count("-") == 4
    still = cv2.cvtColor(cv2.imdecode(np.frombuffer(jpg, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    assert np.abs(still.astype(float) - frames[0].permute(1, 2, 0).numpy() * 255).mean() < 6
    # --- the MOV
    mov = (tmp_path / "live.mov").read_bytes()
    top = _atoms(mov)
    ((ms, me),) = top[b"moov"]
    moov = _atoms(mov, ms, me)
    ((s, e),) = moov[b"meta"]
    meta = _atoms(mov, s, e)
    hs, _ = meta[b"hdlr"][0]
    assert mov[hs + 8 : hs + 12] == b"mdta"
    ks, ke = meta[b"keys"][0]
    n = struct.unpack(">I", mov[ks + 4 : ks + 8])[0]
    size, ns = struct.unpack(">I4s", mov[ks + 8 : ks + 16])
    assert (
        n == 1 and ns == b"mdta" and mov[ks + 16 : ks + 8 + size] == b"com.apple.quicktime.content.identifier"
    )
    ls, le = meta[b"ilst"][0]
    item = _atoms(mov, ls, le)
    ((ds, de),) = item[struct.pack(">I", 1)]
    data = _atoms(mov, ds, de)[b"data"][0]
    assert struct.unpack(">I", mov[data[0] : data[0] + 4])[0] == 1  # UTF-8
    assert mov[data[0] + 8 : data[1]].decode() == ident
    tracks = moov[b"trak"]
    handlers = []
    for ts, te in tracks:
        trak = _atoms(mov, ts, te)
        mdia = _atoms(mov, *trak[b"mdia"][0])
        h0 = mdia[b"hdlr"][0][0]
        handlers.append(mov[h0 + 8 : h0 + 12])
        if mov[h0 + 8 : h0 + 12] != b"meta":
            continue
        stbl = _atoms(mov, *_atoms(mov, *mdia[b"minf"][0])[b"stbl"][0])
        ss, se = stbl[b"stsd"][0]
        mebx = _atoms(mov, ss + 8, se)[b"mebx"][0]
        keys = _atoms(mov, mebx[0] + 8, mebx[1])[b"keys"][0]
        key1 = _atoms(mov, *keys)[struct.pack(">I", 1)][0]
        decl = _atoms(mov, *key1)
        kd = decl[b"keyd"][0]
        assert mov[kd[0] : kd[0] + 4] == b"mdta"
        assert mov[kd[0] + 4 : kd[1]] == b"com.apple.quicktime.still-image-time"
        dt = decl[b"dtyp"][0]
        assert struct.unpack(">II", mov[dt[0] : dt[1]]) == (0, 65)  # well-known: signed int8
        co = stbl[b"stco"][0]
        offset = struct.unpack(">I", mov[co[0] + 8 : co[0] + 12])[0]
        sz = stbl[b"stsz"][0]
        assert struct.unpack(">III", mov[sz[0] + 4 : sz[0] + 16]) == (0, 1, 9)
        assert struct.unpack(">I4sb", mov[offset : offset + 9]) == (9, struct.pack(">I", 1), -1)
        stts = stbl[b"stts"][0]
        assert struct.unpack(">I", mov[stts[0] + 4 : stts[0] + 8])[0] == 1  # one sample from time 0
    assert b"vide" in handlers and b"meta" in handlers
    mvhd = moov[b"mvhd"][0]
    next_id = struct.unpack(">I", mov[mvhd[1] - 4 : mvhd[1]])[0]
    assert next_id == len(tracks) + 1
    assert len(list(iter_frames(tmp_path / "live.mov"))) == 6
    # the pair is deterministic: the same frames give the same files
    with VideoWriter(tmp_path / "again.mov", 10, live_photo=True) as w:
        for f in frames:
            w.write(f)
    assert (tmp_path / "again.mov").read_bytes() == mov


def test_live_photo_needs_a_mov(tmp_path):
    with pytest.raises(InputError, match="output.live_photo"):
        VideoWriter(tmp_path / "x.mp4", 10, live_photo=True)
    (tmp_path / "x.jpg").write_bytes(b"mine")
    with pytest.raises(InputError, match="key photo"):
        VideoWriter(tmp_path / "x.mov", 10, live_photo=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.jpg"]


def test_live_photo_and_motion_photo_read_by_exiftool(tmp_path):
    """An independent reader (ExifTool, Debian's libimage-exiftool-perl, installed by `make`)
    finds the Live Photo's content identifier in both files and the still-image time, and the
    Motion Photo's XMP flags."""
    import os
    import shutil

    exe = shutil.which("exiftool")
    if exe is None:
        if os.environ.get("CI"):
            raise AssertionError("exiftool missing under CI (make installs libimage-exiftool-perl)")
        pytest.skip("exiftool not installed")
    with VideoWriter(tmp_path / "live.mov", 10, live_photo=True) as w:
        for f in _frames(4):
            w.write(f)
    with VideoWriter(tmp_path / "motion.jpg", 10) as w:
        for f in _frames(4):
            w.write(f)

    def tags(path, *opts):
        out = subprocess.run([exe, "-a", "-G1", *opts, str(path)], capture_output=True, text=True).stdout
        pairs = [line.split(":", 1) for line in out.splitlines() if ":" in line]
        return {" ".join(k.split()): v.strip() for k, v in pairs}

    mov, jpg = tags(tmp_path / "live.mov", "-ee"), tags(tmp_path / "live.jpg")
    ident = mov["[Keys] Content Identifier"]
    assert jpg["[Apple] Media Group UUID"] == ident
    assert mov["[Track2] Still Image Time"] == "-1"
    mp = tags(tmp_path / "motion.jpg")
    assert mp["[XMP-GCamera] Motion Photo"] == "1"
    assert int(mp["[XMP-GCamera] Micro Video Offset"]) > 0


def test_stereo_refuses_eyes_that_cannot_be_framed(tmp_path):
    """A camera path far to the side of the photo: no zoom up to 2x keeps the border out of the
    two eyes, so the stereo pair is refused (one line in the CLI) instead of showing empty borders."""
    import cv2

    from cinemagraph3d.api import prepare_project, stereo_pair
    from cinemagraph3d.geometry import Trajectory
    from cinemagraph3d.project import Project

    cv2.imwrite(str(tmp_path / "photo.png"), _textured(40, 64))
    np.save(tmp_path / "depth.npy", np.full((40, 64), 2.0, np.float32))
    prepared = prepare_project(
        Project.from_flat(image=str(tmp_path / "photo.png"), depth=str(tmp_path / "depth.npy"), frames=2)
    )
    t = prepared.trajectory
    T = t.cam_from_world.clone()
    T[:, 0, 3] += 1.5 * prepared.scene.z_near
    with pytest.raises(InputError, match="stereo"):
        stereo_pair(prepared.scene, Trajectory(T, t.K, t.width, t.height), 0.2)


def test_to_uint8_rounds_like_the_formula_and_leaves_its_input_alone():
    """``to_uint8`` transposes before scaling (faster); its bytes are ``(clamp(x) · 255 + 0.5)``
    truncated, pixel for pixel, for a plain and a transposed-view input, float32 and float64."""
    from cinemagraph3d.io import to_uint8

    g = torch.Generator().manual_seed(0)
    for dtype in (torch.float32, torch.float64):
        x = torch.rand(3, 7, 11, generator=g, dtype=dtype) * 1.4 - 0.2
        x[0, 0, :4] = torch.tensor([0.0, 1.0, 0.5 / 255, 254.5 / 255], dtype=dtype)  # rounding edges
        views = (x, x.permute(1, 2, 0).contiguous().permute(2, 0, 1))  # the second: HWC memory
        for v in views:
            before = v.clone()
            got = to_uint8(v)
            want = ((v.clamp(0, 1) * 255.0 + 0.5).floor()).to(torch.uint8).permute(1, 2, 0).numpy()
            assert got.shape == (7, 11, 3) and got.dtype == np.uint8 and got.flags["C_CONTIGUOUS"]
            assert np.array_equal(got, want)
            assert torch.equal(v, before)
