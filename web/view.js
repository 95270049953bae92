// The view document: runs novae.wasm (ebiten draws into its own full-page
// canvas, which is why it lives in an iframe of index.html). Go publishes
// globalThis.novae; this file connects it to the page around it.
//
// The parent page (same origin) sets window.novaeApp = {attach(api), fail(msg)}
// before it creates this iframe; opened alone, events go to the console.
import "./weights.js";

const app = (() => { try { return parent !== window ? parent.novaeApp : undefined; } catch { return undefined; } })();

globalThis.novaeHost = {
  apiReady(api) {
    if (app?.attach) app.attach(api, window);
    else api.on((type, detail) => console.log("novae", type, detail));
  },
};

function fail(msg) {
  console.error("novae:", msg);
  if (app?.fail) app.fail(msg);
}

try {
  const go = new Go();
  go.exit = (code) => { if (code !== 0) fail(`the program exited with code ${code}`); };
  const result = await WebAssembly.instantiateStreaming(fetch("novae.wasm"), go.importObject);
  // cogentcore/webgpu's Queue.WriteBuffer reads wasm memory through this.
  globalThis.wasm = result;
  go.run(result.instance);
} catch (e) {
  fail(`could not start novae.wasm: ${e?.message ?? e}`);
}
