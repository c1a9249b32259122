"""The gradio page of the editor (``cinemagraph3d edit``; needs the ``[editor]`` extra).

Layout: the photo canvas with its tools (brush, eraser, arrows, anchors, freeze brush,
click-to-mask, sky suggestion) and the region list on the left; the live preview, the scene
panel (depth), the camera panel and the render panel on the right. Every handler edits an
:class:`~cinemagraph3d.editor.state.EditorState` through the pure functions of
:mod:`.state` / :mod:`.session` and shows a user error as one line in the page.
"""

from __future__ import annotations

import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # set before gradio is imported: no phoning home

import functools  # noqa: E402
import logging  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import zipfile  # noqa: E402
from pathlib import Path  # noqa: E402

import gradio as gr  # noqa: E402  (at module level: handlers' EventData hints resolve here)

from ..errors import Cinemagraph3DError, InputError  # noqa: E402
from .canvas import CANVAS_CSS, CANVAS_HTML, CANVAS_JS, canvas_value  # noqa: E402
from .session import (  # noqa: E402
    MAX_UPLOAD_BYTES,
    OUTPUT_FORMATS,
    PreviewCache,
    Workspace,
    apply_canvas_event,
    check_upload,
    depth_picture,
    overlay_picture,
    render,
    suggest_sky,
)
from .state import EditorState, RegionState  # noqa: E402

__all__ = ["build_app", "launch"]

log = logging.getLogger("cinemagraph3d")

TOOLS = [
    ("Brush", "paint"),
    ("Eraser", "erase"),
    ("Arrow (drag)", "arrow"),
    ("Anchor (click)", "anchor"),
    ("Freeze brush", "freeze"),
    ("Unfreeze", "unfreeze"),
    ("Click-to-mask", "click"),
    ("Click-to-unmask", "unclick"),
]
MAGNITUDES = ["(prompt's)", "slow", "medium", "fast"]
STEREO = ["none", "sbs", "tb", "anaglyph"]
KEYFRAME_HEADERS = ["x", "y", "z", "yaw", "pitch", "roll"]

