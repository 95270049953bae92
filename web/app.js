// novae's page: controls, captions, the time-grid plot, the scrubber, the
// embed snippet and the postMessage API, around the view iframe where the
// Go program runs (view.html). Everything from the URL or from a message is
// validated and clamped here (and again in Go) and only ever reaches the page
// as text or form values, never as HTML.
//
// #status carries what tests and embedders wait on:
//   data-state = loading | ready | running | recovering | done | error
//   data-done  = number of finished runs, data-backend = webgpu | cpu

const $ = (id) => document.getElementById(id);
const statusEl = $("status");
const embedded = window.parent !== window;

// ---- URL parameters: validated and clamped, never trusted ----

const LIMITS = { steps: [1, 50], cfg: [1, 10], shift: [0.05, 3], seed: [0, 4294967295], grid: [1, 16], frames: [2, 12] };
const clamp = (v, [lo, hi]) => Math.min(Math.max(v, lo), hi);
const SCHEDULE = /^(constant|linear|late|early-[0-9.]{1,6}|interval-[0-9.]{1,6}-[0-9.]{1,6}|cfg_star-[0-9.]{1,6}-[0-9.]{1,6})$/;
const VIEWS = ["both", "x0", "xt", "v", "final"];
// A model name: a folder under models/ (from ?model= or models/index.json).
const isModelName = (n) => typeof n === "string" && /^[a-z0-9][a-z0-9_-]{0,63}$/i.test(n);

export function readParams(search) {
  const q = new URLSearchParams(search);
  const p = {};
  const num = (name, int) => {
    const s = q.get(name);
    if (s === null || s.trim() === "" || s.length > 24) return undefined;
    const v = Number(s);
    if (!Number.isFinite(v)) return undefined;
    return clamp(int ? Math.round(v) : v, LIMITS[name] ?? [-Infinity, Infinity]);
  };
  const model = q.get("model");
  if (isModelName(model)) p.model = model;
  const weights = q.get("weights");
  if (weights && weights.length < 2048) {
    try {
      const u = new URL(weights, location.href);
      if (u.protocol === "https:" || u.protocol === "http:") p.weights = u.href;
    } catch {}
  }
  const cls = q.get("class");
  if (cls === "random") p.class = -1;
  else if (cls !== null && /^\d{1,6}$/.test(cls)) p.class = Number(cls);
  const seed = q.get("seed");
  if (seed === "random") p.seedRandom = true;
  else if (num("seed", true) !== undefined) p.seed = num("seed", true);
  for (const k of ["steps", "grid"]) if (num(k, true) !== undefined) p[k] = num(k, true);
  for (const k of ["cfg", "shift"]) if (num(k, false) !== undefined) p[k] = num(k, false);
  const sampler = q.get("sampler");
  if (sampler === "euler" || sampler === "heun") p.sampler = sampler;
  const sched = q.get("schedule");
  if (sched && SCHEDULE.test(sched)) p.schedule = sched;
  const view = q.get("view");
  if (VIEWS.includes(view)) p.view = view;
  // compare=1: the model beside its VAE-latent twin (where models/index.json names one).
  const cmp = q.get("compare");
  if (cmp === "1" || cmp === "true") p.compare = true;
  else if (cmp === "0" || cmp === "false") p.compare = false;
  // autoplay: true (1), false (0), or undefined: then a landing visit plays (onReady).
  const autoplay = q.get("autoplay");
  if (autoplay === "1" || autoplay === "true") p.autoplay = true;
  else if (autoplay === "0" || autoplay === "false") p.autoplay = false;
  // A landing visit: no model or settings in the URL (controls, origin and webgpu aside).
  p.landing = !["model", "weights", "class", "seed", "steps", "cfg", "shift", "sampler", "schedule", "view", "grid", "frames", "seedB"].some((k) => q.has(k));
  // webgpu=1: WebGPU even on a software renderer; webgpu=0: the CPU path (wasm/path.go).
  const webgpu = q.get("webgpu");
  if (webgpu === "1" || webgpu === "0") p.webgpu = webgpu;
  const controls = q.get("controls");
  p.controls = ["minimal", "none"].includes(controls) ? controls : "full";
  const origin = q.get("origin"); // embedders may pin whom the frame talks to
  if (origin && /^https?:\/\/[^/\s]+$/.test(origin)) p.origin = origin;
  return p;
}

const params = readParams(location.search);
document.body.classList.toggle("minimal", params.controls === "minimal");
document.body.classList.toggle("none", params.controls === "none");

// ---- status ----

// Page timings and the last results, for the visitor's console and tests.
const stats = (window.novaeStats = { marks: {}, boot: null, model: null, lastDone: null, sw: "", deviceLost: [], recovered: [], resumed: [] });
const mark = (k) => { stats.marks[k] ??= Math.round(performance.now()); };

let doneRuns = 0;
function setStatus(state, text) {
  statusEl.dataset.state = state;
  statusEl.dataset.done = String(doneRuns);
  statusEl.textContent = text;
  if (state === "error") $("view-hint").hidden = true; // the status says what went wrong
}
const fmtBytes = (n) => n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(2)} GiB` : n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
const fmtMs = (ms) => ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`;

// ---- postMessage API (embedders) ----
//
// The frame posts {type: "novae:<event>", …} to its parent and takes
// commands from it (wasm/doc.go has the whole contract). Every run has a
// request id, echoed on each of its events: the id of the host's command
// (a string of up to 64 characters, or a number), else one made here
// ("novae-<n>"; runs the visitor starts get one too). A command's options
// are checked whole before anything changes: one that is not valid is
// answered with an error event naming it, and nothing runs.

const targetOrigin = params.origin ?? "*";
const minimal = params.controls === "minimal"; // short status lines, no jargon
function post(type, detail) {
  if (!embedded) return;
  try { window.parent.postMessage({ type: `novae:${type}`, ...plain(detail) }, targetOrigin); } catch {}
}
// plain copies a Go event object into JSON-safe data (no typed arrays).
const plain = (d) => (d === undefined || d === null ? {} : JSON.parse(JSON.stringify(d)));

let lastId = 0;
const newId = () => `novae-${++lastId}`;
const hostId = (v) => (typeof v === "string" && v.length > 0 && v.length <= 64) || (typeof v === "number" && Number.isFinite(v)) ? v : undefined;

// requests maps a Go run number to the request it serves: {id, ended}.
// Go may start a run before api.generate returns (its worker runs while the
// call is in progress), so generate() parks the request in pending first.
const requests = new Map();
let pending = null;
function request(run) {
  let r = requests.get(run);
  if (!r && pending && pending.run === undefined) (r = pending).run = run;
  if (!r) r = { id: newId(), run, ended: false };
  if (!r.ended) requests.set(run, r);
  return r;
}
// end posts a run's last event (done, canceled or error) once.
function end(r, type, detail) {
  if (!r || r.ended) return;
  r.ended = true;
  requests.delete(r.run);
  post(type, { id: r.id, ...detail });
}
let lastPicture = null; // {id, settings} of the run whose picture is on show

window.addEventListener("message", (e) => {
  if (!embedded || e.source !== window.parent) return;
  if (params.origin && e.origin !== params.origin) return;
  const m = e.data;
  if (!m || typeof m !== "object" || typeof m.type !== "string" || !m.type.startsWith("novae:")) return;
  const id = hostId(m.id) ?? newId();
  const op = m.type.slice(6, 40);
  if (m.type === "novae:generate") {
    if (!model) return post("error", { id, op, message: "the model is not loaded yet: send commands after novae:ready" });
    const c = checkOptions(m.options ?? {});
    if (c.error) return post("error", { id, op, option: c.option, options: c.options, message: c.error });
    applyOptions(c.p);
    generate({}, id);
  } else if (m.type === "novae:stop") {
    api?.cancel(); // the stopped run answers with novae:canceled and its own id
  } else if (m.type === "novae:image") {
    postImage(id);
  } else {
    post("error", { id, op, message: "unknown command: the commands are novae:generate, novae:stop and novae:image" });
  }
});

