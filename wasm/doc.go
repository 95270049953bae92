// Command wasm is novae's browser app: SVG latent diffusion running on the
// visitor's GPU through WebGPU, drawn with ebiten. Build and serve it with
//
//	make run   # GOOS=js GOARCH=wasm go build -o web/novae.wasm ./wasm, then go run ./tools/serve
//
// # Pieces
//
//	web/index.html, app.js, app.css   the page: controls, captions, plot, scrubber, embed snippet, postMessage API
//	web/view.html, view.js            an iframe running novae.wasm (ebiten takes its whole document)
//	web/weights.js                    shard fetch → sha256 check → cache → device.queue.writeBuffer
//	web/sw.js                         keeps the page for offline visits
//	wasm/main.go                      the ebiten Game: shows the latest frame
//	wasm/app.go, load.go, generate.go the worker goroutine behind globalThis.novae
//
// The worker owns the engine and the model and runs one command at a time.
// JS calls only queue commands (a js.FuncOf must never block) and get a
// Promise back. The Game's Update takes the latest frame from a channel,
// Draw writes it into one reused image with WritePixels, and Layout is the
// frame's size, so ebiten scales it to the canvas with crisp pixels.
//
// # Weights
//
// load(url) fetches the manifest (model.json, model/weights/doc.go), and
// model.NewGPUSource allocates one GPU buffer per stored tensor from the
// config and quantization metadata alone. weights.js then streams each shard
// — from the Cache API, IndexedDB or memory when a verified copy is there,
// else from the network — checks its sha256 (crypto.subtle), checks each
// tensor's header entry against the buffer Go made, and writes the bytes
// with writeBuffer. The weights never enter the Go heap. Without WebGPU the
// model.CPU backend runs models up to 256 MiB, whose shards are copied into
// Go and read with weights.NewSet.
//
// # JS API (globalThis.novae in the view iframe)
//
//	on(fn)                   fn(type, detail) for every event (below)
//	info()                   {boot, model}
//	load(url)                Promise<model info>: name, image, classes, numClasses, defaults, params, bytes, sources
//	generate(opts)           Promise<done>; opts as in RawOptions (class, seed, steps, sampler, cfg, schedule,
//	                         shift, view, grid, seedB, frames), validated and clamped by ParseOptions;
//	                         a newer generate or cancel() stops a running one at its next step
//	cancel()
//	show(i)                  shows frame i of the last run (the scrubber): {step, steps, t} or false
//	timeGrid(steps, shift)   the sampler's time grid (model.TimeGrid), for the plot
//	pixels()                 the frame on the canvas: {w, h, rgba, layout, kind, step, steps, t, seq}
//	device()                 the GPUDevice in use (null on the CPU fallback); tests destroy it
//	drawn()                  seq of the frame the canvas last drew
//	encode(rgba)             Promise: an Image×Image RGBA picture → latent; shows input | DINO PCA | reconstruction
//	img2img(opts)            Promise: from the last encoded latent, opts + strength (1 − t0)
//	interpolateEncoded(n)    Promise: decodes n points between the last two encoded latents
//
// Events: boot {backend, adapter, label, reason}, manifest {name, bytes,
// shards}, progress {phase, loaded, total, shard, file, source}, ready
// {model info}, start {settings, layout}, step {i, n, t, ms, decodeMs, cfg,
// dispatches}, done {ms, msPerStep, decodeMs, steps, frames,
// dispatchesPerStep}, canceled, encoded,
// interpolated, error {op, message}, devicelost {reason, message},
// recovered {ms, adapter, model}, resumed {run, from, steps}.
//
// # Failures
//
// A model that cannot fit is refused from its manifest before anything is
// downloaded: a tensor over the device's binding or buffer limit
// (model.ErrTooLarge, naming the tensor), or, on the CPU fallback, a model
// over 256 MiB. A lost GPU device is re-created, the model reloaded from the
// cache and a running generation resumed at its next step (recover.go).
// Downloads resume or restart when interrupted and nothing is cached before
// its sha256 matches (web/weights.js).
//
// The page forwards ready, progress, step, done, error, devicelost and
// recovered to an embedding page as postMessage {type: "novae:<event>", …}
// and accepts {type: "novae:generate", options} and {type: "novae:stop"}
// from it (from its parent only, and with ?origin= only from that origin).
package main