_PAGE_CSS = """
#c3-status p { margin: 0; }
.c3-error { color: #c0392b; font-weight: 600; }
footer { display: none !important; }
"""


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def build_app(
    workspace: Workspace,
    state: EditorState | None = None,
    *,
    preview_cache: PreviewCache | None = None,
    sam_checkpoint: str | None = None,
):
    """The gradio ``Blocks`` of the editor.

    Args:
        workspace: the working folder (saves, renders, uploads).
        state: the state to start from (None: upload a photo first).
        preview_cache: the preview's scene cache (a new one when None).
        sam_checkpoint: a Segment Anything checkpoint for click-to-mask (default GrabCut).

    Returns:
        ``(blocks, temp_dir)``; ``temp_dir`` holds the previews and download bundles (delete it
        when the server stops).
    """
    from ..depth import DepthSettings, resolve_auto_depth
    from ..limits import AMPLITUDE_MAX, CAMERA_PATHS

    cache = preview_cache or PreviewCache()
    tmp = Path(tempfile.mkdtemp(prefix="cinemagraph3d-edit-"))
    learned = resolve_auto_depth(DepthSettings("auto")).backend != "heuristic"
    depth_choices = ["heuristic", "file"] + (["learned"] if learned else [])

    def status(text: str, error: bool = False) -> str:
        return f'<span class="c3-error">error: {text}</span>' if error else text

    def guarded(n_out: int, status_index: int):
        """Run a handler; a user error leaves every output unchanged but the status line."""

        def wrap(fn):
            @functools.wraps(fn)
            def inner(*args, **kwargs):
                try:
                    return fn(*args, **kwargs)
                except (Cinemagraph3DError, OSError, ValueError) as exc:
                    log.info("editor: %s", _one_line(exc))
                    out = [gr.update() for _ in range(n_out)]
                    out[status_index] = status(_one_line(exc), error=True)
                    return tuple(out)

            return inner

        return wrap

    def region_choices(st):
        return [] if st is None else [(f"{k + 1}. {r.name}", k) for k, r in enumerate(st.regions)]

    def view(st, sel, show_field=False):
        """Canvas value and region widgets of a state."""
        if st is None:
            return canvas_value(None, 0, 0), gr.update(choices=[], value=None), 1.0, "", MAGNITUDES[0]
        sel = (
            sel
            if sel is not None and 0 <= sel < len(st.regions)
            else (len(st.regions) - 1 if st.regions else None)
        )
        field = None
        if show_field not in (None, False, "off") and (st.regions or st.arrows):
            field = _field(st)
        pic = overlay_picture(st, sel, field, mode="wheel" if show_field == "colour wheel" else "arrows")
        r = st.regions[sel] if sel is not None else None
        mag = MAGNITUDES[0] if r is None or r.magnitude is None else str(r.magnitude)
        return (
            canvas_value(pic, st.width, st.height),
            gr.update(choices=region_choices(st), value=sel),
            1.0 if r is None else r.speed,
            "" if r is None else r.prompt,
            mag,
        )

    def _field(st):
        """The project's dense field, computed at the preview size and expressed in pixels per
        motion step of the render's working size (what the legend reports)."""
        import dataclasses

        from ..checks import working_size
        from ..motion import build_motion_field, coordinate_scale

        project = _project(st)
        image, _ = cache.scene(cache.preview_project(project))
        _, h, w = image.shape
        field = build_motion_field(project.motion, image, coordinate_scale((st.width, st.height), h, w))
        if field is None:
            return None
        work_w, _ = working_size((st.width, st.height), project.max_side)
        return dataclasses.replace(field, flow=field.flow * (work_w / w))

    def _project(st):
        from ..project import load_project

        if st is None:
            raise InputError("photo", "an uploaded photo", "none")
        return load_project(workspace.save(st))

    with gr.Blocks(title="cinemagraph3d editor", analytics_enabled=False) as demo:
        holder = gr.State(state)
        history = gr.State([])
        gr.Markdown(
            "## cinemagraph3d editor — paint the fluid, draw its flow, pick the camera, preview, render"
        )
        with gr.Row():
            with gr.Column(scale=3):
                with gr.Row():
                    photo = gr.File(
                        label=f"Photo (jpg/png/webp, ≤ {MAX_UPLOAD_BYTES // 2**20} MB, ≤ 40 MP)",
                        file_types=[".jpg", ".jpeg", ".png", ".webp"],
                        type="filepath",
                        elem_id="c3-photo",
                        height=90,
                    )
                tool = gr.Radio(TOOLS, value="paint", label="Tool", elem_id="c3-tool")
                canvas = gr.HTML(
                    value=canvas_value(None, 0, 0),
                    html_template=CANVAS_HTML,
                    css_template=CANVAS_CSS,
                    js_on_load=CANVAS_JS,
                    elem_id="c3-canvas",
                    apply_default_css=False,
                )
                with gr.Row():
                    radius = gr.Slider(
                        1, 200, value=24, step=1, label="Brush radius (photo pixels)", elem_id="c3-radius"
                    )
                    show_field = gr.Radio(
                        ["off", "arrows", "colour wheel"],
                        value="off",
                        label="Motion field overlay",
                        elem_id="c3-field",
                    )
                with gr.Row():
                    undo = gr.Button("Undo", size="sm")
                    clear_arrows = gr.Button("Clear arrows", size="sm")
                    clear_anchors = gr.Button("Clear anchors", size="sm")
                    clear_freeze = gr.Button("Clear freeze", size="sm")
                    sky = gr.Button("Suggest sky", size="sm", elem_id="c3-sky")
                with gr.Group():
                    with gr.Row():
                        region = gr.Dropdown([], value=None, label="Region being edited", elem_id="c3-region")
                        new_name = gr.Textbox(value="water", label="New region's name", elem_id="c3-new-name")
                        new_region = gr.Button("New region", elem_id="c3-new-region")
                        delete_region = gr.Button("Delete region")
                    with gr.Row():
                        speed = gr.Slider(0.1, 5.0, value=1.0, step=0.1, label="Region speed")
                        prompt = gr.Textbox(label="Prompt (e.g. 'flow left', 'drift right slow')")
                        magnitude = gr.Dropdown(MAGNITUDES, value=MAGNITUDES[0], label="Magnitude")
                status_md = gr.Markdown("Upload a photo, press 'New region' and paint.", elem_id="c3-status")
            with gr.Column(scale=2):
                with gr.Row():
                    preview_btn = gr.Button("Preview", variant="primary", elem_id="c3-preview-btn")
                    live = gr.Checkbox(value=True, label="Refresh the preview after each change")
                video = gr.Video(
                    label="Preview (320 px, 24 frames, looping)",
                    autoplay=True,
                    loop=True,
                    elem_id="c3-preview",
                    interactive=False,
                )
                with gr.Accordion("Scene", open=False):
                    depth_src = gr.Radio(depth_choices, value="heuristic", label="Depth source")
                    depth_file = gr.File(
                        label="Depth file (png/npy/exr)",
                        file_types=[".png", ".npy", ".exr"],
                        type="filepath",
                        height=80,
                    )
                    depth_kind = gr.Radio(["depth", "disparity"], value="depth", label="The file holds")
                    depth_img = gr.Image(label="Depth (near bright)", interactive=False, height=180)
                    layers = gr.Slider(1, 5, value=3, step=1, label="Depth layers (at most)")
                    layers_md = gr.Markdown("")
                with gr.Accordion("Camera", open=True):
                    cam = gr.Dropdown(
                        [*CAMERA_PATHS, "custom"], value="swing", label="Camera path", elem_id="c3-camera"
                    )
                    amplitude = gr.Slider(
                        0.0,
                        AMPLITUDE_MAX,
                        value=0.03,
                        step=0.005,
                        label="Amplitude (fraction of the near depth)",
                    )
                    with gr.Row():
                        frames = gr.Number(60, precision=0, minimum=1, label="Frames", elem_id="c3-frames")
                        fps = gr.Number(30, minimum=1, label="fps")
                        seconds = gr.Number(2.0, minimum=0.05, label="Loop seconds")
                    keyframes = gr.Dataframe(
                        headers=KEYFRAME_HEADERS,
                        value=[[0, 0, 0, 0, 0, 0], [0.1, 0, 0, 2, 0, 0], [0, 0.05, 0.1, 0, 1, 0]],
                        datatype="number",
                        label="Custom keyframes (scene units, degrees; camera path 'custom')",
                        interactive=True,
                    )
                with gr.Accordion("Render", open=True):
                    with gr.Row():
                        fmt = gr.Dropdown(
                            list(OUTPUT_FORMATS), value="mp4 (H.264)", label="Format", elem_id="c3-format"
                        )
                        stereo = gr.Dropdown(STEREO, value="none", label="Stereo")
                    with gr.Row():
                        max_side = gr.Number(
                            None, precision=0, label="Working size (longer side; 0: the photo's)"
                        )
                        live_photo = gr.Checkbox(False, label="Apple Live Photo pair (mov)")
                    extras_in = gr.CheckboxGroup(
                        ["depth video", "point cloud (.ply)"],
                        value=[],
                        label="Also write (as the command line's depth-out and ply options)",
                    )
                    with gr.Row():
                        save_btn = gr.Button("Save project", elem_id="c3-save")
                        render_btn = gr.Button("Render", variant="primary", elem_id="c3-render")
                    downloads = gr.File(
                        label="Downloads", file_count="multiple", interactive=False, elem_id="c3-downloads"
                    )

        region_outs = [canvas, region, speed, prompt, magnitude]
        settings_in = [
            depth_src,
            depth_kind,
            cam,
            amplitude,
            frames,
            fps,
            keyframes,
            fmt,
            stereo,
            max_side,
            live_photo,
            layers,
        ]

        def with_settings(st, d_src, d_kind, cam_, amp, n, rate, kf, fmt_, stereo_, side, livep, n_layers):
            if st is None:
                raise InputError("photo", "an uploaded photo", "none")
            st = st.copy()
            st.depth, st.depth_kind, st.camera, st.amplitude = d_src, d_kind, cam_, float(amp)
            st.layers = int(n_layers or 3)
            st.frames, st.fps = int(n or 1), float(rate or 30)
            rows = kf.values.tolist() if hasattr(kf, "values") else (kf or [])
            st.keyframes = [
                [float(v) for v in row[:6]]
                for row in rows
                if len(row) >= 6 and all(v not in (None, "") for v in row[:6])
            ]
            st.fmt = OUTPUT_FORMATS[fmt_]
            st.codec = "hevc" if "HEVC" in fmt_ else None
            st.stereo = None if stereo_ == "none" else stereo_
            st.max_side = int(side) if side else None
            st.live_photo = bool(livep)
            return st

        # --- photo and depth uploads -------------------------------------------------------
        @guarded(8, 7)
        def on_photo(path):
            if not path:
                return (gr.update(),) * 8
            w, h = check_upload(path, "photo")
            copy = workspace.import_file(path, "photo")
            st = EditorState(image=str(copy), width=w, height=h)
            return (st, [], *view(st, None), status(f"photo {w}×{h} loaded: press 'New region' and paint"))

        photo.upload(
            on_photo,
            [photo],
            [holder, history, *region_outs, status_md],
            concurrency_id="edit",
            concurrency_limit=1,
        )

        @guarded(3, 2)
        def on_depth(st, path):
            if not path or st is None:
                return gr.update(), gr.update(), gr.update()
            check_upload(path, "depth")
            st = st.copy()
            st.depth_file = str(workspace.import_file(path, "depth"))
            st.depth = "file"
            return st, "file", status("depth file loaded")

        depth_file.upload(on_depth, [holder, depth_file], [holder, depth_src, status_md])

        # --- canvas gestures ---------------------------------------------------------------
        @guarded(5, 4)
        def on_gesture(st, hist, tool_, sel, rad, show, evt: gr.EventData):
            if st is None:
                raise InputError("photo", "an uploaded photo", "none")
            event = getattr(evt, "_data", None) or {}
            if not event.get("points"):
                return (gr.update(),) * 5
            new = apply_canvas_event(st, event, tool_, -1 if sel is None else int(sel), float(rad))
            hist = (hist + [st])[-20:]
            return (new, hist, *view(new, sel, show)[:2], status(_describe(new, tool_)))

        def _describe(st, tool_):
            n = len(st.regions)
            return (
                f"{n} region{'s' * (n != 1)}, {len(st.arrows)} arrow{'s' * (len(st.arrows) != 1)}, "
                f"{len(st.anchors)} anchor{'s' * (len(st.anchors) != 1)} (last tool: {tool_})"
            )

        gesture = canvas.edit(
            on_gesture,
            [holder, history, tool, region, radius, show_field],
            [holder, history, canvas, region, status_md],
            concurrency_id="edit",
            concurrency_limit=1,
        )

        # --- regions -----------------------------------------------------------------------
        @guarded(8, 7)
        def on_new_region(st, hist, name, show):
            if st is None:
                raise InputError("photo", "an uploaded photo", "none")
            new = st.copy()
            clean = (
                "".join(c if c.isalnum() or c in "-_" else "-" for c in (name or "").strip())
                or f"region{len(st.regions) + 1}"
            )
            new.regions.append(RegionState(clean, new.empty_mask()))
            return (
                new,
                hist + [st],
                *view(new, len(new.regions) - 1, show),
                status(f"region '{clean}': paint it"),
            )

        new_region.click(
            on_new_region,
            [holder, history, new_name, show_field],
            [holder, history, *region_outs, status_md],
            concurrency_id="edit",
            concurrency_limit=1,
        )

        @guarded(8, 7)
        def on_delete_region(st, hist, sel, show):
            if st is None or sel is None:
                raise InputError("region", "a region to delete", "none")
            new = st.copy()
            del new.regions[int(sel)]
            return (new, hist + [st], *view(new, None, show), status("region deleted"))

        delete_region.click(
            on_delete_region,
            [holder, history, region, show_field],
            [holder, history, *region_outs, status_md],
            concurrency_id="edit",
            concurrency_limit=1,
        )

        @guarded(6, 5)
        def on_select(st, sel, show):
            return (*view(st, sel, show), gr.update())

        region.input(on_select, [holder, region, show_field], [*region_outs, status_md])
        show_field.change(on_select, [holder, region, show_field], [*region_outs, status_md])

        @guarded(2, 1)
        def on_region_settings(st, sel, sp, text, mag):
            if st is None or sel is None or not 0 <= int(sel) < len(st.regions):
                return gr.update(), gr.update()
            new = st.copy()
            r = new.regions[int(sel)]
            if text and text.strip():
                from ..controls.prompts import parse_prompt

                parse_prompt(text.strip(), None if mag == MAGNITUDES[0] else mag, name="prompt")
            r.speed, r.prompt = float(sp), (text or "").strip()
            r.magnitude = None if mag == MAGNITUDES[0] else mag
            return new, status(
                f"region '{r.name}': speed {r.speed:g}" + (f", prompt '{r.prompt}'" if r.prompt else "")
            )

        region_settings = gr.on(
            [speed.release, prompt.submit, prompt.blur, magnitude.input],
            on_region_settings,
            [holder, region, speed, prompt, magnitude],
            [holder, status_md],
            concurrency_id="edit",
            concurrency_limit=1,
        )

        @guarded(8, 7)
        def on_sky(st, hist, show):
            if st is None:
                raise InputError("photo", "an uploaded photo", "none")
            new = suggest_sky(st)
            return (
                new,
                hist + [st],
                *view(new, len(new.regions) - 1, show),
                status("sky region added (prompt 'drift right slow'); erase what is not sky"),
            )

        sky_evt = sky.click(
            on_sky,
            [holder, history, show_field],
            [holder, history, *region_outs, status_md],
            concurrency_id="edit",
            concurrency_limit=1,
        )

        def simple(change, message):
            @guarded(8, 7)
            def fn(st, hist, sel, show):
                if st is None:
                    raise InputError("photo", "an uploaded photo", "none")
                new = st.copy()
                change(new)
                return (new, hist + [st], *view(new, sel, show), status(message))

            return fn

        def _clear_freeze(s):
            s.freeze = None

        ins = [holder, history, region, show_field]
        outs = [holder, history, *region_outs, status_md]
        clear_arrows.click(
            simple(lambda s: s.arrows.clear(), "arrows cleared"),
            ins,
            outs,
            concurrency_id="edit",
            concurrency_limit=1,
        )
        clear_anchors.click(
            simple(lambda s: s.anchors.clear(), "anchors cleared"),
            ins,
            outs,
            concurrency_id="edit",
            concurrency_limit=1,
        )
        clear_freeze.click(
            simple(_clear_freeze, "freeze mask cleared"),
            ins,
            outs,
            concurrency_id="edit",
            concurrency_limit=1,
        )

        @guarded(8, 7)
        def on_undo(st, hist, sel, show):
            if not hist:
                raise InputError("undo", "an earlier change", "none")
            prev = hist[-1]
            return (prev, hist[:-1], *view(prev, sel, show), status("undone"))

        undo.click(on_undo, ins, outs, concurrency_id="edit", concurrency_limit=1)

        # --- camera timing: frames = fps × loop seconds ------------------------------------
        def on_seconds(rate, secs):
            return max(1, round(float(rate or 30) * float(secs or 0.05)))

        def on_frames(rate, n):
            return round(float(n or 1) / float(rate or 30), 3)

        seconds.input(on_seconds, [fps, seconds], [frames])
        frames.input(on_frames, [fps, frames], [seconds])
        fps.input(on_frames, [fps, frames], [seconds])

        # --- preview -----------------------------------------------------------------------
        @guarded(5, 4)
        def on_preview(st, *settings):
            import time

            t0 = time.perf_counter()
            st = with_settings(st, *settings)
            project = _project(st)
            path, _ = cache.preview(project, tmp)
            _, scene = cache.scene(cache.preview_project(project))
            for old in tmp.glob("preview-*.mp4"):
                if old != path:
                    old.unlink(missing_ok=True)
            dt = time.perf_counter() - t0
            layers_text = f"{scene.ldi.num_layers} depth layers, near depth {scene.z_near:.2f}"
            return (
                st,
                str(path),
                depth_picture(scene.depth),
                layers_text,
                status(f"preview ready in {dt:.1f} s"),
            )

        preview_outs = [holder, video, depth_img, layers_md, status_md]
        preview_btn.click(
            on_preview, [holder, *settings_in], preview_outs, concurrency_id="engine", concurrency_limit=1
        )

        def maybe_preview(st, on, *settings):
            if not on or st is None or not (st.regions or st.arrows):
                return (gr.update(),) * 5
            return on_preview(st, *settings)

        live_in = [holder, live, *settings_in]
        for evt in (gesture, region_settings, sky_evt):
            evt.then(
                maybe_preview,
                live_in,
                preview_outs,
                concurrency_id="engine",
                concurrency_limit=1,
                trigger_mode="always_last",
            )
        gr.on(
            [
                cam.input,
                amplitude.release,
                frames.submit,
                fps.submit,
                seconds.submit,
                depth_src.input,
                depth_kind.input,
                layers.release,
            ],
            maybe_preview,
            live_in,
            preview_outs,
            concurrency_id="engine",
            concurrency_limit=1,
            trigger_mode="always_last",
        )

        # --- save and render ---------------------------------------------------------------
        def bundle(project_path: Path) -> Path:
            """A zip of the project file and the inputs it names (a self-contained download)."""
            from ..project import load_project

            project = load_project(project_path)
            fd, name = tempfile.mkstemp(prefix="project-", suffix=".zip", dir=tmp)
            os.close(fd)
            with zipfile.ZipFile(name, "w", zipfile.ZIP_DEFLATED) as z:
                z.write(project_path, "project/project.json")
                for p in project.paths():
                    q = Path(p)
                    z.write(q, f"project/{q.relative_to(workspace.folder).as_posix()}")
            return Path(name)

        @guarded(3, 2)
        def on_save(st, *settings):
            st = with_settings(st, *settings)
            path = workspace.save(st)
            return st, [str(path), str(bundle(path))], status(f"saved {path}")

        save_btn.click(
            on_save,
            [holder, *settings_in],
            [holder, downloads, status_md],
            concurrency_id="edit",
            concurrency_limit=1,
        )

        def on_render(st, extras, *settings, progress=gr.Progress(track_tqdm=True)):  # noqa: B008
            try:
                st = with_settings(st, *settings)
                progress(0, desc="preparing the scene")
                out, project_path, sides = render(
                    workspace,
                    st,
                    progress=True,
                    depth="depth video" in extras,
                    ply="point cloud (.ply)" in extras,
                )
                files = [out, *sides]
                if st.fmt == "":
                    files = [Path(shutil.make_archive(str(tmp / out.name), "zip", out))]
                if st.live_photo:
                    files.append(out.with_suffix(".jpg"))
                files += [project_path, bundle(project_path)]
                return st, [str(f) for f in files], status(f"rendered {out}")
            except (Cinemagraph3DError, OSError, ValueError, MemoryError) as exc:
                return gr.update(), gr.update(), status(_one_line(exc), error=True)

        render_btn.click(
            on_render,
            [holder, extras_in, *settings_in],
            [holder, downloads, status_md],
            concurrency_id="engine",
            concurrency_limit=1,
        )

        def on_load(st):
            if st is None:
                return (*view(None, None), status("Upload a photo to start."), *([gr.update()] * 11))
            return (
                *view(st, 0 if st.regions else None),
                status(f"opened {Path(st.image).name}: {_describe(st, 'none')}"),
                st.depth if st.depth in depth_choices else "heuristic",
                st.depth_kind,
                st.camera,
                st.amplitude,
                st.frames,
                st.fps,
                round(st.frames / st.fps, 3),
                st.keyframes if st.keyframes else gr.update(),
                STEREO[0] if st.stereo is None else st.stereo,
                st.max_side or 0,
                st.layers,
            )

        demo.load(
            on_load,
            [holder],
            [*region_outs, status_md, depth_src, depth_kind, cam, amplitude, frames, fps, seconds, keyframes]
            + [stereo, max_side, layers],
        )
    demo.queue(default_concurrency_limit=1)
    return demo, tmp