// checkOptions validates a command's options against the page's own limits
// (those of its controls) and the model's classes: {p} (readParams' form) or
// {error, option, options} naming every option that is wrong. Unknown names
// are ignored, so a host written for a later version still works.
export function checkOptions(o, numClasses = model?.numClasses ?? 0) {
  if (typeof o !== "object" || o === null || Array.isArray(o)) return { error: "options must be an object", option: "options", options: ["options"] };
  const p = {}, bad = [];
  const wrong = (k, why) => bad.push([k, `${k} ${typeof o[k] === "string" ? JSON.stringify(o[k].slice(0, 40)) : String(o[k])} ${why}`]);
  const has = (k) => o[k] !== undefined && o[k] !== null;
  const number = (k, [lo, hi], int) => {
    if (!has(k)) return;
    const v = o[k];
    if (typeof v !== "number" || !Number.isFinite(v)) return wrong(k, "is not a number");
    if (int && !Number.isInteger(v)) return wrong(k, "is not a whole number");
    if (v < lo || v > hi) return wrong(k, `is out of range (${lo}–${hi})`);
    p[k] = v;
  };
  if (has("class")) {
    if (o.class === "random" || o.class === -1) p.class = -1;
    else if (Number.isInteger(o.class) && o.class >= 0 && o.class <= numClasses) p.class = o.class;
    else wrong("class", `is not a class of this model (0–${numClasses - 1}, ${numClasses} for unconditional, -1 or "random")`);
  }
  if (o.seed === "random" || o.seed === -1) p.seedRandom = true;
  else number("seed", LIMITS.seed, true);
  number("steps", LIMITS.steps, true);
  number("grid", LIMITS.grid, true);
  number("cfg", LIMITS.cfg, false);
  number("shift", LIMITS.shift, false);
  if (has("sampler")) {
    if (o.sampler === "euler" || o.sampler === "heun") p.sampler = o.sampler;
    else wrong("sampler", "is neither euler nor heun");
  }
  if (has("schedule")) {
    if (typeof o.schedule === "string" && SCHEDULE.test(o.schedule)) p.schedule = o.schedule;
    else wrong("schedule", "is not a schedule (constant, linear, late, early-T, interval-A-B, cfg_star-N-W)");
  }
  if (has("view")) {
    if (VIEWS.includes(o.view)) p.view = o.view;
    else wrong("view", `is not one of ${VIEWS.join(", ")}`);
  }
  if (has("compare")) {
    if (typeof o.compare !== "boolean") wrong("compare", "is neither true nor false");
    else if (o.compare && !twin.name) wrong("compare", "needs a model with a VAE-latent twin, and this one has none");
    else if (o.compare && (p.grid ?? 1) > 1) wrong("compare", "shows one image per model: leave grid out or set it to 1");
    else p.compare = o.compare;
  }
  if (bad.length) return { error: bad.map((b) => b[1]).join("; "), option: bad[0][0], options: bad.map((b) => b[0]) };
  return { p };
}

// postImage answers novae:image with the picture on show: a PNG data URL of
// every image of the last finished run (one panel each, in its grid).
function postImage(id) {
  const pic = api?.picture();
  if (!pic || pic.error || !lastPicture) {
    return post("error", { id, op: "image", message: pic?.error ?? "no picture yet: generate one first" });
  }
  post("image", { id, of: lastPicture.id, width: pic.w, height: pic.h, images: pic.b, cols: pic.cols, rows: pic.rows, size: pic.s,
    settings: lastPicture.settings, dataURL: pngURL(pic) });
}

// pngURL encodes the RGBA picture {w, h, rgba} as a PNG data URL.
function pngURL(pic) {
  const c = document.createElement("canvas");
  c.width = pic.w;
  c.height = pic.h;
  c.getContext("2d").putImageData(new ImageData(pic.rgba, pic.w, pic.h), 0, 0);
  return c.toDataURL("image/png");
}

// ---- the view iframe and the Go API ----

let api;        // globalThis.novae of the view
let boot;       // backend info
let model;      // model info once loaded
let busy = false;

window.novaeApp = {
  attach(a) {
    api = a;
    api.on(onEvent);
    start();
  },
  fail(msg) {
    setStatus("error", msg);
    post("error", { message: msg });
  },
};

const frame = document.createElement("iframe");
frame.src = params.webgpu ? `view.html?webgpu=${params.webgpu}` : "view.html";
frame.title = "Generated images (drawn by the WebAssembly program)";
frame.setAttribute("tabindex", "-1");
$("viewbox").append(frame);

