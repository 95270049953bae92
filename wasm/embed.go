//go:build js

package main

// What the page's embed API needs from Go beyond app.go's commands: the
// finished picture, and errors that name the option at fault.

import (
	"errors"
	"syscall/js"
)

// embedAPI adds to globalThis.novae:
//
//	picture()   the last run's final images, one panel each (Layout.Picture):
//	            {w, h, rgba, b, cols, rows, s, kind} or {error} when there is none
func (a *app) embedAPI(api js.Value) {
	fn := js.FuncOf(func(js.Value, []js.Value) any { return a.picture() })
	a.funcs = append(a.funcs, fn)
	api.Set("picture", fn)
}

func (a *app) picture() any {
	a.mu.Lock()
	traj := a.traj
	a.mu.Unlock()
	if len(traj) == 0 {
		return map[string]any{"error": "no picture yet: generate one first"}
	}
	f := traj[len(traj)-1]
	switch {
	case f.Kind == "encode":
		return map[string]any{"error": "the last result is an encoded image, not a generated one"}
	case f.Kind != "final" && f.Kind != "interp" && !(f.Kind == "step" && f.Step == f.Steps-1):
		return map[string]any{"error": "the last run was stopped before its last step"}
	}
	l, px, ok := f.Layout.Picture(f.RGBA)
	if !ok {
		return map[string]any{"error": "the v view shows the velocity, not the image: generate with another view"}
	}
	u8 := js.Global().Get("Uint8ClampedArray").New(len(px))
	js.CopyBytesToJS(js.Global().Get("Uint8Array").New(u8.Get("buffer")), px)
	return map[string]any{"w": l.W, "h": l.H, "rgba": u8, "b": l.B, "cols": l.Cols, "rows": l.Rows, "s": l.S, "kind": f.Kind}
}

// errorDetail is an error event's detail: the command, the message and,
// for a refused option, its name.
func errorDetail(op string, err error) map[string]any {
	d := map[string]any{"op": op, "message": err.Error()}
	var oe *OptionError
	if errors.As(err, &oe) {
		d["option"] = oe.Option
	}
	return d
}
