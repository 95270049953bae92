// novae weights loader: streams a sharded safetensors set (model.json, see
// model/weights/doc.go) into GPU buffers that Go allocated, without the
// bytes ever entering the Go heap.
//
//   globalThis.novaeWeights = {fetchManifest, fetchShard, load, parseHeader, clearCache}
//
// Every shard is verified against the manifest's sha256 (crypto.subtle)
// before anything of it is trusted: before it is written to the GPU, and
// before it is cached. An interrupted download resumes with a Range request
// (or restarts) a few times before it fails (download). Cached shards are verified again when read, so a
// half-written or corrupted entry is dropped and fetched again. Caches are
// tried in order: the Cache API, then IndexedDB, then memory (this page
// only) when storage is refused. Keys are the sha256, so the same shard is
// stored once whatever the model URL.
//
// Progress events are byte-accurate: {phase, loaded, total, shard, shards,
// file, source} with loaded counting bytes received (network or cache).

const CACHE = "novae-weights-v1";
const DB = "novae-weights";
const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");

export async function sha256(data) {
  return hex(await crypto.subtle.digest("SHA-256", data));
}

// ---- caches: each {name, get(key) → Uint8Array|undefined, put(key, data), delete(key)}

const cacheKey = (sha) => new URL(`/__novae_cache__/${sha}`, location.href).href;

const cacheAPI = {
  name: "cache",
  ok: () => typeof caches !== "undefined",
  async get(sha) {
    const c = await caches.open(CACHE);
    const r = await c.match(cacheKey(sha));
    return r ? r : undefined; // a Response: read by streaming for progress
  },
  async put(sha, data) {
    const c = await caches.open(CACHE);
    await c.put(cacheKey(sha), new Response(data, { headers: { "Content-Type": "application/octet-stream", "Content-Length": String(data.byteLength) } }));
  },
  async delete(sha) {
    const c = await caches.open(CACHE);
    await c.delete(cacheKey(sha));
  },
};

function idb() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore("shards");
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function idbOp(mode, f) {
  return idb().then((db) => new Promise((resolve, reject) => {
    const tx = db.transaction("shards", mode);
    const req = f(tx.objectStore("shards"));
    tx.oncomplete = () => { db.close(); resolve(req.result); };
    tx.onabort = tx.onerror = () => { db.close(); reject(tx.error); };
  }));
}

const indexedDBStore = {
  name: "indexeddb",
  ok: () => typeof indexedDB !== "undefined",
  async get(sha) {
    const v = await idbOp("readonly", (s) => s.get(sha));
    return v ? new Uint8Array(v) : undefined;
  },
  async put(sha, data) { await idbOp("readwrite", (s) => s.put(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength), sha)); },
  async delete(sha) { await idbOp("readwrite", (s) => s.delete(sha)); },
};

// The last resort keeps shards for this page's life only, up to a budget
// (a large model would not fit twice: once on the GPU, once here).
const memory = new Map();
const MEMORY_BUDGET = 512 << 20;
const memoryStore = {
  name: "memory",
  ok: () => true,
  async get(sha) { return memory.get(sha); },
  async put(sha, data) {
    let used = 0;
    for (const v of memory.values()) used += v.byteLength;
    if (used + data.byteLength > MEMORY_BUDGET) throw new Error("over the in-memory budget");
    memory.set(sha, data);
  },
  async delete(sha) { memory.delete(sha); },
};

// Stores in order of preference; ?nocache=1 or clearCache() skip them.
export const stores = [cacheAPI, indexedDBStore, memoryStore];
let disabled = new URLSearchParams(location.search).get("nocache") === "1";

export async function clearCache() {
  memory.clear();
  try { if (cacheAPI.ok()) await caches.delete(CACHE); } catch {}
  try { if (indexedDBStore.ok()) await new Promise((res) => { const r = indexedDB.deleteDatabase(DB); r.onsuccess = r.onerror = r.onblocked = res; }); } catch {}
}

// readAll reads a Response body into one preallocated array of the expected
// size, reporting progress per chunk; a body of another size is an error.
async function readAll(resp, bytes, onChunk) {
  const out = new Uint8Array(bytes);
  let n = 0;
  if (!resp.body) { // some caches give no stream
    const b = new Uint8Array(await resp.arrayBuffer());
    if (b.byteLength !== bytes) throw new Error(`got ${b.byteLength} bytes, want ${bytes}`);
    onChunk(bytes);
    return b;
  }
  const reader = resp.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (n + value.byteLength > bytes) {
      reader.cancel();
      throw new Error(`more than the ${bytes} bytes the manifest lists`);
    }
    out.set(value, n);
    n += value.byteLength;
    onChunk(value.byteLength);
  }
  if (n !== bytes) throw new Error(`got ${n} bytes, want ${bytes}`);
  return out;
}