function onEvent(type, d) {
  switch (type) {
    case "boot": {
      boot = plain(d);
      stats.boot = boot;
      mark("boot");
      statusEl.dataset.backend = boot.backend;
      showPath(boot);
      break;
    }
    case "manifest":
      mark("manifest");
      $("progress-row").hidden = false;
      setStatus("loading", `Loading model “${d.name}”: ${fmtBytes(d.bytes)} in ${d.shards} shard${d.shards > 1 ? "s" : ""}…`);
      post("progress", { phase: "manifest", loaded: 0, total: d.bytes });
      break;
    case "progress": {
      const p = plain(d);
      $("progress").max = p.total || 1;
      $("progress").value = p.loaded;
      const from = p.source && p.source !== "network" ? ` (from ${p.source})` : "";
      $("progress-text").textContent = `${fmtBytes(p.loaded)} / ${fmtBytes(p.total)}${from}`;
      post("progress", p);
      break;
    }
    case "twinready":
      twin.model = plain(d);
      stats.twin = twin.model;
      $("progress-row").hidden = true;
      break;
    case "ready":
      model = plain(d);
      stats.model = model;
      mark("ready");
      onReady();
      break;
    case "start": {
      const s = plain(d);
      busy = true;
      setControls();
      if (s.layout) fitView(s.layout);
      legend(s);
      compareHeads(s.mode === "compare" ? {} : null);
      if (s.mode === "compare") setStatus("running", minimal ? `Sampling ${s.steps} step${s.steps > 1 ? "s" : ""} on both latents…` : `Sampling ${s.steps} step${s.steps > 1 ? "s" : ""} (${s.sampler}, CFG ${s.cfg}) on both latents${boot?.backend === "cpu" ? " on the CPU (slower than WebGPU)" : ""}…`);
      else setStatus("running", s.mode === "img2img" ? `img2img from t0 = ${s.from.toFixed(2)}: ${s.steps} step${s.steps > 1 ? "s" : ""} (${s.sampler}, CFG ${s.cfg})…` : `Sampling ${s.steps} step${s.steps > 1 ? "s" : ""} (${s.sampler}, CFG ${s.cfg})…`);
      newRun({ times: s.times, from: s.from, mode: s.mode });
      pictureInView();
      const { layout, run, ...settings } = s;
      const r = request(run);
      r.settings = settings;
      $("download").disabled = true;
      post("started", { id: r.id, ...settings });
      break;
    }
    case "step": {
      const { run, ...s } = plain(d);
      const ms = s.ms > 0 ? ` · ${fmtMs(s.ms)} per step` : "";
      const dec = s.decodeMs > 0 ? ` + ${fmtMs(s.decodeMs)} decoding` : "";
      mark("firstStep");
      const what = s.mode === "img2img" ? "img2img step" : "Step";
      if (s.mode === "compare") {
        compareHeads({ svg: s.ms, vae: s.twinMs, per: "this step" });
        setStatus("running", minimal ? `Step ${s.i + 1} of ${s.n}…` : `Step ${s.i + 1}/${s.n} on both latents · t = ${s.t.toFixed(3)} · SVG ${fmtMs(s.ms)} · VAE ${fmtMs(s.twinMs)}`);
      } else setStatus("running", minimal ? `Step ${s.i + 1} of ${s.n}…` : `${what} ${s.i + 1}/${s.n} · t = ${s.t.toFixed(3)}${ms}${dec}`);
      plot(s.i + 1);
      post("step", { id: request(run).id, ...s });
      break;
    }
    case "done": {
      const s = plain(d);
      busy = false;
      doneRuns++;
      stats.lastDone = s;
      mark("firstImage");
      const per = s.msPerStep > 0 ? ` · ${fmtMs(s.msPerStep)} per step` : "";
      const dec = s.decodeMs > 0 ? ` · ${fmtMs(s.decodeMs)} decoding` : "";
      const disp = s.dispatchesPerStep > 0 ? ` · ${s.dispatchesPerStep} GPU dispatches per step` : "";
      if (s.mode === "compare") {
        compareHeads({ svg: s.msPerStep, vae: s.twinMsPerStep, per: "per step" });
        setStatus("done", minimal ? `Done in ${fmtMs(s.ms)}.` : `Done: ${s.steps} step${s.steps > 1 ? "s" : ""} on both latents in ${fmtMs(s.ms)} · SVG ${fmtMs(s.msPerStep)} · VAE ${fmtMs(s.twinMsPerStep)} per step${dec}${boot?.backend === "cpu" ? " (CPU path, slower than WebGPU)" : ""}.`);
      } else setStatus("done", minimal ? `Done in ${fmtMs(s.ms)}.` : `${s.mode === "img2img" ? "img2img done" : "Done"}: ${s.steps} step${s.steps > 1 ? "s" : ""} in ${fmtMs(s.ms)}${per}${dec}${disp}${boot?.backend === "cpu" ? " (CPU)" : ""}.`);
      scrubTo(s.frames, s.steps);
      setControls();
      const { run, ...rest } = s;
      const r = request(run);
      lastPicture = { id: r.id, settings: r.settings ?? s.settings };
      $("download").disabled = false;
      end(r, "done", rest);
      break;
    }
    case "canceled":
      busy = false;
      setStatus("done", `Stopped after ${d.steps} step${d.steps === 1 ? "" : "s"}.`);
      if (d.frames > 0) scrubTo(d.frames, d.steps);
      setControls();
      end(request(d.run), "canceled", { steps: d.steps });
      break;
    case "encoded": {
      const s = plain(d);
      fitView(s.layout);
      lastPicture = null; // an encoding is no picture to give out
      $("download").disabled = true;
      newRun(null);
      compareHeads(null);
      $("panel-legend").textContent = `Left to right: your image${inverted ? " (inverted: light on dark)" : ""}, ${s.latent === "vae" ? "its VAE latent's channels" : "its DINO features"} (first three principal components as RGB), the reconstruction.`;
      doneRuns++;
      setStatus("done", `Encoded ${inverted ? "the inverted picture " : ""}into ${s.tokens} tokens × ${s.channels} channels in ${fmtMs(s.ms)} (reconstruction RMS error ${s.reconRMSE.toFixed(1)} of 255).`);
      darkOnLightHint(s.reconRMSE);
      $("img2img-go").disabled = false;
      $("interp-enc-go").disabled = s.encoded < 2;
      busy = false;
      setControls();
      break;
    }
    case "interpolated": {
      const s = plain(d);
      fitView(s.layout);
      lastPicture = { id: null, settings: { mode: "interpolate", frames: s.frames } };
      $("download").disabled = false;
      newRun(null);
      compareHeads(null);
      $("panel-legend").textContent = "The straight line between the two encoded latents, decoded.";
      doneRuns++;
      setStatus("done", `Decoded ${s.frames} interpolated latents in ${fmtMs(s.ms)}.`);
      busy = false;
      setControls();
      break;
    }
    case "error":
      busy = false;
      setStatus("error", `Error: ${d.message}`);
      setControls();
      // A generate command's error goes out with its request id (generate()).
      if (d.op !== "generate") post("error", { op: d.op, option: d.option, message: String(d.message) });
      break;
    // A lost GPU device: Go re-creates it, reloads the model (from this
    // browser's storage) and resumes a running generation where it was.
    case "devicelost": {
      const s = plain(d);
      stats.deviceLost.push(s);
      setStatus("recovering", `The GPU device was lost (${s.reason}${s.message ? `: ${s.message}` : ""}). Re-creating it…`);
      post("devicelost", s);
      break;
    }
    case "recovered": {
      const s = plain(d);
      stats.recovered.push(s);
      $("progress-row").hidden = true;
      if (s.model) { model = s.model; stats.model = model; }
      const text = `GPU device re-created and the model reloaded in ${fmtMs(s.ms)}.`;
      if (busy) setStatus("running", `${text} Resuming…`);
      else setStatus(doneRuns > 0 ? "done" : "ready", text);
      post("recovered", { ms: s.ms });
      break;
    }
    case "resumed": {
      const s = plain(d);
      stats.resumed.push(s);
      setStatus("running", s.from > 0 ? `Resuming at step ${s.from + 1}/${s.steps} on the new GPU device…` : "Starting again on the new GPU device…");
      break;
    }
  }
}

let lastLegend = "";
function legend(s) {
  const names = { xt: "xₜ (noisy latent, decoded)", x0: "x̂₀ (predicted final image)", v: "v (velocity, decoded)" };
  const panels = s.layout?.panels ?? [];
  const what = panels.map((p) => names[p] ?? p).join(" | ");
  const pairs = panels.length > 1 && s.layout?.b > 1 ? " (each pair is one image)" : "";
  const grid = s.frames > 0 ? ` · interpolation from seed ${s.seed} to ${s.seedB}` : s.grid > 1 ? ` · seeds ${s.seed}…${s.seed + s.grid - 1}` : "";
  const from = s.mode === "img2img" ? ` · img2img from your encoded picture at strength ${s.strength}` : "";
  const cmp = s.mode === "compare" ? `Left: the SVG latent; right: the VAE latent (${s.twin}); each shows ` : "";
  lastLegend = cmp + what + (cmp ? "" : pairs) + grid + from;
  $("panel-legend").textContent = lastLegend;
}

// ---- the run on show: its time grid, its frames ----

// run: {times, from, mode} of the run whose frames are on show (null for an
// encode or interpolation, which are not sampled). Every run, encode,
// img2img and interpolation starts a new one: the scrubber and the plot
// only ever show the frames and grid of the picture on the canvas.
let run = null;
function newRun(r) {
  run = r;
  $("view-hint").hidden = true;
  const scrub = $("scrub");
  scrub.max = "0";
  scrub.value = "0";
  scrub.disabled = true;
  scrubLabel(0, 0);
  plot(-1);
}

// scrubTo offers the kept frames of the finished run (frame 0: the start).
function scrubTo(frames, steps) {
  const scrub = $("scrub");
  scrub.max = String(Math.max(0, frames - 1));
  scrub.value = scrub.max;
  scrub.disabled = frames < 2;
  scrubLabel(frames > 1 ? frames - 2 : steps - 1, steps);
  plot(frames > 1 ? frames - 1 : (run?.times?.length ?? 0) - 1);
}

// pictureInView scrolls the picture into sight when a run starts (on a
// phone the buttons can be far below it).
function pictureInView() {
  if (embedded) return; // never scroll the host's page
  const r = $("viewbox").getBoundingClientRect();
  if (r.top < 0 || r.bottom > innerHeight) $("viewbox").scrollIntoView({ block: "nearest" });
}
const reducedMotion = () => matchMedia("(prefers-reduced-motion: reduce)").matches;

