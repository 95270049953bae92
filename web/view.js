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

// ebiten's minimum-FPS mode draws only when the program schedules a frame,
// but it still asks for an animation frame 60 times a second to find out.
// Those requests wait here while there is nothing new to draw, and the
// program wakes them when it hands over a frame (novaeView.wake in
// wasm/app.go's show): an idle page then uses no CPU at all. A few frames
// after each wake (and at the start) pass straight through.
const nextFrame = window.requestAnimationFrame.bind(window);
let parked = [], budget = 30;
window.requestAnimationFrame = (cb) => {
  if (budget > 0) {
    budget--;
    return nextFrame(cb);
  }
  parked.push(cb);
  return 0;
};
globalThis.novaeView = {
  wake() {
    budget = Math.max(budget, 4);
    const cbs = parked;
    parked = [];
    for (const cb of cbs) nextFrame(cb);
  },
};

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
