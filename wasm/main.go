//go:build js

package main

import (
	"github.com/hajimehoshi/ebiten/v2"
)

func main() {
	a := newApp()
	a.installAPI() // globalThis.novae: the page's handle on everything below
	go a.work()    // owns the engine and the model: boot, then commands
	ebiten.SetRunnableOnUnfocused(true)
	if err := ebiten.RunGame(&game{frames: a.frames, w: 1, h: 1}); err != nil {
		a.emit("error", map[string]any{"message": "display: " + err.Error()})
	}
}

// game shows the latest frame. Update takes it from the worker's channel,
// Draw writes it into one reused image (only when it changed) and draws
// that, and Layout is the frame's size, so ebiten scales it to the canvas
// with crisp pixels at any scale.
type game struct {
	frames <-chan *frame
	cur    *frame
	dirty  bool
	img    *ebiten.Image
	w, h   int
}

func (g *game) Update() error {
	select {
	case f := <-g.frames:
		g.cur, g.dirty = f, true
		g.w, g.h = f.W, f.H
	default:
	}
	return nil
}

func (g *game) Draw(screen *ebiten.Image) {
	if g.cur == nil {
		screen.Fill(bgColor)
		return
	}
	if g.img == nil || g.img.Bounds().Dx() != g.cur.W || g.img.Bounds().Dy() != g.cur.H {
		if g.img != nil {
			g.img.Deallocate()
		}
		g.img = ebiten.NewImage(g.cur.W, g.cur.H) // only when the layout changes
		g.dirty = true
	}
	if g.dirty {
		g.img.WritePixels(g.cur.RGBA) // opaque, so premultiplied = straight
		g.dirty = false
	}
	screen.DrawImage(g.img, nil)
	drawn.Store(g.cur.Seq)
}

func (g *game) Layout(_, _ int) (int, int) { return g.w, g.h }