// showPath says which path computes and why, in one line (wasm/path.go
// writes it), offers the other path, and says where the weights go.
function showPath(b) {
  $("adapter").textContent = b.path || b.label;
  const sw = $("path-switch");
  const u = new URL(location.href);
  if (b.backend === "cpu" && b.software) {
    u.searchParams.set("webgpu", "1");
    sw.textContent = "Use WebGPU anyway";
  } else if (b.backend === "webgpu" && b.software) {
    u.searchParams.set("webgpu", "0");
    sw.textContent = "Use the CPU path";
  } else if (b.backend === "cpu" && params.webgpu === "0" && b.reason === "") {
    u.searchParams.delete("webgpu");
    sw.textContent = "Let novae choose the path";
  } else {
    u.searchParams.delete("webgpu");
  }
  sw.href = u.href;
  sw.hidden = u.href === location.href;
  // Details for the curious when WebGPU is missing or unusable: calm, folded.
  $("nowebgpu").hidden = b.backend === "webgpu" || (!!b.software && !b.reason) || params.webgpu === "0";
  $("nowebgpu-reason").textContent = b.reason ? `What the browser said: ${b.reason.replace(/^shaders: /, "")}` : "";
  $("foot").textContent = b.backend === "webgpu"
    ? "The weights stream from the server straight into GPU memory and are kept in this browser's storage for the next visit."
    : "The weights download once into this browser's storage and are read into the program's memory: on the CPU path nothing goes to a GPU.";
}

// fitView gives the view the frame's aspect ratio, so ebiten's scaling
// leaves no bars.
function fitView(l) {
  if (!(l && l.w > 0 && l.h > 0)) return;
  $("viewbox").style.aspectRatio = `${l.w} / ${l.h}`;
  $("viewbox").style.setProperty("--ar", String(l.w / l.h));
}

function setControls() {
  const ready = !!model;
  $("generate").disabled = !ready;
  $("generate-more").disabled = !ready;
  $("stop").disabled = !busy;
  $("interp-go").disabled = !ready;
  $("encode-go").disabled = !ready || !model.encoders || !$("file").files?.length;
  $("grid").disabled = comparing(); // compare mode: one image per model
}

// ---- start: pick the model, tell the visitor the size, load ----

async function start() {
  const url = params.weights ?? `models/${params.model ?? "default"}/model.json`;
  if (!params.weights) listModels(); // in parallel with the load
  if (params.weights) {
    // Another model: say how much it downloads before fetching it.
    let bytes = 0;
    try {
      const m = JSON.parse((await frame.contentWindow.novaeWeights.fetchManifest(url)).text); // cached copy when offline
      bytes = (m.shards ?? []).reduce((s, x) => s + (Number(x.bytes) || 0), 0);
    } catch (e) {
      setStatus("error", `Could not read ${url}: ${e.message ?? e}`);
      post("error", { message: String(e.message ?? e) });
      return;
    }
    const limit = boot?.backend === "cpu" ? boot.maxBytes : Infinity;
    if (bytes > limit) {
      setStatus("error", `This model is ${fmtBytes(bytes)}; without WebGPU only models up to ${fmtBytes(limit)} run here.`);
      post("error", { message: "model too large for the CPU fallback" });
      return;
    }
    if (bytes > 64 << 20) {
      $("load-offer").hidden = false;
      $("load-offer-text").textContent = `This model downloads ${fmtBytes(bytes)} (once: it is kept for later visits).`;
      setStatus("ready", "Waiting for you to start the download.");
      await new Promise((res) => $("load-go").addEventListener("click", res, { once: true }));
      $("load-offer").hidden = true;
    }
  }
  setStatus("loading", "Loading the model…");
  try {
    await api.load(url);
  } catch (e) {
    const missing = !params.weights && /HTTP 404/.test(String(e.message));
    setStatus("error", missing
      ? `No model at ${url}. Put converted weights there (go run ./tools/novae convert …), or open this page with ?weights=URL of a model.json.`
      : `Could not load the model: ${e.message ?? e}`);
  }
}

// listModels offers the site's other models (models/index.json, written by
// `make run`: {"default": name, "models": [names]}). Switching reloads the
// page with ?model=: a clean start frees the old model's GPU buffers, and the
// URL says what is shown. The class is dropped: its numbers differ per model.
async function listModels() {
  const idx = await siteIndex();
  if (!idx) return; // a site without the list simply has no picker
  const names = Array.isArray(idx?.models) ? idx.models.filter(isModelName).slice(0, 64) : [];
  if (names.length < 2) return;
  const current = params.model && params.model !== "default" ? params.model : isModelName(idx.default) ? idx.default : names[0];
  const sel = $("model");
  sel.replaceChildren(...names.map((n) => new Option(n, n)));
  // A model whose card says "preview" (not yet as good as it will be) is labelled so.
  Promise.all(names.map((n) => fetch(`models/${n}/card.json`).then((r) => (r.ok ? r.json() : null)).catch(() => null))).then((cards) => {
    const twins = new Set(idx.twins && typeof idx.twins === "object" ? Object.values(idx.twins) : []);
    cards.forEach((c, i) => {
      const tags = [twins.has(names[i]) ? "VAE latent" : "", c?.preview ? "preview" : ""].filter(Boolean);
      if (tags.length) sel.options[i].text = `${names[i]} (${tags.join(", ")})`;
    });
  });
  if (!names.includes(current)) sel.append(new Option(current, current));
  sel.value = current;
  $("model-row").hidden = false;
  sel.addEventListener("change", () => {
    const u = new URL(location.href);
    u.searchParams.set("model", sel.value);
    u.searchParams.delete("class");
    location.assign(u.href);
  });
}

async function onReady() {
  await findTwin(); // before the URL's settings (compare=1) and the first run
  encodeCaption();
  const sel = $("class");
  sel.replaceChildren();
  const n = model.numClasses;
  for (let i = 0; i < n; i++) sel.append(new Option(classLabel(i), String(i)));
  sel.append(new Option("unconditional", String(n)));
  sel.append(new Option("random", "-1"));
  const d = model.defaults ?? {};
  if (d.steps) $("steps").value = String(clamp(d.steps, LIMITS.steps));
  if (d.cfg) $("cfg").value = String(clamp(d.cfg, LIMITS.cfg));
  if (d.shift) $("shift").value = String(clamp(d.shift, LIMITS.shift));
  if (d.schedule && [...$("schedule").options].some((o) => o.value === d.schedule)) $("schedule").value = d.schedule;
  shiftCaption(Number($("shift").value));
  // A landing visit plays at once (4 steps from a fixed seed), unless the
  // visitor prefers reduced motion or the URL says autoplay=0.
  const landing = params.autoplay === undefined && params.landing && !reducedMotion();
  if (landing) applyOptions({ class: FIRST.class < n ? FIRST.class : 0, seed: FIRST.seed, steps: FIRST.steps, view: FIRST.view });
  stats.autoplay = params.autoplay === true ? "url" : landing ? "landing" : "off";
  applyOptions(params);
  $("progress-row").hidden = true;
  const src = model.sources?.every((s) => s !== "network") ? " (weights from this browser's storage)" : "";
  setStatus("ready", `Ready: “${model.name}”, ${(model.params / 1e6).toFixed(2)} M parameters, ${model.image}×${model.image} images, on ${boot?.backend === "webgpu" ? "the GPU" : "the CPU"}${src}.`);
  setControls();
  post("ready", { model: model.name, backend: boot?.backend, adapter: boot?.adapter, classes: n, image: model.image });
  if (params.autoplay || landing) generate();
  else if (!$("view-hint").hidden) $("view-hint").textContent = "Press Generate to watch a picture form from noise.";
}

// FIRST is the landing visit's picture: a clear 3 from the digits model in
// its 4 steps (seed 2 of the first eight looked best), shown as x̂₀ forming
// (one decode per step: on the CPU path decoding costs more than a step).
const FIRST = { class: 3, seed: 2, steps: 4, view: "x0" };

// classLabel: the class's name ("3", "face"), with its number when the
// name is not just that number ("0: face").
function classLabel(i) {
  const name = model.classes?.[i];
  if (!name) return `class ${i}`;
  return name === String(i) ? name : `${i}: ${name}`;
}

