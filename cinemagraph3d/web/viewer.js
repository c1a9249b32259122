// cinemagraph3d web viewer: draws the exported layered depth image with three.js and moves the
// fluid in a fragment shader. Loaded as a classic script after vendor/three.min.js (global THREE)
// and scene.js (global CG3D_SCENE), so the page also works from file:// (no modules, no fetch).
//
// Conventions (docs/conventions.md): OpenCV camera axes (x right, y down, z forward), the input
// camera is the world frame, pixel centres at integer + 0.5, motion in pixels per motion step,
// one loop = N steps. docs/web.md explains the model and how close it is to the offline render.
(function () {
  "use strict";
  const SCENE = window.CG3D_SCENE;
  const meta = SCENE.meta;
  const W = meta.width, H = meta.height, N = meta.loop_steps;
  const errors = [];
  window.addEventListener("error", (e) => errors.push(String(e.message || e)));

  // ---------------------------------------------------------------- data decoding
  function bytesOf(b64) {
    const s = atob(b64);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }
  async function rawArray(blob) {
    // zlib-deflated little-endian array (u1, <f2 as raw half-float bits, <f4, <u4)
    const stream = new Blob([bytesOf(blob.data)]).stream().pipeThrough(new DecompressionStream("deflate"));
    const buf = await new Response(stream).arrayBuffer();
    if (blob.dtype === "u1") return new Uint8Array(buf);
    if (blob.dtype === "<f2") return new Uint16Array(buf);
    if (blob.dtype === "<f4") return new Float32Array(buf);
    if (blob.dtype === "<u4") return new Uint32Array(buf);
    throw new Error("unknown dtype " + blob.dtype);
  }
  async function imageOf(blob) {
    const img = new Image();
    img.src = "data:image/" + blob.enc + ";base64," + blob.data;
    await img.decode();
    return img;
  }
  function setupTexture(t) {
    // exact texel values: no colour conversion, no flip, bilinear, no mipmaps
    t.flipY = false;
    t.colorSpace = THREE.NoColorSpace;
    t.minFilter = t.magFilter = THREE.LinearFilter;
    t.wrapS = t.wrapT = THREE.ClampToEdgeWrapping;
    t.generateMipmaps = false;
    t.unpackAlignment = 1;
    t.needsUpdate = true;
    return t;
  }
  function dataTexture(data, format, type) {
    return setupTexture(new THREE.DataTexture(data, W, H, format, type));
  }

  // ---------------------------------------------------------------- shaders
  // Software GL (SwiftShader) pays for every triangle, texture read and varying, so the meshes
  // are simplified where planar (by the exporter) and the shaders are small: one RGBA texture
  // per layer (colour + coverage, packed at load time, see packLayer), the fusion method
  // compiled in, the per-frame constants computed once in JS.
  //
  // Vertex: a mesh vertex is a world point (the input camera's frame). It is projected with the
  // view's pinhole intrinsics straight into clip space (w = z_cam). It also carries its texture
  // coordinate in the input photo times its depth, (u z / W, v z / H, z): interpolated
  // perspective-correctly, one division per fragment gives the photo position the surface point
  // came from, exactly (the projection into the input camera is linear in these).
  const VERTEX = `
precision highp float;
in vec3 position;            // world point, scene units
uniform mat4 uCamFromWorld;  // view pose, OpenCV axes
uniform vec4 uView;          // fx, fy, cx, cy of the view (pixels of the W x H frame)
uniform vec4 uCam;           // fx, fy, cx, cy of the input camera
uniform vec2 uSize;          // W, H
out vec3 vPhoto;             // (u z / W, v z / H, z), (u, v) the input photo's pixel
void main() {
  vPhoto = vec3((uCam.x * position.x + uCam.z * position.z) / uSize.x,
                (uCam.y * position.y + uCam.w * position.z) / uSize.y, position.z);
  vec4 pc = uCamFromWorld * vec4(position, 1.0);
  // NDC x = 2u/W - 1 and y = 1 - 2v/H with u = fx x/z + cx, v = fy y/z + cy, times w = z
  gl_Position = vec4((2.0 * uView.x / uSize.x) * pc.x + (2.0 * uView.z / uSize.x - 1.0) * pc.z,
                     -(2.0 * uView.y / uSize.y) * pc.y - (2.0 * uView.w / uSize.y - 1.0) * pc.z,
                     0.0, pc.z);
}`;
  // Fragment: two-phase Eulerian advection of one layer. The offline renderer splats the layer's
  // points moved forward by F(0->t) and, a second time, backward by F(0->t-N), and fuses the two
  // with the time weight s of the backward one. Here, for the photo position p the fragment sees,
  // the source of each phase is traced back through the motion field M (SUBSTEPS Euler steps):
  // forward q_f = p - t M (stepwise), backward q_b = p + (N - t) M, and the two colours are mixed
  // with the offline weights (METHOD 2 "dissolve": s = smoothstep of (tau - phi(q_f)) / delta +
  // 1/2, phi the exported switch time; 1 "linear": s = tau; 0: forward only). Pixels where M = 0
  // are the photo exactly. A trace that leaves the photo reads the colour mirrored across its
  // border and the field replicated beyond it: the offline renderer's border ghosts (fluid
  // flowing in brings texture). Compiled per draw: MOVING (the fluid cells of a layer) or not
  // (colour lookup only), OPAQUE (the backdrop: coverage 1, its texture's alpha holds phi).
  const FRAGMENT = `
precision highp float;
in vec3 vPhoto;
out vec4 fragColor;
uniform sampler2D uLayer;    // RGB colour; A coverage (OPAQUE: the switch time phi)
uniform sampler2D uMotion;   // layer motion M, px/step (RG half float)
uniform sampler2D uPhase;    // switch time phi in [0, 1] (R; not OPAQUE)
uniform vec2 uSize;          // W, H
uniform vec2 uInvSize;       // 1/W, 1/H
uniform vec4 uTime;          // t (motion steps), t / SUBSTEPS, (N - t) / SUBSTEPS, tau = t / N
uniform float uDelta;        // dissolve width delta
void main() {
  vec2 p = vPhoto.xy / vPhoto.z;  // input photo position / (W, H)
  vec4 c;
#ifndef MOVING
  c = texture(uLayer, p);
#else
  // M(p) in texture units per step: the value of the pixel p lies in (as offline, where each
  // pixel's point moves with its own M; a fetch without filtering is cheaper)
  vec2 m = texelFetch(uMotion, ivec2(clamp(p * uSize, vec2(0.0), uSize - 1.0)), 0).rg * uInvSize;
  if (uTime.x <= 0.0 || m == vec2(0.0)) {
    c = texture(uLayer, p);
  } else {
    vec2 qf = p - uTime.y * m, qb = p + uTime.z * m;  // the first step reads M(p), already at hand
    for (int i = 1; i < SUBSTEPS; i++) {  // a constant: the loop unrolls
      qf -= uTime.y * texture(uMotion, qf).rg * uInvSize;
      qb += uTime.z * texture(uMotion, qb).rg * uInvSize;
    }
    vec4 cf = texture(uLayer, qf), cb = texture(uLayer, qb);
#ifdef OPAQUE
    float phi = cf.a;
    cf.a = cb.a = 1.0;
#else
    float phi = texture(uPhase, qf).r;
#endif
#if METHOD == 0
    c = cf;                                                  // forward only
#else
#if METHOD == 2
    float u = clamp((uTime.w - phi) / uDelta + 0.5, 0.0, 1.0);
    float s = u * u * (3.0 - 2.0 * u);
#else
    float s = uTime.w;
#endif
#ifdef OPAQUE
    c = mix(cf, cb, s);                                      // both phases cover: plain mix
#else
#if METHOD == 2
    float wf = cf.a * (1.0 - s + s * (1.0 - cb.a));          // dissolve: each covers the other's holes
    float wb = cb.a * (s + (1.0 - s) * (1.0 - cf.a));
#else
    float wf = (1.0 - s) * cf.a, wb = s * cb.a;              // linear
#endif
    float w = wf + wb;
    c = w > 1e-6 ? vec4((wf * cf.rgb + wb * cb.rgb) / w, (wf * cf.a + wb * cb.a) / w) : vec4(0.0);
#endif
#endif
  }
#endif
#ifdef OPAQUE
  c.a = 1.0;
#endif
  fragColor = vec4(c.rgb * c.a, c.a);  // premultiplied; layers are drawn far to near, "over"
}`;
  // ---------------------------------------------------------------- cameras
  const traj = meta.trajectory, orbit = meta.orbit, cam0 = meta.camera;
  const poses = traj.cam_from_world.map((m) => new THREE.Matrix4().set(...m));
  function worldFromCam(T) {
    const inv = T.clone().invert();
    const pos = new THREE.Vector3(), q = new THREE.Quaternion(), s = new THREE.Vector3();
    inv.decompose(pos, q, s);
    return { pos, q };
  }
  const rigs = poses.map(worldFromCam);
  function camFromRig(pos, q) {
    return new THREE.Matrix4().compose(pos, q, new THREE.Vector3(1, 1, 1)).invert();
  }
  // The project's path at loop phase t/N: poses and intrinsics interpolated between frames.
  function autoView(t) {
    const K = poses.length, f = (t / N) * K;
    const k0 = Math.floor(f) % K, k1 = (k0 + 1) % K, a = f - Math.floor(f);
    const pos = rigs[k0].pos.clone().lerp(rigs[k1].pos, a);
    const q = rigs[k0].q.clone().slerp(rigs[k1].q, a);
    const K0 = traj.K[k0], K1 = traj.K[k1];
    const k = K0.map((v, i) => v + a * (K1[i] - v));
    return { T: a === 0 ? poses[k0] : camFromRig(pos, q), K: k };
  }
  // Orbit camera (the same formula as cinemagraph3d.web.orbit_pose): centre r (ox, oy, dolly),
  // looking at the subject point (0, 0, z_subject), world +y down; one safe zoom for the range.
  function orbitPose(ox, oy, dolly) {
    const r = orbit.radius;
    const c = new THREE.Vector3(r * ox, r * oy, r * dolly);
    const f = new THREE.Vector3(0, 0, meta.z_subject).sub(c).normalize();
    const right = new THREE.Vector3(0, 1, 0).cross(f).normalize();
    const down = f.clone().cross(right);
    const Rwc = new THREE.Matrix4().makeBasis(right, down, f).setPosition(c);
    return Rwc.invert();
  }
  function orbitView() {
    const z = orbit.zoom;
    return { T: orbitPose(state.ox, state.oy, state.dolly), K: [cam0.fx * z, cam0.fy * z, cam0.cx, cam0.cy] };
  }
  function inputView() {
    return { T: new THREE.Matrix4(), K: [cam0.fx, cam0.fy, cam0.cx, cam0.cy] };
  }

  // ---------------------------------------------------------------- state and controls
  const params = new URLSearchParams(location.search);
  const state = {
    t: Number(params.get("t") || 0) % N,
    playing: params.get("paused") !== "1",
    speed: 1,
    mode: params.get("mode") || "auto",
    ox: 0, oy: 0, dolly: 0,
    tilt: false, beta0: null,
    // ?scale=0.5 fixes the drawing resolution; none (or ?scale=auto) adapts it to the frame rate
    scale: Number(params.get("scale")) > 0 ? Math.max(0.25, Math.min(1, Number(params.get("scale")))) : 1,
    autoScale: !(Number(params.get("scale")) > 0),
  };
  const rate = (N * meta.fps) / meta.frames;  // motion steps per second: the video's pace
  if (params.get("ui") === "0") document.body.classList.add("noui");

  const three = { renderer: null, scene: new THREE.Scene(), camera: new THREE.Camera(), layers: [] };
  function view() {
    if (state.mode === "orbit") return orbitView();
    if (state.mode === "input") return inputView();
    return autoView(state.t);
  }
  // Uniforms shared by every layer's material: set once per frame.
  const shared = {
    uCamFromWorld: { value: new THREE.Matrix4() },
    uView: { value: new THREE.Vector4() },
    uCam: { value: new THREE.Vector4(cam0.fx, cam0.fy, cam0.cx, cam0.cy) },
    uSize: { value: new THREE.Vector2(W, H) },
    uInvSize: { value: new THREE.Vector2(1 / W, 1 / H) },
    uTime: { value: new THREE.Vector4() },
    uDelta: { value: meta.fusion.dissolve_width },
  };
  function draw() {
    const v = view(), t = state.t, S = meta.substeps;
    shared.uCamFromWorld.value.copy(v.T);
    shared.uView.value.set(v.K[0], v.K[1], v.K[2], v.K[3]);
    shared.uTime.value.set(t, t / S, (N - t) / S, t / N);
    three.renderer.render(three.scene, three.camera);
  }
  function clampDisc() {
    const r = Math.hypot(state.ox, state.oy);
    if (r > 1) { state.ox /= r; state.oy /= r; }
    state.dolly = Math.max(-1, Math.min(1, state.dolly));
  }
  function setMode(m) {
    state.mode = m;
    const sel = document.getElementById("mode");
    if (sel) sel.value = m;
  }
  function setPlaying(p) {
    state.playing = p;
    const b = document.getElementById("play");
    if (b) b.textContent = p ? "pause" : "play";
  }

  function installControls(canvas) {
    let drag = null;
    canvas.addEventListener("pointerdown", (e) => {
      drag = { x: e.clientX, y: e.clientY };
      canvas.setPointerCapture(e.pointerId);
      if (state.mode !== "orbit") { setMode("orbit"); }
    });
    canvas.addEventListener("pointermove", (e) => {
      if (!drag) return;
      // the scene follows the finger: the camera moves the other way
      state.ox -= (e.clientX - drag.x) / (0.4 * canvas.clientWidth);
      state.oy -= (e.clientY - drag.y) / (0.4 * canvas.clientHeight);
      drag = { x: e.clientX, y: e.clientY };
      clampDisc();
    });
    const end = () => { drag = null; };
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    canvas.addEventListener("wheel", (e) => {
      e.preventDefault();
      if (state.mode !== "orbit") setMode("orbit");
      state.dolly -= e.deltaY * 0.0015;
      clampDisc();
    }, { passive: false });
    window.addEventListener("keydown", (e) => {
      if (e.code === "Space") { setPlaying(!state.playing); e.preventDefault(); }
    });
    window.addEventListener("deviceorientation", (e) => {
      if (!state.tilt || e.beta === null || e.gamma === null) return;
      if (state.beta0 === null) state.beta0 = e.beta;
      state.ox = Math.max(-1, Math.min(1, e.gamma / 25));
      state.oy = Math.max(-1, Math.min(1, (e.beta - state.beta0) / 25));
      clampDisc();
      if (state.mode !== "orbit") setMode("orbit");
    });
    document.getElementById("play").addEventListener("click", () => setPlaying(!state.playing));
    const speed = document.getElementById("speed");
    speed.addEventListener("input", () => {
      state.speed = Number(speed.value);
      document.getElementById("speedv").textContent = state.speed.toFixed(2) + "×";
    });
    document.getElementById("mode").addEventListener("change", (e) => setMode(e.target.value));
    document.getElementById("tilt").addEventListener("click", async () => {
      const D = window.DeviceOrientationEvent;
      if (D && typeof D.requestPermission === "function") {
        try { if ((await D.requestPermission()) !== "granted") return; } catch (err) { return; }
      }
      state.tilt = !state.tilt;
      state.beta0 = null;
      document.getElementById("tilt").textContent = state.tilt ? "tilt on" : "tilt";
    });
    let idle = null;
    const wake = () => {
      document.body.classList.remove("idle");
      clearTimeout(idle);
      idle = setTimeout(() => document.body.classList.add("idle"), 2500);
    };
    window.addEventListener("pointermove", wake);
    window.addEventListener("pointerdown", wake);
    wake();
  }

  // The canvas fills the window at the photo's aspect ratio; it is drawn at `state.scale` of its
  // pixels (1: full resolution; "auto" resolution lowers it, down to 0.5, while the page draws
  // fewer than 30 frames a second, and raises it again when there is room).
  function fit() {
    const s = Math.min(window.innerWidth / W, window.innerHeight / H);
    three.renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2) * state.scale);
    three.renderer.setSize(Math.max(1, Math.round(W * s)), Math.max(1, Math.round(H * s)));
  }
  function setScale(v) {
    state.scale = Math.max(0.25, Math.min(1, v));
    fit();
    const el = document.getElementById("res");
    if (el) el.textContent = Math.round(state.scale * 100) + "%";
  }
  function adapt(fps) {
    if (!state.autoScale) return;
    if (fps < 28 && state.scale > 0.5) setScale(Math.max(0.5, state.scale * Math.sqrt(fps / 30)));
    else if (fps > 50 && state.scale < 1) setScale(state.scale * 1.1);
  }

  // ---------------------------------------------------------------- building the scene
  async function build() {
    const renderer = new THREE.WebGLRenderer({
      antialias: false, alpha: false, depth: false, stencil: false, powerPreference: "high-performance",
    });
    renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
    renderer.outputColorSpace = THREE.LinearSRGBColorSpace;  // the shader writes the photo's values
    renderer.setClearColor(0x000000, 1);
    renderer.sortObjects = true;
    three.renderer = renderer;
    document.getElementById("view").appendChild(renderer.domElement);
    fit();
    window.addEventListener("resize", fit);

    // packLayer: the layer's colour and a fourth channel into one RGBA8 texture. The photo's
    // decoded texels are read back through a framebuffer (the browser decodes it exactly as for
    // a texture upload: no flip, no premultiplication, no colour conversion).
    function packLayer(img, fourth) {
      const gl = renderer.getContext();
      const tex = gl.createTexture(), fb = gl.createFramebuffer();
      gl.bindTexture(gl.TEXTURE_2D, tex);
      gl.pixelStorei(gl.UNPACK_FLIP_Y_WEBGL, false);
      gl.pixelStorei(gl.UNPACK_PREMULTIPLY_ALPHA_WEBGL, false);
      gl.pixelStorei(gl.UNPACK_COLORSPACE_CONVERSION_WEBGL, gl.NONE);
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, gl.RGBA, gl.UNSIGNED_BYTE, img);
      gl.bindFramebuffer(gl.FRAMEBUFFER, fb);
      gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, tex, 0);
      const rgba = new Uint8Array(4 * W * H);
      gl.readPixels(0, 0, W, H, gl.RGBA, gl.UNSIGNED_BYTE, rgba);
      gl.bindFramebuffer(gl.FRAMEBUFFER, null);
      gl.deleteFramebuffer(fb);
      gl.deleteTexture(tex);
      renderer.resetState();  // three.js's view of the GL state is current again
      for (let i = 0; i < W * H; i++) rgba[4 * i + 3] = fourth[i];
      const t = dataTexture(rgba, THREE.RGBAFormat, THREE.UnsignedByteType);
      t.wrapS = t.wrapT = THREE.MirroredRepeatWrapping;
      return t;
    }

    const xs = meta.grid.xs, ys = meta.grid.ys, gx = xs.length, gy = ys.length;
    const phi = SCENE.phase ? await rawArray(SCENE.phase) : new Uint8Array(W * H);
    const phase = dataTexture(phi, THREE.RedFormat, THREE.UnsignedByteType);
    const zeroMotion = setupTexture(new THREE.DataTexture(new Uint16Array(2), 1, 1, THREE.RGFormat, THREE.HalfFloatType));
    const methods = { forward: 0, linear: 1, dissolve: 2 };
    const L = SCENE.layers.length;
    for (let k = 0; k < L; k++) {
      const ly = SCENE.layers[k], backdrop = k === L - 1;
      const [img, alpha, disp, motion, still, fluid] = await Promise.all([
        imageOf(ly.color), rawArray(ly.alpha), rawArray(ly.disparity), ly.motion ? rawArray(ly.motion) : null,
        rawArray(ly.still), rawArray(ly.fluid),
      ]);
      // mesh: one vertex per grid corner, lifted with its depth (z = 1 / disparity)
      const pos = new Float32Array(gx * gy * 3);
      for (let i = 0; i < gy; i++) {
        for (let j = 0; j < gx; j++) {
          const z = 1 / disp[i * gx + j], o = 3 * (i * gx + j);
          pos[o] = ((xs[j] - cam0.cx) * z) / cam0.fx;
          pos[o + 1] = ((ys[i] - cam0.cy) * z) / cam0.fy;
          pos[o + 2] = z;
        }
      }
      const position = new THREE.BufferAttribute(pos, 3);
      const textures = {
        uLayer: { value: packLayer(img, backdrop ? phi : alpha) },
        uMotion: { value: motion ? dataTexture(motion, THREE.RGFormat, THREE.HalfFloatType) : zeroMotion },
        uPhase: { value: phase },
      };
      // two triangle lists over the same vertices (the exporter's simplified mesh): the still
      // cells that show something, and the cells the fluid moves in (empty cells are not drawn)
      for (const [moving, list] of [[false, still], [true, fluid]]) {
        if (!list.length) continue;
        const geom = new THREE.BufferGeometry();
        geom.setAttribute("position", position);
        geom.setIndex(new THREE.BufferAttribute(gx * gy > 65535 ? list : new Uint16Array(list), 1));
        const defines = { METHOD: methods[meta.fusion.method], SUBSTEPS: meta.substeps };
        if (moving) defines.MOVING = 1;
        if (backdrop) defines.OPAQUE = 1;
        const material = new THREE.RawShaderMaterial({
          glslVersion: THREE.GLSL3,
          vertexShader: VERTEX,
          fragmentShader: FRAGMENT,
          defines,
          uniforms: { ...textures, ...shared },
          transparent: !backdrop,
          depthTest: false,
          depthWrite: false,
          side: THREE.DoubleSide,
          // the backdrop covers everything and is drawn first; the others go "over" it
          blending: backdrop ? THREE.NoBlending : THREE.CustomBlending,
          blendEquation: THREE.AddEquation,
          blendSrc: THREE.OneFactor,
          blendDst: THREE.OneMinusSrcAlphaFactor,
        });
        const mesh = new THREE.Mesh(geom, material);
        mesh.frustumCulled = false;  // the projection is the shader's own
        mesh.renderOrder = 2 * (L - 1 - k) + (moving ? 1 : 0);  // far layers first
        three.scene.add(mesh);
        three.layers.push(mesh);
      }
    }
    installControls(renderer.domElement);
    setMode(state.mode);
    setPlaying(state.playing);
    document.getElementById("msg").remove();
  }

  // ---------------------------------------------------------------- loop and test hooks
  let last = null, frames = 0, fpsT0 = null;
  const api = { meta, errors, fps: 0 };
  function tick(now) {
    if (last !== null && state.playing) state.t = (state.t + ((now - last) / 1000) * rate * state.speed) % N;
    last = now;
    draw();
    frames++;
    if (fpsT0 === null) fpsT0 = now;
    if (now - fpsT0 >= 1000) {
      api.fps = (frames * 1000) / (now - fpsT0);
      frames = 0;
      fpsT0 = now;
      const el = document.getElementById("fps");
      if (el) el.textContent = api.fps.toFixed(0) + " fps";
      adapt(api.fps);
    }
    requestAnimationFrame(tick);
  }
  Object.assign(api, {
    state,
    setTime(t) { state.t = ((Number(t) % N) + N) % N; draw(); },
    play() { setPlaying(true); },
    pause() { setPlaying(false); },
    setSpeed(v) { state.speed = Number(v); },
    setScale(v) { state.autoScale = v === "auto"; if (v !== "auto") setScale(Number(v)); },
    setMode(m) { setMode(m); draw(); },
    setOrbit(ox, oy, dolly) { setMode("orbit"); state.ox = ox; state.oy = oy; state.dolly = dolly || 0; clampDisc(); draw(); },
    render() { draw(); },
    // Frames per second of draw + finish, n frames advancing the loop (a throughput figure,
    // independent of the display's refresh rate).
    benchmark(n) {
      const gl = three.renderer.getContext(), px = new Uint8Array(4);
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        state.t = (state.t + rate / 30) % N;
        draw();
        gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, px);
      }
      return (n * 1000) / (performance.now() - t0);
    },
  });
  api.ready = build().then(() => { requestAnimationFrame(tick); document.body.dataset.ready = "1"; return true; })
    .catch((e) => {
      errors.push(String(e && e.stack || e));
      const msg = document.getElementById("msg");
      if (msg) msg.textContent = "this page needs WebGL 2: " + e;
      console.error(e);
      throw e;
    });
  window.cg3d = api;
})();
