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
//	wasm/compare.go                   compare mode: the model beside its VAE-latent twin
//
// The worker owns the engine and the model and runs one command at a time.
// JS calls only queue commands (a js.FuncOf must never block) and get a
// Promise back. The Game's Update takes the latest frame from a channel,
// Draw writes it into one reused image with WritePixels, and Layout is the
// frame's size, so ebiten scales it to the canvas with crisp pixels. The
// Game runs in ebiten's minimum-FPS mode: it draws only when show() hands it
// a frame (ScheduleFrame, and novaeView.wake in view.js, which holds back
// the animation frames ebiten would request while idle), so an idle page
// uses no CPU.
//
// # Which path computes
//
// At boot the page asks for a WebGPU adapter and path.go decides: a hardware
// GPU runs WebGPU; a software adapter (SwiftShader, llvmpipe, lavapipe, a
// fallback adapter) runs the small models on the CPU path, which is faster
// there, unless the view's URL has webgpu=1 (webgpu=0 asks for the CPU
// path anywhere); a model over 256 MiB then takes the software adapter's
// WebGPU after all. The boot event's path is one plain sentence saying which
// path runs and why.
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
// # Compare mode
//
// A model may have a VAE-latent twin: the same DiT, trained the same way on
// the latent of an LDM KL autoencoder (model/vae.go). scripts/models.sh
// lists a model shipped as models/<name>-vae/ beside models/<name>/ as
// <name>'s twin in models/index.json ({"twins": {"digits": "digits-vae"}});
// the page shows the "Compare with a VAE latent" switch for a model with a
// twin, and only then. loadTwin(url) opens the twin through the same path
// as load (weights.js streams its shards into GPU buffers and caches them;
// on the CPU path into Go), and refuses one whose picture size or classes
// differ (TwinFits). generate({compare: true, …}) then runs both samplers
// in lock step, each with the same class, seed, steps, sampler, CFG,
// schedule and shift (each model's noise is model.Noise(seed) of its own
// latent size, as novae sample draws it): two goroutines hand a token back
// and forth, so one step of each runs, then the frame of both is shown —
// CompareLayout, image 0 the SVG latent and image 1 the VAE latent, with
// the view's panels — and kept for the scrubber. The latents stay in GPU
// buffers. Compare takes one image per model (grid 1, no interpolation).
//
// A VAE-latent model also loads alone with its encoder: encode takes its
// pixels in [-1,1] (Config.InputNorm), keeps the posterior mean normalised
// per channel (latent.mean/std), and shows the latent's channels by PCA;
// img2img and interpolateEncoded work on that latent as on SVG's.
//
// # JS API (globalThis.novae in the view iframe)
//
//	on(fn)                   fn(type, detail) for every event (below)
//	info()                   {boot, model, twin}
//	load(url)                Promise<model info>: name, image, classes, numClasses, defaults, params, bytes, sources,
//	                         latent ("svg" or "vae"), encoders (the file holds what encode needs)
//	loadTwin(url)            Promise<the twin's model info>: loads the model's VAE-latent twin for compare mode
//	                         (after load; a new load drops it)
//	generate(opts)           Promise<done>, whose .run is the run's number (its events carry it as run);
//	                         opts as in RawOptions (class, seed, steps, sampler, cfg, schedule, shift, view,
//	                         grid, seedB, frames, compare), validated and clamped by ParseOptions (a class the model
//	                         lacks, or a value of the wrong kind, is an *OptionError naming the option);
//	                         a newer generate or cancel() stops a running one at its next step
//	cancel()
//	show(i)                  shows frame i of the last run (the scrubber): {step, steps, t} or false;
//	                         frame 0 is the start (step −1: the noise, or img2img's noised picture at t0)
//	timeGrid(steps, shift)   the sampler's time grid (model.TimeGrid), for the plot
//	pixels()                 the frame on the canvas: {w, h, rgba, layout, kind, step, steps, t, seq}
//	device()                 the GPUDevice in use (null on the CPU fallback); tests destroy it
//	drawn()                  seq of the frame the canvas last drew
//	encode(rgba)             Promise: an E×E RGBA picture (E = model info's encoderImage) → latent; shows
//	                         input | PCA of the DINO features (SVG) or of the latent channels (VAE) | reconstruction
//	img2img(opts)            Promise: from the last encoded latent, opts + strength (1 − t0)
//	interpolateEncoded(n)    Promise: decodes n points between the last two encoded latents
//	picture()                the last run's finished images, one panel each (Layout.Picture):
//	                         {w, h, rgba, b, cols, rows, s, kind}, or {error} (none yet, stopped, view v)
//
// Events: boot {backend, adapter, label, path, software, asked, reason}
// (again when a large model brings a passed-over software adapter into
// use), manifest {name, bytes,
// shards}, progress {phase, loaded, total, shard, file, source}, ready
// {model info}, start {run, mode, settings…, times, from, layout} (times: the
// run's time grid from its start time from, 0 or img2img's t0), step {run, i, n, t, ms,
// decodeMs, cfg, dispatches} (ms: the step's own time, on every path and
// view), done {run, ms, msPerStep, decodeMs, steps, frames,
// dispatchesPerStep}, canceled {run, steps}, encoded, interpolated, error
// {op, message, option}, devicelost {reason, message}, recovered {ms,
// adapter, model}, resumed {run, from, steps}, twinready {the twin's model
// info}. A compare run's start has mode "compare", compare: true and twin
// (its name); its step events add twinMs (the twin's own step time; ms is
// the page model's) and twinDispatches, its done twinMsPerStep and
// twinDispatchesPerStep; its layout has labels ["SVG latent", "VAE latent"].
//
// # Failures
//
// A model that cannot fit is refused from its manifest before anything is
// downloaded: a tensor over the device's binding or buffer limit
// (model.ErrTooLarge, naming the tensor), or, on the CPU fallback, a model
// over 256 MiB. A lost GPU device is re-created, the model reloaded from the
// cache and a running generation resumed at its next step (recover.go);
// a loaded twin is reloaded too, and a compare run that meets a lost
// device ends with an error (run it again once recovered).
// Downloads resume or restart when interrupted and nothing is cached before
// its sha256 matches (web/weights.js).
//
// # Embedding
//
// index.html runs in an iframe; its URL parameters set the first run, and a
// postMessage protocol lets the host page drive it (web/app.js):
//
//	<iframe src="https://host/novae/?controls=minimal&class=3&steps=4&autoplay=1" width="512" height="360"></iframe>
//
// URL parameters (out-of-range numbers are clamped, unknown values ignored;
// a class the model lacks is ignored and reported as novae:error {op: "url",
// option: "class"}):
// model (a name in models/index.json), weights (a model.json URL), class
// (a number or "random"), seed (a number or "random"), steps (1–50), cfg
// (1–10), sampler (euler, heun), schedule (constant, linear, late, early-T,
// interval-A-B, cfg_star-N-W), shift (0.05–3), view (both, x0, xt, v,
// final), grid (1–16 images), autoplay (1 runs once ready, 0 never),
// controls (full; minimal: picture, Generate/Stop/Download and one status
// line, sized for a 512×360 frame; none: the picture alone), webgpu (1:
// WebGPU even on a software renderer, 0: the CPU path), origin (the only
// origin the frame talks to), compare (1: the model beside its VAE-latent
// twin, one image each; for a model without a twin it is ignored and
// reported as novae:error {op: "url", option: "compare"}).
//
// Commands, host → frame: postMessage({type, id, …}, frameOrigin). id is
// optional (a string of up to 64 characters, or a number); without one the
// frame makes one ("novae-<n>"). Commands are taken from the parent only
// (and with origin= from that origin only), after novae:ready.
//
//	{type: "novae:generate", id, options: {class, seed, steps, cfg, sampler, schedule, shift, view, grid, compare}}
//	    Checked whole against the same ranges as the URL's (class: 0…classes−1, classes for
//	    unconditional, -1 or "random"; seed: 0…2³²−1 or "random"; compare: true or false, true
//	    only for a model with a twin and without grid over 1): one bad option answers
//	    novae:error {id, op: "generate", option, options, message} naming each, and nothing
//	    changes or runs. Unknown option names are ignored. A newer generate replaces a running one.
//	    compare: true loads the twin first (novae:progress events), then runs both side by side.
//	{type: "novae:stop"}
//	    Stops the running command; it answers novae:canceled with its own id.
//	{type: "novae:image", id}
//	    Answers novae:image with the last finished picture, or novae:error {id, op: "image"}.
//
// Events, frame → host: {type: "novae:<event>", …}. Every event of a
// generate command carries its id, in this order:
//
//	novae:started  {id, class, seed, seeds, steps, sampler, cfg, schedule, shift, view, grid, notes, backend, mode}
//	               the settings as run (random seeds and classes resolved); compare: true and twin in compare mode
//	novae:step     {id, i, n, t, ms, decodeMs, cfg, dispatches}, one per step; ms is the step's own time
//	               (compare mode: ms the SVG-latent model's, twinMs the twin's)
//	novae:done     {id, ms, msPerStep, decodeMs, steps, frames, settings} (compare mode: and twinMsPerStep)
//	novae:canceled {id, steps}       instead of done: stopped, or replaced by a newer command
//	novae:error    {id, op, option?, message}
//
// Runs the visitor starts get an id of the frame's making and the same
// events. Other events: novae:progress {phase, loaded, total, …} while the
// weights load, novae:ready {model, backend, adapter, classes, image},
// novae:image {id, of (the id of the run that made it), width, height,
// images, cols, rows, size, settings, dataURL (image/png)}: every image of
// the run once (x̂₀, which is x_t at t = 1), in the run's grid (compare
// mode: both models' pictures, SVG latent left);
// novae:error without an id for a failure outside a command (loading);
// novae:devicelost and novae:recovered when the GPU device is lost and
// re-created. The README's "Embedding" section has a host page.
package main