// shiftCaption quotes this model's own default shift.
function shiftCaption(s) {
  const how = s < 1 ? "crowds the steps near the noise, where the layout of the image is decided" : s > 1 ? "crowds the steps near the data" : "spaces them evenly";
  $("shift-default").textContent = `This model's default, ${s}, ${how} (the paper's ImageNet setting is 0.15); 1 spaces them evenly.`;
}

function applyOptions(p) {
  const n = model ? model.numClasses : 1000;
  // A class is a name: one the model lacks is not "the nearest" (which
  // would be unconditional); the URL's is then ignored and the host told.
  if (p.class !== undefined && p.class > n) post("error", { op: "url", option: "class", message: `class ${p.class} is not a class of this model (0–${n - 1}, ${n} for unconditional): the URL's class is ignored` });
  else if (p.class !== undefined) $("class").value = String(p.class < 0 ? -1 : p.class);
  if (p.seedRandom) $("seed-random").checked = true;
  if (p.seed !== undefined) { $("seed").value = String(p.seed); $("seed-random").checked = false; }
  if (p.steps !== undefined) $("steps").value = String(p.steps);
  if (p.cfg !== undefined) $("cfg").value = String(p.cfg);
  if (p.shift !== undefined) $("shift").value = String(p.shift);
  if (p.sampler) document.querySelector(`input[name=sampler][value=${p.sampler}]`).checked = true;
  if (p.schedule) {
    const sel = $("schedule");
    if (![...sel.options].some((o) => o.value === p.schedule)) sel.append(new Option(p.schedule, p.schedule));
    sel.value = p.schedule;
  }
  if (p.view) $("view").value = p.view;
  if (p.compare !== undefined) {
    if (p.compare && !twin.name) post("error", { op: "url", option: "compare", message: "compare=1: this model has no VAE-latent twin, so the URL's compare is ignored" });
    else setCompare(p.compare);
  }
  if (p.grid !== undefined) {
    const sel = $("grid");
    if (![...sel.options].some((o) => o.value === String(p.grid))) sel.append(new Option(`${p.grid} seeds`, String(p.grid)));
    sel.value = String(p.grid);
  }
  outputs();
}

function options() {
  const random = $("seed-random").checked;
  if (random) $("seed").value = String(Math.floor(Math.random() * 4294967296));
  return {
    class: Number($("class").value),
    seed: clamp(Math.round(Number($("seed").value) || 0), LIMITS.seed),
    steps: Number($("steps").value),
    sampler: document.querySelector("input[name=sampler]:checked").value,
    cfg: Number($("cfg").value),
    schedule: $("schedule").value,
    shift: Number($("shift").value),
    view: $("view").value,
    grid: comparing() ? 1 : Number($("grid").value),
    compare: comparing(),
  };
}

// generate runs the current settings (plus extra) as request id.
async function generate(extra = {}, id = newId()) {
  if (!api || !model) return;
  const o = { ...options(), ...extra };
  if (o.frames) o.compare = false; // interpolation: the page's model alone
  snippet();
  if (o.compare) {
    try {
      await loadTwin();
    } catch (e) {
      const message = `the VAE-latent twin could not be loaded: ${e?.message ?? e}`;
      setStatus("error", `Error: ${message}`);
      post("error", { id, op: "generate", option: "compare", message });
      return;
    }
  }
  const r = (pending = { id, run: undefined, ended: false });
  let job;
  try {
    job = api.generate(o);
  } finally {
    pending = null;
  }
  r.run = job.run;
  if (!r.ended) requests.set(r.run, r);
  try {
    await job;
  } catch (e) {
    const message = String(e?.message ?? e);
    if (/canceled/.test(message)) {
      end(r, "canceled", { steps: 0 }); // replaced or stopped before it began (a begun run was answered by its event)
      return;
    }
    setStatus("error", `Error: ${message}`);
    end(r, "error", { op: "generate", option: /^options: ([A-Za-z]+) /.exec(message)?.[1], message });
  }
}

// ---- controls ----

function outputs() {
  $("steps-out").textContent = $("steps").value;
  $("cfg-out").textContent = Number($("cfg").value).toFixed(1);
  $("shift-out").textContent = Number($("shift").value).toFixed(2);
  $("strength-out").textContent = Number($("strength").value).toFixed(2);
  plot($("scrub").disabled ? -1 : Number($("scrub").value));
  snippet();
}
for (const id of ["steps", "cfg", "shift", "strength", "seed", "class", "schedule", "view", "grid"]) $(id).addEventListener("input", outputs);
document.querySelectorAll("input[name=sampler]").forEach((r) => r.addEventListener("change", outputs));

$("controls").addEventListener("submit", (e) => { e.preventDefault(); generate(); });
$("stop").addEventListener("click", () => api?.cancel());
$("interp-go").addEventListener("click", () => {
  generate({ grid: 1, seedB: clamp(Math.round(Number($("seed-b").value) || 0), LIMITS.seed), frames: clamp(Math.round(Number($("frames").value) || 2), LIMITS.frames) });
});

// scrubLabel: frame i of the run's trajectory is after step i (0-based);
// i = -1 is its start, the noise (or img2img's noised picture).
const scrubLabel = (i, n) => {
  $("scrub-out").textContent = n <= 0 ? "–" : i >= 0 ? `step ${i + 1}/${n}` : run?.from > 0 ? `start (t = ${run.from.toFixed(2)})` : "start: noise";
  $("panel-legend").textContent = i < 0 && n > 0 ? (run?.from > 0 ? "The start: your encoded picture noised to t0, decoded (in every panel)." : "The start: the noise at t = 0, decoded (in every panel).") : lastLegend;
};
$("scrub").addEventListener("input", () => {
  const r = api?.show(Number($("scrub").value));
  if (r) {
    scrubLabel(r.step, r.steps);
    plot(r.step + 1);
  }
});

// ---- the time-grid plot ----

