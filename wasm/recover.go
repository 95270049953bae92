//go:build js

package main

// A lost GPU device (a driver reset, the GPU process restarting, the tab
// backgrounded on a phone, device.destroy() in the tests) is detected through
// device.lost, reported with the "devicelost" event, and recovered from: a
// new device is requested, the model is loaded onto it again (its shards come
// from the browser's cache, checked again), and a generation that was running
// resumes at its last completed step (generate keeps a host copy of the
// latent after each step; model.SampleOptions.Start continues the same time
// grid, so the result is the one an uninterrupted run gives).

import (
	"fmt"
	"syscall/js"
	"time"

	"novae/model"
	"novae/shaders"
)

// maxRecoveries bounds the device re-creations within one generation.
const maxRecoveries = 3

// watchLoss reports e's device loss and queues a recovery for when the
// worker is free (a generation that sees the loss recovers at once; the
// queued recovery then finds a live device and does nothing).
func (a *app) watchLoss(e *shaders.Engine) {
	dev := e.DeviceJS()
	var f js.Func
	f = js.FuncOf(func(_ js.Value, args []js.Value) any {
		f.Release()
		reason, msg := "unknown", ""
		if len(args) > 0 && args[0].Truthy() {
			reason, msg = args[0].Get("reason").String(), args[0].Get("message").String()
		}
		a.lostMu.Lock()
		a.lost[e] = true
		a.lostMu.Unlock()
		a.emit("devicelost", map[string]any{"reason": reason, "message": msg})
		p := a.queue("recover", func() (any, error) {
			if a.gpu == nil || a.gpu.E != e {
				return nil, nil // already recovered
			}
			return nil, a.recoverGPU(fmt.Sprintf("%s: %s", reason, msg))
		})
		p.Call("catch", js.FuncOf(func(js.Value, []js.Value) any { return nil })) // reported as an error event
		return nil
	})
	dev.Get("lost").Call("then", f)
}

// gpuLost reports whether e's device is lost, giving device.lost a moment
// to settle: an operation on a destroyed device can fail before the lost
// promise's callbacks have run.
func (a *app) gpuLost(e *shaders.Engine) bool {
	for range 20 {
		a.lostMu.Lock()
		l := a.lost[e]
		a.lostMu.Unlock()
		if l {
			return true
		}
		time.Sleep(25 * time.Millisecond) // lets the JS event loop run
	}
	return false
}

// recoverGPU replaces the lost engine with a new device and reloads the
// model onto it (without the "ready" event: the page keeps its settings).
func (a *app) recoverGPU(why string) error {
	start := time.Now()
	old := a.gpu.E
	if a.src != nil {
		a.src.Release()
		a.src = nil
	}
	a.m, a.modelJS = nil, nil
	a.unloadTwin()
	e, err := shaders.New(shaders.Options{})
	if err != nil {
		return fmt.Errorf("the GPU device was lost (%s) and a new one could not be made: %w", why, err)
	}
	a.gpu = model.NewGPU(e)
	a.b = a.gpu
	a.watchLoss(e)
	a.lostMu.Lock()
	delete(a.lost, old)
	a.lostMu.Unlock()
	a.bootRes["adapter"] = e.Adapter
	out := map[string]any{"adapter": e.Adapter, "model": nil}
	if a.modelURL != "" {
		mj, err := a.loadModel(a.modelURL)
		if err != nil {
			return fmt.Errorf("the GPU device was lost (%s) and the model could not be reloaded: %w", why, err)
		}
		out["model"] = mj
		if a.twinURL != "" {
			if _, err := a.loadTwin(a.twinURL); err != nil {
				return fmt.Errorf("the GPU device was lost (%s) and the compare twin could not be reloaded: %w", why, err)
			}
		}
	}
	out["ms"] = ms(time.Since(start))
	a.emit("recovered", out)
	return nil
}