// fetchVerified returns a shard's verified bytes and where they came from.
// progress(delta, source) is called as bytes arrive.
async function fetchVerified(url, sha, bytes, progress) {
  if (!disabled) {
    for (const s of stores) {
      if (!s.ok()) continue;
      let counted = 0;
      try {
        const got = await s.get(sha);
        if (!got) continue;
        let data;
        if (got instanceof Response) {
          data = await readAll(got, bytes, (d) => { counted += d; progress(d, s.name); });
        } else {
          data = got;
          counted = data.byteLength;
          progress(counted, s.name);
        }
        if (data.byteLength === bytes && await sha256(data) === sha) return { data, source: s.name };
        console.warn(`novae: dropping a bad cached copy of ${sha.slice(0, 12)} from ${s.name}`);
      } catch (e) {
        console.warn(`novae: cache ${s.name} unreadable for ${sha.slice(0, 12)}: ${e}`);
      }
      if (counted) progress(-counted, s.name); // not trusted: it is counted again below
      try { await s.delete(sha); } catch {}
    }
  }
  const data = await download(url, sha, bytes, progress);
  let stored = "";
  if (!disabled) {
    for (const s of stores) { // the first store that accepts it
      if (!s.ok()) continue;
      try { await s.put(sha, data); stored = s.name; break; } catch (e) {
        console.warn(`novae: ${s.name} refused ${sha.slice(0, 12)}: ${e}`);
      }
    }
  }
  return { data, source: "network", stored };
}

// An interrupted download (the connection dropped, the server restarted, a
// proxy cut the body short) is resumed with a Range request for the missing
// bytes, or restarted when the server ignores the range, as long as attempts
// make progress (RETRY.attempts in a row that bring nothing end it), with a
// growing pause between failures. Nothing is trusted or cached until the whole
// shard has its sha256: a resumed download whose pieces came from two
// versions of the file fails that check and is fetched once more whole.
export const RETRY = { attempts: 4, max: 64, pauseMs: 250 }; // attempts: in a row without progress

async function download(url, sha, bytes, progress) {
  // The server marks a ?sha256= request immutable once it has checked the
  // digest, so the HTTP cache may keep it for good.
  const u = new URL(url);
  u.searchParams.set("sha256", sha);
  for (let whole = 0; ; whole++) {
    const out = new Uint8Array(bytes);
    let n = 0; // bytes received and kept
    let resumed = false;
    let last = "";
    let fails = 0; // attempts in a row that brought nothing
    let attempts = 0;
    for (; fails < RETRY.attempts && attempts < RETRY.max && n < bytes; attempts++) {
      if (attempts > 0) await new Promise((r) => setTimeout(r, RETRY.pauseMs * 2 ** Math.max(0, fails - 1)));
      const before = n;
      let resp;
      try {
        resp = await fetch(u, n > 0 ? { cache: "no-store", headers: { Range: `bytes=${n}-` } } : { cache: "no-cache" });
      } catch (e) {
        last = e.message ?? String(e);
        fails++;
        continue; // offline for a moment, or refused: try again
      }
      if (n > 0 && resp.status === 416) {
        progress(-n, "network");
        throw new Error(`${url}: the server's file ends at byte ${n}, the manifest lists ${bytes} bytes (a truncated upload?)`);
      }
      if (n > 0 && !(resp.status === 206 && (resp.headers.get("Content-Range") ?? "").startsWith(`bytes ${n}-`))) {
        progress(-n, "network"); // no usable range: start again from byte 0
        n = 0;
      } else if (n > 0) {
        resumed = true;
      }
      if (!resp.ok) {
        last = `HTTP ${resp.status}`;
        fails++;
        if (resp.status >= 400 && resp.status < 500 && resp.status !== 408 && resp.status !== 429) break; // will not get better
        continue;
      }
      try {
        n = await readInto(resp, out, n, (d) => progress(d, "network"));
      } catch (e) {
        last = e.message ?? String(e);
      }
      fails = n > before ? 0 : fails + 1;
    }
    if (n !== bytes) {
      progress(-n, "network");
      throw new Error(`${url}: download failed (${last || "the body ended early"}; ${n} of ${bytes} bytes after ${attempts} attempt${attempts > 1 ? "s" : ""})`);
    }
    const got = await sha256(out);
    if (got === sha) return out;
    progress(-n, "network");
    if (!resumed || whole > 0) {
      throw new Error(`${url}: sha256 mismatch (got ${got.slice(0, 16)}…, manifest says ${sha.slice(0, 16)}…): the file on the server is not the one the manifest describes`);
    }
  }
}

// readInto reads a response body into out from offset n and returns the new
// offset; a body that would overrun out is an error. A body cut short just
// ends early (the caller resumes); a dropped connection throws.
async function readInto(resp, out, n, onChunk) {
  if (!resp.body) {
    const b = new Uint8Array(await resp.arrayBuffer());
    if (n + b.byteLength > out.byteLength) throw new Error(`more than the ${out.byteLength} bytes the manifest lists`);
    out.set(b, n);
    onChunk(b.byteLength);
    return n + b.byteLength;
  }
  const reader = resp.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return n;
    if (n + value.byteLength > out.byteLength) {
      reader.cancel();
      throw new Error(`more than the ${out.byteLength} bytes the manifest lists`);
    }
    out.set(value, n);
    n += value.byteLength;
    onChunk(value.byteLength);
  }
}

