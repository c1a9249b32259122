"""The drawing canvas of the editor: a ``gr.HTML`` whose template is a ``<canvas>`` and whose
script turns pointer gestures into one event per gesture.

Python → page: the component's value ``{"src": data URL of the overlay picture, "w": W0,
"h": H0}`` is drawn whenever it changes. Page → Python: press-move-release is sent as
``trigger("edit", {"points": [[x, y], ...]})`` in photo pixels (the canvas may be shown at any
size; coordinates are scaled by ``W0 / displayed width``). What a gesture means (brush, arrow,
anchor, click-to-mask) is decided on the server by the selected tool.
"""

from __future__ import annotations

import base64

import numpy as np

__all__ = ["CANVAS_HTML", "CANVAS_CSS", "CANVAS_JS", "canvas_value"]

CANVAS_HTML = '<div class="c3-wrap"><canvas class="c3-canvas" width="640" height="360"></canvas></div>'

CANVAS_CSS = """
.c3-wrap { width: 100%; }
.c3-canvas { width: 100%; height: auto; display: block; cursor: crosshair; touch-action: none;
             background: #202428; border-radius: 6px; }
"""

CANVAS_JS = r"""
const canvas = element.querySelector('canvas.c3-canvas');
const ctx = canvas.getContext('2d');
let pts = null;
let shown = null;
function blank() {
  canvas.width = 640; canvas.height = 360;
  ctx.fillStyle = '#202428'; ctx.fillRect(0, 0, 640, 360);
  ctx.fillStyle = '#aab'; ctx.font = '18px sans-serif'; ctx.textAlign = 'center';
  ctx.fillText('Upload a photo to start', 320, 185);
}
function draw() {
  const v = props.value;
  if (!v || !v.src) { shown = null; blank(); return; }
  if (shown === v.src) return;
  const img = new Image();
  img.onload = () => {
    canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
    ctx.drawImage(img, 0, 0); shown = v.src;
    canvas.dataset.ready = String((Number(canvas.dataset.ready) || 0) + 1);
  };
  img.src = v.src;
}
function toPhoto(e) {
  const r = canvas.getBoundingClientRect();
  const v = props.value;
  const x = (e.clientX - r.left) / r.width * v.w;
  const y = (e.clientY - r.top) / r.height * v.h;
  return [Math.round(x * 100) / 100, Math.round(y * 100) / 100];
}
function toCanvas(p) {
  const v = props.value;
  return [p[0] * canvas.width / v.w, p[1] * canvas.height / v.h];
}
canvas.addEventListener('pointerdown', (e) => {
  const v = props.value;
  if (!v || !v.src) return;
  canvas.setPointerCapture(e.pointerId);
  pts = [toPhoto(e)];
  const c = toCanvas(pts[0]);
  ctx.fillStyle = 'rgba(255,255,255,0.7)';
  ctx.beginPath(); ctx.arc(c[0], c[1], 3, 0, 2 * Math.PI); ctx.fill();
});
canvas.addEventListener('pointermove', (e) => {
  if (!pts) return;
  const p = toPhoto(e);
  const q = pts[pts.length - 1];
  if (Math.hypot(p[0] - q[0], p[1] - q[1]) < 1) return;
  pts.push(p);
  const a = toCanvas(q), b = toCanvas(p);
  ctx.strokeStyle = 'rgba(255,255,255,0.75)'; ctx.lineWidth = 3; ctx.lineCap = 'round';
  ctx.beginPath(); ctx.moveTo(a[0], a[1]); ctx.lineTo(b[0], b[1]); ctx.stroke();
});
function finish(e) {
  if (!pts) return;
  const p = toPhoto(e);
  pts.push(p);
  const gesture = pts; pts = null;
  trigger('edit', {points: gesture});
}
canvas.addEventListener('pointerup', finish);
canvas.addEventListener('pointercancel', () => { pts = null; shown = null; draw(); });
watch('value', draw);
draw();
"""


def canvas_value(picture: np.ndarray | None, width: int, height: int) -> dict:
    """The canvas component's value: the overlay ``(h, w, 3)`` uint8 picture as a JPEG data URL
    and the photo's size ``W0, H0`` (the coordinates the page sends back)."""
    if picture is None:
        return {"src": "", "w": 0, "h": 0}
    import cv2

    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(picture[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 88])
    if not ok:
        raise OSError("JPEG encoding of the overlay failed")
    return {
        "src": "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode("ascii"),
        "w": width,
        "h": height,
    }
