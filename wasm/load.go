//go:build js

package main

// Loading a model. On WebGPU, Go parses the manifest, allocates one GPU
// buffer per stored tensor (model.NewGPUSource) and hands the page's
// weights.js a plan — shard URL, size, sha256, and per tensor its GPUBuffer,
// dtype, shape and size — and weights.js streams every shard from the cache
// or the network straight into those buffers. The bytes never enter the Go
// heap. On the CPU fallback the (small) shards are copied into Go and read
// with weights.NewSet.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"syscall/js"
	"time"

	promise "github.com/nlepage/go-js-promise"

	"novae/model"
	"novae/model/weights"
)

// cpuMaxBytes is the largest model the CPU fallback loads: beyond that a
// step takes minutes and the wasm heap (4 GiB at most) runs short.
const cpuMaxBytes = 256 << 20

// weightsJS is the page's weights.js module (globalThis.novaeWeights).
func weightsJS() (js.Value, error) {
	w := js.Global().Get("novaeWeights")
	if !w.Truthy() {
		return w, errors.New("the page has no weights loader (globalThis.novaeWeights)")
	}
	return w, nil
}

func (a *app) unload() {
	a.unloadTwin()
	a.twinURL = ""
	if a.src != nil {
		a.src.Release()
		a.src = nil
	}
	a.m, a.modelJS, a.encoded, a.encRGBA = nil, nil, nil, nil
	a.mu.Lock()
	a.traj = nil
	a.mu.Unlock()
}

// load loads the model at url (a manifest) in place of the current one and
// announces it with the "ready" event.
func (a *app) load(url string) (any, error) {
	a.unload()
	a.modelURL = url // a device lost from here on reloads it
	mj, err := a.loadModel(url)
	if err != nil {
		return nil, err
	}
	a.emit("ready", mj)
	return mj, nil
}

// loadModel opens the model at url (openModel) as the page's model: it
// sets a.m, a.src and a.modelJS.
func (a *app) loadModel(url string) (map[string]any, error) {
	m, src, mj, err := a.openModel(url)
	if err != nil {
		return nil, err
	}
	a.m, a.src, a.modelJS = m, src, mj
	return mj, nil
}