def launch(
    workspace: Workspace,
    state: EditorState | None = None,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    block: bool = True,
    quiet: bool = False,
):
    """Start the editor's web server (never a public share link).

    Args:
        workspace: the working folder.
        state: the state to open (None: empty page).
        host: the address to bind (loopback unless asked otherwise).
        port: the port (None: the first free one from 7860).
        block: serve until interrupted (False: return at once; call ``demo.close()``).
        quiet: do not print gradio's own start-up lines.

    Returns:
        ``(demo, url, temp_dir)``.
    """
    demo, tmp = build_app(workspace, state)
    theme = gr.themes.Default(
        font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"]
    )
    _, url, _ = demo.launch(
        server_name=host,
        server_port=port,
        share=False,
        inbrowser=False,
        prevent_thread_lock=True,
        quiet=True,
        max_file_size=MAX_UPLOAD_BYTES,
        allowed_paths=[str(workspace.folder), str(tmp)],
        ssr_mode=False,
        theme=theme,
        css=_PAGE_CSS,
        footer_links=[],
        enable_monitoring=False,
        mcp_server=False,
        pwa=False,
    )
    if not quiet:
        print(f"cinemagraph3d editor: {url} (working folder {workspace.folder}); Ctrl-C stops it", flush=True)
        if host not in ("127.0.0.1", "localhost", "::1"):
            print(f"cinemagraph3d editor: listening on {host}: other machines can reach it", flush=True)
    if block:
        try:
            demo.block_thread()
        finally:
            demo.close()
            shutil.rmtree(tmp, ignore_errors=True)
    return demo, url, tmp
