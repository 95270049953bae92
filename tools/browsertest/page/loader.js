// Runs the Go wasm program named by config.json and reports to the harness
// through the CDP binding __novae (one JSON string per call, in order):
//   {t:"out", fd, s}  program output, exactly as written (no line splitting)
//   {t:"info", s}     a note from this loader
//   {t:"fatal", s}    the program could not run (no WebGPU adapter, load error)
//   {t:"exit", code}  the program exited
// Opened by hand (no binding), it logs to the console instead.
const statusEl = document.getElementById("status");
const setStatus = (s) => { statusEl.textContent = s; };
const report = typeof globalThis.__novae === "function"
  ? (m) => globalThis.__novae(JSON.stringify(m))
  : (m) => console.log("browsertest", m);

window.__errors = [];
addEventListener("error", (e) => window.__errors.push(String(e.error ?? e.message)));
addEventListener("unhandledrejection", (e) => window.__errors.push(String(e.reason)));

class Fatal extends Error {}
function fatal(msg) {
  setStatus("error: " + msg);
  report({ t: "fatal", s: msg });
}

try {
  const cfg = await (await fetch("config.json")).json();
  if (cfg.webgpu) {
    if (!navigator.gpu) throw new Fatal("navigator.gpu is undefined: WebGPU is disabled (Chromium needs --enable-unsafe-webgpu on Linux, and a secure context)");
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) throw new Fatal("navigator.gpu.requestAdapter() returned null: no WebGPU adapter");
    const i = adapter.info ?? {};
    report({ t: "info", s: `WebGPU adapter: ${[i.vendor, i.architecture, i.description].filter(Boolean).join(" / ")}` });
  }

  const go = new Go();
  // wasm_exec.js's fs.writeSync logs up to the last "\n" per console.log and
  // keeps the rest (lost at exit); decode() without {stream:true} also breaks
  // UTF-8 split across writes. Send the raw text instead; the harness
  // assembles lines. Both runtime.wasmWrite and syscall/fs_js end up here.
  const decoders = new Map();
  const decode = (fd, buf) => {
    if (!decoders.has(fd)) decoders.set(fd, new TextDecoder("utf-8"));
    return decoders.get(fd).decode(buf, { stream: buf !== undefined });
  };
  if (typeof globalThis.__novae === "function") {
    globalThis.fs.writeSync = (fd, buf) => {
      const s = decode(fd, buf);
      if (s) report({ t: "out", fd, s });
      return buf.length;
    };
  }
  go.argv = [cfg.name, ...cfg.args];
  go.exit = (code) => {
    for (const fd of decoders.keys()) {
      const s = decode(fd);
      if (s) report({ t: "out", fd, s });
    }
    window.__exitCode = code;
    setStatus(`exited with code ${code}`);
    report({ t: "exit", code });
  };
  const result = await WebAssembly.instantiateStreaming(fetch(cfg.wasm), go.importObject);
  // cogentcore/webgpu's jsx.BytesToJS (Queue.WriteBuffer, WriteTexture) reads
  // globalThis.wasm.instance.exports.mem.buffer: it wants the whole
  // {module, instance} result, not the instance.
  globalThis.wasm = result;
  setStatus("running");
  await go.run(result.instance);
} catch (e) {
  fatal(e instanceof Fatal ? e.message : String(e?.stack ?? e));
}
