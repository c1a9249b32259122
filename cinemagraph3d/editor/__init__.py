"""The browser editor (``cinemagraph3d edit``): paint the fluid, draw its flow, pick the camera,
watch a live preview, render — built on :mod:`cinemagraph3d.api`, so a project it saves renders
identically with ``cinemagraph3d render``.

:mod:`.state` holds the pure UI logic (strokes → masks, drags → arrows, state ↔ project),
:mod:`.session` the server side without gradio (working folder, preview cache, overlays) and
:mod:`.app` the gradio page (optional extra ``[editor]``). See ``docs/editor.md``.
"""

from .state import EditorState, RegionState, project_to_state, state_to_project

__all__ = ["EditorState", "RegionState", "state_to_project", "project_to_state"]
