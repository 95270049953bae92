// novae's service worker: keeps the page itself (HTML, scripts, the wasm)
// so that a second visit starts offline; the weights have their own cache
// (weights.js). Network first: online, every file comes fresh (the server
// revalidates with ETags), and the copy is refreshed when it changed;
// offline, the kept copy answers. Shards and manifests pass through.

const SHELL = "novae-shell-v1";
const FILES = ["index.html", "app.js", "app.css", "view.html", "view.js", "weights.js", "wasm_exec.js", "novae.wasm"];
const base = new URL("./", self.location.href);

// key maps a request to its kept file ("" for anything else).
function key(u) {
  if (u.origin !== base.origin || !u.pathname.startsWith(base.pathname)) return "";
  let p = u.pathname.slice(base.pathname.length);
  if (p === "") p = "index.html";
  return FILES.includes(p) ? new URL(p, base).href : "";
}

self.addEventListener("install", (e) => {
  e.waitUntil(caches.open(SHELL).then((c) => c.addAll(FILES.map((f) => new URL(f, base).href))).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (e) => e.waitUntil(self.clients.claim()));

self.addEventListener("fetch", (e) => {
  if (e.request.method !== "GET") return;
  const k = key(new URL(e.request.url));
  if (!k) return;
  e.respondWith((async () => {
    const cache = await caches.open(SHELL);
    try {
      const resp = await fetch(e.request);
      if (resp.ok) {
        const kept = await cache.match(k);
        const tag = resp.headers.get("ETag");
        if (!kept || !tag || kept.headers.get("ETag") !== tag) e.waitUntil(cache.put(k, resp.clone()));
      }
      return resp;
    } catch (err) {
      const kept = await cache.match(k);
      if (kept) return kept;
      throw err;
    }
  })());
});
