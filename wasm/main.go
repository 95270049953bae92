//go:build js

package main

import (
	"syscall/js"

	"github.com/hajimehoshi/ebiten/v2"
)

func main() {
	a := newApp()
	a.installAPI() // globalThis.novae: the page's handle on everything below
	go a.work()    // owns the engine and the model: boot, then commands
	// The view iframe never has focus (the page around it does), so the game
	// must run unfocused; and it redraws only when show() hands it a new
	// frame (ScheduleFrame), a resize or input arrives: an idle page draws
	// nothing instead of 60 frames a second.
	ebiten.SetRunnableOnUnfocused(true)
	ebiten.SetFPSMode(ebiten.FPSModeVsyncOffMinimum) // deprecated in v2.5, but the one mode that skips idle frames
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
	again  int // frames still to draw after a change of size (ebiten settles a new layout over a frame or two)
}

func (g *game) Update() error {
	select {
	case f := <-g.frames:
		g.cur, g.dirty = f, true
		if f.W != g.w || f.H != g.h {
			g.again = 2
		}
		g.w, g.h = f.W, f.H
	default:
		if g.again > 0 {
			g.again--
		}
	}
	if g.again > 0 {
		schedule()
	}
	return nil
}

// schedule asks for one more frame: ebiten's, and the animation frame that
// web/view.js holds back while the page is idle.
func schedule() {
	ebiten.ScheduleFrame() // deprecated in v2.5 with the minimum FPS mode, see main
	if v := js.Global().Get("novaeView"); v.Truthy() {
		v.Call("wake")
	}
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
	if g.again == 0 {
		drawn.Store(g.cur.Seq) // on the canvas for good
	}
}

func (g *game) Layout(_, _ int) (int, int) { return g.w, g.h }