// openModel fetches the manifest, checks that the model fits (the GPU's
// limits, or the CPU fallback's size) before downloading anything, streams
// the shards (weights.js: cached, checked) and opens the model with its
// encoders. The page's model and a compare twin both load through it.
func (a *app) openModel(url string) (*model.SVG, *model.GPUSource, map[string]any, error) {
	start := time.Now()
	var m *model.SVG
	var gsrc *model.GPUSource
	wj, err := weightsJS()
	if err != nil {
		return nil, nil, nil, err
	}
	res, err := promise.Await(wj.Call("fetchManifest", url))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("manifest %s: %w", url, err)
	}
	base := res.Get("url").String()
	text := res.Get("text").String()
	man, err := weights.ParseManifest([]byte(text))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("manifest %s: %w", url, err)
	}
	cfg, err := model.ParseConfig(man.Metadata)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("manifest %s: %w", url, err)
	}
	var total int64
	for _, s := range man.Shards {
		total += s.Bytes
	}
	a.emit("manifest", map[string]any{"url": base, "name": cfg.Name, "bytes": float64(total),
		"shards": len(man.Shards), "fromCache": res.Get("fromCache").Bool()})

	progress := js.FuncOf(func(_ js.Value, args []js.Value) any {
		if len(args) > 0 {
			a.emit("progress", args[0])
		}
		return nil
	})
	defer progress.Release()

	// A model too large for the CPU path brings the passed-over software
	// adapter into use — only for the page's model: a twin must run where the
	// model already is.
	if a.gpu == nil && total > cpuMaxBytes && a.soft.Truthy() && a.m == nil {
		if err := a.useSoftGPU(); err != nil {
			return nil, nil, nil, fmt.Errorf("this model is %s, too large for the CPU path, and WebGPU could not be used: %w", mib(total), err)
		}
	}
	var sources js.Value
	if a.gpu != nil {
		dev := a.gpu.E.DeviceJS()
		// Buffers for every tensor, sized from the manifest: a tensor this
		// GPU cannot bind is refused here, before a byte is downloaded.
		src, c, err := model.NewGPUSource(a.gpu.E, man)
		if errors.Is(err, model.ErrTooLarge) {
			return nil, nil, nil, fmt.Errorf("model %q cannot run on this GPU (nothing was downloaded): %w", cfg.Name, err)
		}
		if err != nil {
			return nil, nil, nil, fmt.Errorf("manifest %s: %w", url, err)
		}
		plan := js.Global().Get("Object").New()
		plan.Set("manifest", base)
		plan.Set("total", float64(total))
		shards := js.Global().Get("Array").New()
		byShard := map[int]js.Value{}
		for i, s := range man.Shards {
			o := js.Global().Get("Object").New()
			o.Set("file", s.File)
			o.Set("bytes", float64(s.Bytes))
			o.Set("sha256", s.SHA256)
			o.Set("tensors", js.Global().Get("Array").New())
			shards.Call("push", o)
			byShard[i] = o
		}
		for _, e := range src.Entries() {
			t := js.Global().Get("Object").New()
			t.Set("name", e.Name)
			t.Set("buffer", e.T.BufferJS())
			t.Set("dtype", string(e.DType))
			sh := js.Global().Get("Array").New()
			for _, d := range e.Shape {
				sh.Call("push", d)
			}
			t.Set("shape", sh)
			t.Set("bytes", float64(e.Bytes))
			byShard[e.Shard].Get("tensors").Call("push", t)
		}
		plan.Set("shards", shards)
		sources, err = promise.Await(wj.Call("load", dev, plan, progress))
		if err != nil {
			src.Release()
			return nil, nil, nil, fmt.Errorf("weights: %w", err)
		}
		m, err = model.Open(a.gpu, src, c, true)
		if err != nil {
			src.Release()
			return nil, nil, nil, err
		}
		gsrc = src
	} else {
		if total > cpuMaxBytes {
			return nil, nil, nil, fmt.Errorf("this model is %s; without WebGPU the CPU fallback runs models up to %s only",
				mib(total), mib(cpuMaxBytes))
		}
		blobs := map[string][]byte{}
		sources = js.Global().Get("Array").New()
		var done int64
		for _, s := range man.Shards {
			r, err := promise.Await(wj.Call("fetchShard", base, s.File, s.SHA256, float64(s.Bytes), float64(done), float64(total), progress))
			if err != nil {
				return nil, nil, nil, fmt.Errorf("weights: %w", err)
			}
			u8 := r.Get("data")
			b := make([]byte, u8.Get("length").Int())
			js.CopyBytesToGo(b, u8)
			blobs[s.File] = b
			sources.Call("push", r.Get("source"))
			done += s.Bytes
		}
		f, err := weights.NewSet([]byte(text), base, func(file string) (io.ReaderAt, int64, error) {
			b, ok := blobs[file]
			if !ok {
				return nil, 0, fmt.Errorf("not fetched")
			}
			return bytes.NewReader(b), int64(len(b)), nil
		})
		if err != nil {
			return nil, nil, nil, err
		}
		if err := f.Verify(); err != nil {
			return nil, nil, nil, err
		}
		m, err = model.Open(a.b, model.FileSource{F: f}, cfg, true)
		if err != nil {
			return nil, nil, nil, err
		}
	}

	c := m.Cfg
	classes := []any{}
	for _, n := range c.Classes {
		classes = append(classes, n)
	}
	src := []any{}
	for i := range sources.Length() {
		src = append(src, sources.Index(i).String())
	}
	mj := map[string]any{
		"url": base, "name": c.Name, "image": c.Image, "classes": classes, "numClasses": c.DiT.NumClasses,
		"tokens": c.DiT.Grid * c.DiT.Grid, "channels": c.DiT.InChannels,
		"params": float64(paramCount(c, hasEncoders(m))), "bytes": float64(total), "latent": c.LatentKind(),
		"encoders": hasEncoders(m), "encoderImage": m.EncoderImage(), "backend": a.bootRes["backend"], "sources": src,
		"defaults": map[string]any{"steps": c.Defaults.Steps, "cfg": c.Defaults.CFG,
			"shift": c.Defaults.Shift, "schedule": c.Defaults.Schedule},
		"ms": ms(time.Since(start)),
	}
	return m, gsrc, mj, nil
}

// hasEncoders: the model file holds what encode needs (DINO and the
// residual ViT, or the VAE's encoder).
func hasEncoders(m *model.SVG) bool { return m.Dino != nil || m.VAE != nil }

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// paramCount counts the parameters of cfg on a fresh skeleton (Params on a
// loaded network would rebuild its block slices).
func paramCount(c model.Config, encoders bool) int {
	return model.Count(model.Skeleton(c, encoders).Params())
}
