package model

import (
	"fmt"
	"math"
)

// Bounds on what a config may ask for. A config arrives with weights that may
// come from anywhere (a page's ?weights= URL): these caps, far above any real
// SVG model (SVG-XL: hidden 1152, depth 28, 1000 classes), keep every shape
// product inside int64 and stop a hostile config from making the skeleton
// alone exhaust memory (a depth of 10⁹ would allocate 10⁹ blocks) before any
// device limit is checked. Per-tensor sizes are checked against the device
// by whoever allocates them (NewGPUSource).
const (
	maxWidth   = 1 << 16 // any channel or hidden width
	maxDepth   = 1024    // blocks of any network
	maxSide    = 1 << 14 // image and grid sides
	maxClasses = 1 << 24
	maxList    = 16 // ChMult, AttnRes entries
)

// checkBounds refuses sizes beyond the caps above, naming the field.
func (c Config) checkBounds() error {
	var bad []string
	chk := func(name string, v, hi int) {
		if v > hi {
			bad = append(bad, fmt.Sprintf("%s %d > %d", name, v, hi))
		}
	}
	chk("image", c.Image, maxSide)
	chk("classes", len(c.Classes), maxClasses)
	d := c.DiT
	chk("dit.InChannels", d.InChannels, maxWidth)
	chk("dit.Grid", d.Grid, maxSide)
	chk("dit.Hidden", d.Hidden, maxWidth)
	chk("dit.Depth", d.Depth, maxDepth)
	chk("dit.Heads", d.Heads, maxWidth)
	chk("dit.NumClasses", d.NumClasses, maxClasses)
	if !(d.MLPRatio <= 64) || math.IsNaN(d.MLPRatio) {
		bad = append(bad, fmt.Sprintf("dit.MLPRatio %g > 64", d.MLPRatio))
	}
	e := c.Decoder
	chk("decoder.ZChannels", e.ZChannels, maxWidth)
	chk("decoder.Ch", e.Ch, maxWidth)
	chk("decoder.ChMult entries", len(e.ChMult), maxList)
	for _, m := range e.ChMult {
		chk("decoder.ChMult", m, 64)
	}
	chk("decoder.NumResBlocks", e.NumResBlocks, 64)
	chk("decoder.AttnRes entries", len(e.AttnRes), maxList)
	chk("decoder.Resolution", e.Resolution, maxSide)
	chk("decoder.OutCh", e.OutCh, 64)
	chk("decoder.Groups", e.Groups, maxWidth)
	if o := c.Dino; o != nil {
		chk("dino.Dim", o.Dim, maxWidth)
		chk("dino.Depth", o.Depth, maxDepth)
		chk("dino.Heads", o.Heads, maxWidth)
		chk("dino.FFN", o.FFN, 4*maxWidth)
		chk("dino.Patch", o.Patch, maxSide)
		chk("dino.Registers", o.Registers, 1024)
		chk("dino.InChans", o.InChans, 64)
	}
	if r := c.Residual; r != nil {
		chk("residual.Dim", r.Dim, maxWidth)
		chk("residual.Depth", r.Depth, maxDepth)
		chk("residual.Heads", r.Heads, maxWidth)
		chk("residual.MLP", r.MLP, 4*maxWidth)
		chk("residual.Patch", r.Patch, maxSide)
		chk("residual.Image", r.Image, maxSide)
		chk("residual.OutDim", r.OutDim, maxWidth)
		chk("residual.InChans", r.InChans, 64)
	}
	if v := c.VAE; v != nil {
		chk("vae.Ch", v.Ch, maxWidth)
		chk("vae.ChMult entries", len(v.ChMult), maxList)
		for _, m := range v.ChMult {
			chk("vae.ChMult", m, 64)
		}
		chk("vae.NumResBlocks", v.NumResBlocks, 64)
		chk("vae.AttnRes entries", len(v.AttnRes), maxList)
		chk("vae.Resolution", v.Resolution, maxSide)
		chk("vae.InCh", v.InCh, 64)
		chk("vae.ZChannels", v.ZChannels, maxWidth)
		chk("vae.EmbedDim", v.EmbedDim, maxWidth)
		chk("vae.Groups", v.Groups, maxWidth)
	}
	if len(bad) > 0 {
		return fmt.Errorf("config: implausible sizes: %v", bad)
	}
	return nil
}