// plot draws the time grid of the run on show (solid, point current
// highlighted: 0 is its start, i+1 the state after step i), starting at its
// own t0 for img2img, and the grid the settings would give next (dashed)
// when it differs. Before any run it shows the settings' grid.
function plot(current = -1) {
  const svg = $("plot");
  const steps = Number($("steps").value), shift = Number($("shift").value);
  const next = api?.timeGrid(steps, shift) ?? linear(steps);
  const ts = run?.times ?? (run === null ? null : next);
  const W = 320, H = 140, L = 28, R = 8, T = 8, B = 22;
  const x = (i, n) => L + (i / n) * (W - L - R);
  const y = (t) => T + (1 - t) * (H - T - B);
  const ns = "http://www.w3.org/2000/svg";
  const el = (name, attrs, text) => {
    const e = document.createElementNS(ns, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const line = (g, cls) => el("polyline", { points: g.map((t, i) => `${x(i, g.length - 1).toFixed(1)},${y(t).toFixed(1)}`).join(" "), class: cls });
  const n = (ts ?? next).length - 1;
  const kids = [
    el("line", { x1: L, y1: y(0), x2: W - R, y2: y(0), class: "axis" }),
    el("line", { x1: L, y1: y(0), x2: L, y2: y(1), class: "axis" }),
    el("text", { x: 4, y: y(1) + 4 }, "t=1"),
    el("text", { x: 4, y: y(0) + 3 }, "t=0"),
    el("text", { x: L, y: H - 6 }, "step 0"),
    el("text", { x: W - R - 40, y: H - 6 }, `step ${n}`),
  ];
  const differs = !ts || ts.length !== next.length || (run?.from ?? 0) > 0 || ts.some((t, i) => Math.abs(t - next[i]) > 1e-6);
  if (run !== undefined && differs) {
    kids.push(line(next, "curve next"));
    kids.push(el("text", { x: L + 6, y: T + 10, class: "next" }, `dashed: the next run from noise, ${steps} step${steps > 1 ? "s" : ""}`));
  }
  if (!ts) {
    kids.push(el("text", { x: L + 10, y: y(0.5) }, "this picture was not sampled: no time grid"));
  } else {
    if (run?.from > 0) {
      kids.push(el("line", { x1: L, y1: y(run.from), x2: W - R, y2: y(run.from), class: "t0" }));
      kids.push(el("text", { x: W - R - 140, y: Math.min(y(run.from) + 12, H - B - 2) }, `img2img starts at t0 = ${run.from.toFixed(2)}`));
    }
    kids.push(line(ts, "curve"));
    ts.forEach((t, i) => kids.push(el("circle", { cx: x(i, n).toFixed(1), cy: y(t).toFixed(1), r: n > 30 ? 1.6 : 2.6, class: i === current ? "pt now" : "pt" })));
  }
  svg.dataset.times = ts ? ts.map((t) => t.toFixed(4)).join(",") : "";
  svg.dataset.current = String(current);
  svg.replaceChildren(...kids);
}
const linear = (n) => Array.from({ length: n + 1 }, (_, i) => i / n);

// ---- embed snippet, download ----

// snippet writes the iframe that embeds this page with the current
// settings: every URL parameter the page takes (wasm/doc.go lists them).
function snippet() {
  const u = new URL(location.pathname, location.origin);
  const o = model ? options0() : {};
  for (const [k, v] of Object.entries(o)) u.searchParams.set(k, String(v));
  if (params.model) u.searchParams.set("model", params.model);
  if (params.weights) u.searchParams.set("weights", params.weights);
  if (comparing()) { u.searchParams.set("compare", "1"); u.searchParams.delete("grid"); }
  u.searchParams.set("autoplay", "1");
  u.searchParams.set("controls", "minimal");
  $("snippet").textContent = `<iframe src="${u.href.replaceAll('"', "%22")}" title="novae: image generation on your GPU" width="512" height="360" style="border:0" loading="lazy"></iframe>`;
}
// options0: the current settings without drawing a new random seed.
function options0() {
  return {
    class: $("class").value, seed: $("seed-random").checked ? "random" : $("seed").value, steps: $("steps").value,
    sampler: document.querySelector("input[name=sampler]:checked").value, cfg: $("cfg").value,
    schedule: $("schedule").value, shift: $("shift").value, view: $("view").value, grid: $("grid").value,
  };
}
$("copy-snippet").addEventListener("click", () => navigator.clipboard?.writeText($("snippet").textContent));

// The download button saves the picture on show as a PNG: every image of
// the last finished run, one panel each, in its grid.
$("download").addEventListener("click", () => {
  const pic = api?.picture();
  if (!pic || pic.error) {
    setStatus(doneRuns > 0 ? "done" : "ready", pic?.error ?? "Nothing to download yet.");
    return;
  }
  const st = lastPicture?.settings ?? {};
  const safe = (v) => String(v ?? "").replace(/[^a-z0-9_-]+/gi, "").slice(0, 40);
  const a = document.createElement("a");
  a.download = ["novae", safe(model?.name), st.class !== undefined ? `class${safe(st.class)}` : "", st.seed !== undefined ? `seed${safe(st.seed)}` : ""].filter(Boolean).join("-") + ".png";
  a.href = pngURL(pic);
  a.click();
});

// ---- encode, img2img, interpolation of encoded images ----

// Uploaded pictures are untrusted: their size is read from the file before
// anything decodes it, and a file whose size cannot be read is not decoded
// at all (a 10,000×10,000 image needs 400 MB decoded, whatever its size on
// disk). Only PNG, JPEG, GIF, WebP and BMP are taken: their headers give the
// size the browser's decoder will use. Anything over these limits is
// refused; the rest is decoded by the browser off the main thread, already
// scaled down (createImageBitmap with resize options), so the page never
// holds the full-size pixels.
export const IMAGE_LIMITS = { pixels: 40e6, side: 16384 };
const FORMATS = "PNG, JPEG, GIF, WebP or BMP";

// Bytes is a window onto a file for the header readers: they ask for byte
// ranges and only those parts are read, 256 KiB at a time, so a marker deep
// in a large file is found without reading the file into memory.
class Bytes {
  constructor(blob) { this.blob = blob; this.size = blob.size; this.base = 0; this.b = new Uint8Array(0); this.dv = new DataView(this.b.buffer); }
  has(o, n) { return o >= this.base && o + n <= this.base + this.b.length; }
  // need makes o..o+n readable; false when the file ends first.
  async need(o, n) {
    if (this.has(o, n)) return true;
    if (o < 0 || o + n > this.size) return false;
    const buf = await this.blob.slice(o, o + Math.max(n, 256 << 10)).arrayBuffer();
    this.b = new Uint8Array(buf); this.dv = new DataView(buf); this.base = o;
    return this.has(o, n);
  }
  u8(o) { return this.b[o - this.base]; }
  u16(o, le) { return this.dv.getUint16(o - this.base, le); }
  u32(o, le) { return this.dv.getUint32(o - this.base, le); }
  i32(o, le) { return this.dv.getInt32(o - this.base, le); }
  u24le(o) { return this.u8(o) | (this.u8(o + 1) << 8) | (this.u8(o + 2) << 16); }
  is(o, s) { return this.has(o, s.length) && [...s].every((c, i) => this.u8(o + i) === c.charCodeAt(0)); }
  // find returns the offset of the next byte v at or after o, or -1.
  async find(o, v) {
    for (; await this.need(o, 1); o = this.base + this.b.length) {
      const k = this.b.indexOf(v, o - this.base);
      if (k >= 0) return this.base + k;
    }
    return -1;
  }
}

// unread is imageInfo's answer for a known format whose size cannot be read.
const unread = (type, why, orientation = 1) => ({ type, w: 0, h: 0, orientation, why });

// imageInfo reads an image's format, size and EXIF orientation from a File,
// Blob or bytes without decoding it: {type, w, h, orientation} (w, h as
// stored, before orientation). type is "" when the file is not one of PNG,
// JPEG, GIF, WebP, BMP; w = h = 0 when it is but its size cannot be read
// (why says what is missing).
export async function imageInfo(src) {
  const r = new Bytes(src instanceof Blob ? src : new Blob([src]));
  await r.need(0, Math.min(r.size, 32));
  const size = (type, w, h, orientation = 1) => ({ type, w, h, orientation });
  if (r.is(0, "\x89PNG\r\n\x1a\n")) return r.is(12, "IHDR") && r.has(16, 8) ? size("png", r.u32(16), r.u32(20)) : unread("png", "no IHDR chunk first");
  if (r.is(0, "GIF8")) return gifInfo(r);
  if (r.is(0, "BM")) {
    if (!(await r.need(0, 26))) return unread("bmp", "the header is cut short");
    // A 12-byte OS/2 header has 16-bit sizes; the others signed 32-bit (negative: top-down).
    return r.u32(14, true) === 12 ? size("bmp", r.u16(18, true), r.u16(20, true)) : size("bmp", Math.abs(r.i32(18, true)), Math.abs(r.i32(22, true)));
  }
  if (r.is(0, "RIFF") && r.is(8, "WEBP")) {
    const cut = unread("webp", "the header is cut short");
    if (!(await r.need(12, 8))) return cut;
    if (r.is(12, "VP8 ")) return (await r.need(26, 4)) ? size("webp", r.u16(26, true) & 0x3fff, r.u16(28, true) & 0x3fff) : cut;
    if (r.is(12, "VP8L")) { if (!(await r.need(21, 4))) return cut; const v = r.u32(21, true); return size("webp", (v & 0x3fff) + 1, ((v >>> 14) & 0x3fff) + 1); }
    if (r.is(12, "VP8X")) return (await r.need(24, 6)) ? size("webp", 1 + r.u24le(24), 1 + r.u24le(27)) : cut;
    return unread("webp", "no VP8, VP8L or VP8X chunk first");
  }
  if (r.has(0, 2) && r.u8(0) === 0xff && r.u8(1) === 0xd8) return jpegInfo(r);
  return { type: "" };
}

// jpegInfo walks the JPEG's markers, segment by segment, to the frame header
// (SOFn), wherever it is: APPn segments of EXIF, XMP or ICC data may come
// before it in any amount. Bytes between segments are skipped as decoders
// skip them. A file of countless tiny segments is refused rather than
// walked (the walk runs on the main thread; awaits only to read more).
const MAX_SEGMENTS = 100000;
async function jpegInfo(r) {
  let orientation = 1;
  for (let i = 2, steps = 0; ; steps++) {
    if (steps > MAX_SEGMENTS) return unread("jpeg", `more than ${MAX_SEGMENTS} segments before the frame header`, orientation);
    if (!(r.has(i, 2) || await r.need(i, 2))) return unread("jpeg", "the file ends before the frame header", orientation);
    if (r.u8(i) !== 0xff) {
      i = await r.find(i, 0xff);
      if (i < 0) return unread("jpeg", "the file ends before the frame header", orientation);
      continue;
    }
    const m = r.u8(i + 1);
    if (m === 0xff) { i++; continue; } // fill byte
    if (m === 0x00 || m === 0x01 || m === 0xd8 || (m >= 0xd0 && m <= 0xd7)) { i += 2; continue; } // no segment
    if (m === 0xd9 || m === 0xda) return unread("jpeg", "no frame header before the image data", orientation);
    if (!(r.has(i, 4) || await r.need(i, 4))) return unread("jpeg", "the file ends before the frame header", orientation);
    const len = r.u16(i + 2);
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      if (!(await r.need(i, 9))) return unread("jpeg", "the frame header is cut short", orientation);
      return { type: "jpeg", w: r.u16(i + 7), h: r.u16(i + 5), orientation };
    }
    if (m === 0xe1 && len >= 16 && (await r.need(i, 2 + len)) && r.is(i + 4, "Exif\0\0")) {
      orientation = exifOrientation(new DataView(r.b.buffer, i - r.base, 2 + len), 10, 2 + len) || orientation;
    }
    i += 2 + len;
  }
}

// gifInfo: the logical screen, grown to the first frame where that is
// larger (decoders do the same).
async function gifInfo(r) {
  if (!(await r.need(0, 13))) return unread("gif", "the header is cut short");
  let w = r.u16(6, true), h = r.u16(8, true);
  const flags = r.u8(10);
  let o = 13 + (flags & 0x80 ? 3 << ((flags & 7) + 1) : 0); // after the global colour table
  for (let steps = 0; r.has(o, 1) || await r.need(o, 1); steps++) {
    if (steps > MAX_SEGMENTS) return unread("gif", `more than ${MAX_SEGMENTS} blocks before the first frame`);
    const k = r.u8(o);
    if (k === 0x2c) { // image descriptor: left, top, width, height
      if (await r.need(o, 9)) {
        w = Math.max(w, r.u16(o + 1, true) + r.u16(o + 5, true));
        h = Math.max(h, r.u16(o + 3, true) + r.u16(o + 7, true));
      }
      break;
    }
    if (k !== 0x21) break; // the trailer, or not a GIF block
    for (o += 2; steps <= MAX_SEGMENTS && (r.has(o, 1) || await r.need(o, 1)); steps++) { // an extension's data sub-blocks
      const n = r.u8(o);
      o += 1 + n;
      if (n === 0) break;
    }
  }
  return { type: "gif", w, h, orientation: 1 };
}

// exifOrientation reads tag 0x0112 of IFD0 in the TIFF block at t..end.
function exifOrientation(dv, t, end) {
  if (t + 8 > end) return 0;
  const le = dv.getUint16(t) === 0x4949;
  const ifd = t + dv.getUint32(t + 4, le);
  if (ifd + 2 > end) return 0;
  const count = dv.getUint16(ifd, le);
  for (let k = 0; k < count && ifd + 2 + 12 * (k + 1) <= end; k++) {
    const e = ifd + 2 + 12 * k;
    if (dv.getUint16(e, le) === 0x0112) {
      const v = dv.getUint16(e + 8, le);
      return v >= 1 && v <= 8 ? v : 0;
    }
  }
  return 0;
}

// imageRGBA turns an uploaded file into S×S RGBA: EXIF orientation applied,
// centre-cropped to a square, transparency composited on white (as novae
// encode does). Errors name the file and say what is wrong with it.
export async function imageRGBA(file, S) {
  const name = `“${String(file.name ?? "the image").slice(0, 80)}”`;
  const info = await imageInfo(file);
  if (!info.type) throw new Error(`${name} is not a ${FORMATS} image: only these are opened, since their size can be checked before decoding`);
  const T = { png: "PNG", jpeg: "JPEG", gif: "GIF", webp: "WebP", bmp: "BMP" }[info.type];
  if (!(info.w > 0 && info.h > 0)) {
    throw new Error(`${name}: the size of this ${T} image cannot be read (${info.why ?? `it says ${info.w}×${info.h} pixels`}), so it is not decoded: the file is corrupt or cut short`);
  }
  let w = info.w, h = info.h;
  if (info.orientation >= 5) [w, h] = [h, w]; // rotated a quarter turn
  if (w * h > IMAGE_LIMITS.pixels || Math.max(w, h) > IMAGE_LIMITS.side) {
    throw new Error(`${name} is ${info.w}×${info.h} pixels (${(info.w * info.h / 1e6).toFixed(0)} megapixels): images up to ${IMAGE_LIMITS.pixels / 1e6} megapixels and ${IMAGE_LIMITS.side} pixels a side are taken; scale it down first`);
  }
  const opts = { imageOrientation: "from-image", premultiplyAlpha: "premultiply" };
  if (Math.min(w, h) > 2 * S) { // decode straight to about 2S on the short side
    const k = (2 * S) / Math.min(w, h);
    Object.assign(opts, { resizeWidth: Math.max(1, Math.round(w * k)), resizeHeight: Math.max(1, Math.round(h * k)), resizeQuality: "high" });
  }
  let bmp;
  try {
    bmp = await createImageBitmap(file, opts);
  } catch (e) {
    throw new Error(`${name} could not be decoded: the ${T} file is corrupt or cut short`);
  }
  try {
    if (bmp.width * bmp.height > IMAGE_LIMITS.pixels) throw new Error(`${name} is ${bmp.width}×${bmp.height} pixels: too large`);
    const c = new OffscreenCanvas(S, S);
    const g = c.getContext("2d");
    g.fillStyle = "#fff"; // transparent pixels become white
    g.fillRect(0, 0, S, S);
    const s = Math.min(bmp.width, bmp.height); // centre crop to a square
    g.imageSmoothingQuality = "high";
    g.drawImage(bmp, (bmp.width - s) / 2, (bmp.height - s) / 2, s, s, 0, 0, S, S);
    return g.getImageData(0, 0, S, S).data;
  } finally {
    bmp.close();
  }
}

$("file").addEventListener("change", setControls);
$("encode-go").addEventListener("click", async () => {
  const f = $("file").files?.[0];
  if (!f || !model) return;
  busy = true;
  newRun(null);
  setControls();
  setStatus("running", "Encoding…");
  $("invert-hint").hidden = true;
  try {
    const px = await imageRGBA(f, model.encoderImage ?? model.image);
    lightBackground = borderLuma(px) > 150;
    inverted = $("invert").checked;
    if (inverted) for (let i = 0; i < px.length; i += 4) { px[i] = 255 - px[i]; px[i + 1] = 255 - px[i + 1]; px[i + 2] = 255 - px[i + 2]; }
    await api.encode(px);
  } catch (e) {
    busy = false;
    setStatus("error", `Error: ${e.message ?? e}`);
    setControls();
  }
});
// A black digit on white paper is what a teacher tries first; a model
// trained on white-on-black digits reconstructs it poorly. The page says so
// (and offers the inversion, shown as such in the legend and status) when
// the picture's border is light and the reconstruction is far off.
let lightBackground = false, inverted = false;
function borderLuma(px) {
  const S = Math.round(Math.sqrt(px.length / 4));
  let sum = 0, n = 0;
  for (let i = 0; i < S; i++) {
    for (const [x, y] of [[i, 0], [i, S - 1], [0, i], [S - 1, i]]) {
      const o = (y * S + x) * 4;
      sum += 0.299 * px[o] + 0.587 * px[o + 1] + 0.114 * px[o + 2];
      n++;
    }
  }
  return sum / n;
}
function darkOnLightHint(rmse) {
  $("invert-hint").hidden = !(lightBackground && !inverted && rmse > 40);
}
$("invert-go").addEventListener("click", () => {
  $("invert").checked = true;
  $("encode-go").click();
});
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  if (e.dataTransfer?.files?.length) {
    $("file").files = e.dataTransfer.files;
    setControls();
    $("encode-go").click();
  }
});
$("img2img-go").addEventListener("click", () => {
  const o = options();
  api?.img2img({ class: o.class, seed: o.seed, steps: o.steps, sampler: o.sampler, cfg: o.cfg, schedule: o.schedule, shift: o.shift,
    view: o.view, strength: Number($("strength").value) })
    .catch((e) => { if (!/canceled/.test(String(e.message))) setStatus("error", `Error: ${e.message ?? e}`); });
});
$("interp-enc-go").addEventListener("click", () => {
  newRun(null);
  setStatus("running", "Decoding the line between the two encoded latents…");
  api?.interpolateEncoded(clamp(Math.round(Number($("frames").value) || 5), LIMITS.frames))
    .catch((e) => setStatus("error", `Error: ${e.message ?? e}`));
});

