package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"novae/model"
	"novae/model/weights"
)

func init() {
	register(&command{
		Name:    "forward",
		Summary: "evaluate one network on tensors from a safetensors file (parity checks against PyTorch)",
		Help: `Inputs by network, all F32 in PyTorch layout:
  dino, residual   image [N,3,H,W], ImageNet-normalised    → out [N,T,C] (residual: before alignment)
  decoder          z [N,C,h,w] (de-normalised latent)       → out [N,3,H,W]
  dit              x [N,T,C], t [N] in [0,1], y [N] classes  → out [N,T,C] (the velocity half)`,
		Flags: func(fs *flag.FlagSet) func([]string, io.Writer) error {
			var rt runtimeFlags
			rt.add(fs)
			net := fs.String("net", "", "dino, residual, decoder or dit")
			in := fs.String("input", "", "input safetensors")
			outPath := fs.String("output", "out.safetensors", "output safetensors (tensor \"out\")")
			return func(args []string, stdout io.Writer) error {
				if len(args) > 0 {
					return usagef("unexpected arguments: %s", strings.Join(args, " "))
				}
				if *in == "" {
					return usagef("-input is required")
				}
				nets := map[string]bool{"dino": true, "residual": true, "decoder": true, "dit": true}
				if !nets[*net] {
					return usagef("-net must be dino, residual, decoder or dit, not %q", *net)
				}
				inF, err := weights.Open(*in)
				if err != nil {
					return err
				}
				defer inF.Close()
				get := func(name string, rank int) ([]float32, []int, error) {
					info, ok := inF.Info(name)
					if !ok {
						return nil, nil, fmt.Errorf("%s: no tensor %q (network %s wants it)", *in, name, *net)
					}
					if len(info.Shape) != rank {
						return nil, nil, fmt.Errorf("%s: %q is %v, want rank %d", *in, name, info.Shape, rank)
					}
					v, err := inF.F32(name)
					return v, info.Shape, err
				}
				b, m, f, err := rt.load(*net == "dino" || *net == "residual")
				if err != nil {
					return err
				}
				defer f.Close()
				cfg := m.Cfg
				var out model.Tensor
				var shape []int
				switch *net {
				case "dino", "residual":
					if m.Dino == nil {
						return fmt.Errorf("%s has no encoders", rt.weights)
					}
					img, s, err := get("image", 4)
					if err != nil {
						return err
					}
					if s[1] != 3 || s[2]%m.Dino.Cfg.Patch != 0 || s[3]%m.Dino.Cfg.Patch != 0 {
						return fmt.Errorf("image %v: want [N,3,H,W] with H, W multiples of %d", s, m.Dino.Cfg.Patch)
					}
					x := b.Upload(img, s...)
					if *net == "dino" {
						out = m.Dino.Forward(b, x, s[0], s[2], s[3])
						shape = []int{s[0], s[2] / m.Dino.Cfg.Patch * s[3] / m.Dino.Cfg.Patch, m.Dino.Cfg.Dim}
					} else {
						if s[2] != m.Residual.Cfg.Image || s[3] != m.Residual.Cfg.Image {
							return fmt.Errorf("image %v: the residual ViT takes %d×%d", s, m.Residual.Cfg.Image, m.Residual.Cfg.Image)
						}
						out = m.Residual.Forward(b, x, s[0])
						g := s[2] / m.Residual.Cfg.Patch
						shape = []int{s[0], g * g, m.Residual.Cfg.OutDim}
					}
				case "decoder":
					z, s, err := get("z", 4)
					if err != nil {
						return err
					}
					if s[1] != cfg.Decoder.ZChannels || s[2] != cfg.Decoder.LatentRes() || s[3] != s[2] {
						return fmt.Errorf("z %v: want [N,%d,%d,%d]", s, cfg.Decoder.ZChannels, cfg.Decoder.LatentRes(), cfg.Decoder.LatentRes())
					}
					out = m.Decoder.Forward(b, b.Upload(z, s...), s[0])
					shape = []int{s[0], cfg.Decoder.OutCh, cfg.Image, cfg.Image}
				case "dit":
					x, s, err := get("x", 3)
					if err != nil {
						return err
					}
					tt, _, err := get("t", 1)
					if err != nil {
						return err
					}
					yv, _, err := get("y", 1)
					if err != nil {
						return err
					}
					T, C := cfg.DiT.Grid*cfg.DiT.Grid, cfg.DiT.InChannels
					if s[1] != T || s[2] != C || len(tt) != s[0] || len(yv) != s[0] {
						return fmt.Errorf("x %v, t [%d], y [%d]: want x [N,%d,%d], t [N], y [N]", s, len(tt), len(yv), T, C)
					}
					y := make([]int, len(yv))
					for i, v := range yv {
						if v != float32(int(v)) || v < 0 || int(v) > cfg.DiT.NumClasses {
							return fmt.Errorf("y[%d] = %g: want a class index 0..%d (%d is the null class)", i, v, cfg.DiT.NumClasses, cfg.DiT.NumClasses)
						}
						y[i] = int(v)
					}
					cond, err := m.DiT.Condition(b, tt, y)
					if err != nil {
						return err
					}
					out = b.Alloc(s...)
					m.DiT.Forward(b, out, b.Upload(x, s...), cond)
					shape = s
				}
				v, err := b.Read(out)
				if err != nil {
					return err
				}
				w, err := os.Create(*outPath)
				if err != nil {
					return err
				}
				meta := map[string]string{"net": *net, "weights": rt.weights, "backend": b.Name()}
				if err := weights.Write(w, []weights.Tensor{weights.F32Tensor("out", shape, v)}, meta); err != nil {
					w.Close()
					return err
				}
				if err := w.Close(); err != nil {
					return err
				}
				fmt.Fprintf(stdout, "%s: out %v from %s on %s\n", *outPath, shape, *net, b.Name())
				return nil
			}
		},
	})
}