// fetchManifest fetches model.json (network first, the cached copy when
// offline). Returns {text, url (absolute), fromCache}.
export async function fetchManifest(url) {
  const abs = new URL(url, location.href).href;
  const key = new URL(`/__novae_cache__/manifest?u=${encodeURIComponent(abs)}`, location.href).href;
  try {
    const resp = await fetch(abs, { cache: "no-cache" });
    if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
    const text = await resp.text();
    if (!disabled && typeof caches !== "undefined") {
      try { await (await caches.open(CACHE)).put(key, new Response(text)); } catch {}
    }
    return { text, url: abs, fromCache: false };
  } catch (e) {
    if (!disabled && typeof caches !== "undefined") {
      try {
        const r = await (await caches.open(CACHE)).match(key);
        if (r) return { text: await r.text(), url: abs, fromCache: true };
      } catch {}
    }
    throw new Error(`${abs}: ${e.message ?? e}`);
  }
}

// parseHeader reads a safetensors header: {dataStart, tensors: {name:
// {dtype, shape, begin, end}}} with offsets relative to dataStart.
export function parseHeader(data, file) {
  if (data.byteLength < 8) throw new Error(`${file}: too short for a safetensors file`);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  if (n > data.byteLength - 8 || n > 100 << 20) throw new Error(`${file}: header length ${n} exceeds the file`);
  const hdr = JSON.parse(new TextDecoder().decode(data.subarray(8, 8 + n)));
  const tensors = {};
  for (const [k, v] of Object.entries(hdr)) {
    if (k === "__metadata__") continue;
    tensors[k] = { dtype: v.dtype, shape: v.shape, begin: v.data_offsets[0], end: v.data_offsets[1] };
  }
  return { dataStart: 8 + n, tensors };
}

// writeTensor copies data[begin:end) into buf with writeBuffer, whose size
// must be a multiple of 4: the last partial word goes through a zero-padded
// 4-byte array (the buffer is padded to 4 bytes too).
function writeTensor(device, buf, data, begin, end) {
  const len = end - begin;
  const whole = len & ~3;
  if (whole > 0) device.queue.writeBuffer(buf, 0, data, begin, whole);
  if (whole < len) {
    const tail = new Uint8Array(4);
    tail.set(data.subarray(begin + whole, end));
    device.queue.writeBuffer(buf, whole, tail);
  }
}

const eq = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

// load streams every shard of plan into its tensors' buffers:
//   plan = {manifest, total, shards: [{file, bytes, sha256,
//           tensors: [{name, buffer, dtype, shape, bytes}]}]}
// Resolves with the source of each shard ("network", "cache", "indexeddb",
// "memory"). A shard whose header disagrees with the plan is an error that
// names the tensor.
export async function load(device, plan, onProgress) {
  let loaded = 0;
  const sources = [];
  const t0 = performance.now();
  const report = (phase, i, extra = {}) => onProgress?.({
    phase, loaded, total: plan.total, shard: i, shards: plan.shards.length, file: plan.shards[i]?.file ?? "", ...extra,
  });
  for (let i = 0; i < plan.shards.length; i++) {
    const s = plan.shards[i];
    const url = new URL(s.file, plan.manifest).href;
    const { data, source } = await fetchVerified(url, s.sha256, s.bytes, (d, src) => {
      loaded += d;
      report("download", i, { source: src });
    });
    report("upload", i, { source });
    const h = parseHeader(data, s.file);
    for (const t of s.tensors) {
      const e = h.tensors[t.name];
      if (!e) throw new Error(`${s.file}: no tensor ${t.name}`);
      if (e.dtype !== t.dtype || !eq(e.shape, t.shape) || e.end - e.begin !== t.bytes) {
        throw new Error(`${s.file}: ${t.name} is ${e.dtype} [${e.shape}] (${e.end - e.begin} bytes), the model wants ${t.dtype} [${t.shape}] (${t.bytes} bytes)`);
      }
      writeTensor(device, t.buffer, data, h.dataStart + e.begin, h.dataStart + e.end);
    }
    sources.push(source);
  }
  await device.queue.onSubmittedWorkDone();
  report("done", plan.shards.length - 1, { ms: performance.now() - t0 });
  return sources;
}

// fetchShard returns one verified shard's bytes for the CPU fallback:
// {data: Uint8Array, source}. done/total place it in the whole download.
export async function fetchShard(manifestURL, file, sha, bytes, done, total, onProgress) {
  let loaded = done;
  const r = await fetchVerified(new URL(file, manifestURL).href, sha, bytes, (d, src) => {
    loaded += d;
    onProgress?.({ phase: "download", loaded, total, file, source: src });
  });
  return r;
}

globalThis.novaeWeights = { fetchManifest, fetchShard, load, parseHeader, clearCache, sha256, stores, RETRY };