// ---- compare mode: the model beside its VAE-latent twin ----
//
// models/index.json (scripts/models.sh) names each model's twin:
// {"twins": {"digits": "digits-vae"}}, the model of the same name with
// "-vae" shipped beside it. For a model with a twin the switch appears;
// switched on (or ?compare=1, or a generate command's compare: true), the
// twin loads like the first model (its weights stream into GPU buffers and
// are cached by weights.js) and every run samples both with the same class,
// seed, steps, sampler, guidance and shift, drawn side by side.

const twin = { name: null, url: null, model: null, loading: null, folder: null };
let indexP = null;
// siteIndex: models/index.json, fetched once ({default, models, twins}), or null.
function siteIndex() {
  indexP ??= fetch("models/index.json", { cache: "no-cache" }).then((r) => (r.ok ? r.json() : null)).catch(() => null);
  return indexP;
}
const comparing = () => !!twin.name && $("compare").checked;

// findTwin looks the loaded model's twin up in the site's index.
async function findTwin() {
  if (params.weights) return; // a model from elsewhere: no twin known
  const idx = await siteIndex();
  const models = Array.isArray(idx?.models) ? idx.models : [];
  const folder = params.model && params.model !== "default" ? params.model : idx?.default;
  const t = idx?.twins && typeof idx.twins === "object" ? idx.twins[folder] : undefined;
  if (!isModelName(folder) || !isModelName(t) || !models.includes(t)) return;
  Object.assign(twin, { name: t, url: `models/${t}/model.json`, folder });
  $("compare-row").hidden = false;
  setControls();
}

// loadTwin loads the twin once (a failed load is tried again next time).
function loadTwin() {
  if (twin.model) return Promise.resolve(twin.model);
  if (!twin.loading) {
    setStatus("loading", `Loading the VAE-latent twin “${twin.name}”…`);
    twin.loading = api.loadTwin(twin.url).then((m) => (twin.model = plain(m)));
    twin.loading.catch(() => { twin.loading = null; });
  }
  return twin.loading;
}

function setCompare(on) {
  $("compare").checked = !!on && !!twin.name;
  $("compare-cap").hidden = !comparing();
  if (comparing()) compareCaption();
  setControls();
  snippet();
}
$("compare").addEventListener("change", () => {
  setCompare($("compare").checked);
  if (comparing() && model && !busy) generate(); // the switch runs the comparison at once
});

// compareHeads names the two halves of a compare frame and each one's
// time per step (ms: {svg, vae, per}); null hides them.
function compareHeads(ms) {
  $("compare-heads").hidden = !ms;
  document.body.classList.toggle("comparing", !!ms);
  if (!ms) return;
  const cpu = boot?.backend === "cpu" ? " on the CPU" : "";
  const t = (v) => (v > 0 ? ` · ${fmtMs(v)} ${ms.per}${cpu}` : "");
  $("compare-svg").textContent = `SVG latent (${model?.name ?? ""})${t(ms.svg)}`;
  $("compare-vae").textContent = `VAE latent (${twin.name ?? ""})${t(ms.vae)}`;
}

// PAPER: the paper's few-step comparison (arXiv 2510.15301, ImageNet 256,
// 5 sampling steps, gFID without guidance): SVG-XL against SiT-XL on SD-VAE.
const PAPER = { steps: 5, svg: 12.26, vae: 69.38 };

// compareCaption says what the visitor sees and quotes the paper's figures
// and ours (each model's eval.json from novae eval, when both are there).
async function compareCaption() {
  const cap = $("compare-cap");
  const seeing = "Left, the SVG model samples in its encoder's semantic features; right, its twin — the same DiT, trained the same way on the latent of a KL autoencoder like Stable Diffusion's VAE — with the same class, seed, steps, sampler, guidance and shift, each drawn step by step with its own time per step.";
  const paper = `The paper's claim is that the semantic latent wins at few steps: SVG-XL at ${PAPER.steps} steps reaches gFID ${PAPER.svg} where SiT-XL on SD-VAE has ${PAPER.vae} (ImageNet 256, lower is better)`;
  cap.textContent = `${seeing} ${paper}; our figures for this pair are being fetched.`;
  const get = (n) => fetch(`models/${n}/eval/eval.json`).then((r) => (r.ok ? r.json() : null)).catch(() => null);
  const [a, b] = await Promise.all([get(twin.folder), get(twin.name)]);
  cap.textContent = `${seeing} ${paper}; ${oursLine(a, b)}`;
}

// oursLine quotes novae eval's figures for the pair at the fewest guided
// steps (4 or more) both measured, or says they are pending.
export function oursLine(a, b) {
  const gen = (e) => (Array.isArray(e?.generation) ? e.generation : []);
  const pick = (e, steps) => gen(e).find((g) => g.steps === steps && g.cfg > 1 && Number.isFinite(g.accuracy) && Number.isFinite(g.fd));
  const steps = [...new Set(gen(a).map((g) => g.steps))].filter((n) => Number.isInteger(n) && n >= 4).sort((x, y) => x - y)
    .find((n) => pick(a, n) && pick(b, n));
  if (steps === undefined) return "our own figures for this pair (novae eval) are pending.";
  const x = pick(a, steps), y = pick(b, steps);
  const pct = (v) => `${(100 * v).toFixed(1)}%`;
  return `ours, measured by novae eval at ${steps} guided steps: class accuracy ${pct(x.accuracy)} (SVG) against ${pct(y.accuracy)} (VAE), Fréchet distance ${x.fd.toFixed(1)} against ${y.fd.toFixed(1)}.`;
}

// encodeCaption says which latent the encoders make.
function encodeCaption() {
  if (model?.latent === "vae") $("encode-cap").textContent = "This model's latent is a KL autoencoder's (like Stable Diffusion's VAE): its encoder maps a picture to a grid of latent channels (shown by their first three principal components as colours), the posterior mean, normalised per channel; the decoder maps it back.";
}

// ---- offline: the service worker keeps the page, weights.js the weights ----

stats.sw = "none";
if ("serviceWorker" in navigator && window.isSecureContext) {
  navigator.serviceWorker.register("sw.js").then(() => navigator.serviceWorker.ready).then(() => { stats.sw = "ready"; })
    .catch((e) => { stats.sw = `failed: ${e.message ?? e}`; });
}

outputs();
setStatus("loading", "Loading the program…");
