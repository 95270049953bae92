package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"novae/model/convert"
)

func init() {
	register(&command{
		Name:    "random",
		Summary: "write random weights at any config (tests, benchmarks)",
		Help: `Norm weights, LayerScale gammas and latent.std are 1 + std·N(0,1), everything
else std·N(0,1); pos_embed and DINOv3's RoPE periods keep their defined values.
Tensors are generated (and quantized) one at a time: a full SVG-XL fits in memory
once.

example:
  novae random -config svg-xl -quant int4 -out /tmp/svg-xl-int4.safetensors`,
		Flags: func(fs *flag.FlagSet) func([]string, io.Writer) error {
			var w writeFlags
			cfgArg := fs.String("config", "", "config: a preset (svg-xl, svg-l, svg-b, tiny, vae-tiny) or a JSON `file` (required)")
			seed := fs.Uint64("seed", 1, "random seed")
			std := fs.Float64("std", 0.02, "standard deviation of the weights")
			noEnc := fs.Bool("no-encoders", false, "leave out the encoders (DINOv3 and the residual ViT, or a VAE's encoder)")
			quiet := fs.Bool("q", false, "print nothing but errors")
			w.add(fs)
			return func(args []string, stdout io.Writer) error {
				if err := noArgs(args); err != nil {
					return err
				}
				if *cfgArg == "" {
					return usagef("-config is required")
				}
				out, q, err := w.get()
				if err != nil {
					return err
				}
				cfg, err := convert.LoadConfig(*cfgArg, nil)
				if err != nil {
					return err
				}
				if *noEnc {
					cfg.Dino, cfg.Residual = nil, nil
					if cfg.VAE != nil {
						cfg.VAE.NoEncoder = true
					}
				}
				if err := cfg.Validate(); err != nil {
					return err
				}
				p, err := convert.RandomPack(cfg, *seed, float32(*std), q)
				if err != nil {
					return err
				}
				rj, _ := json.Marshal(map[string]any{"seed": *seed, "std": *std})
				meta, err := convert.Metadata(cfg, nil, p.Quant, map[string]string{"random": string(rj)})
				if err != nil {
					return err
				}
				files, err := out.Write(p, meta)
				if err != nil {
					return err
				}
				if !*quiet {
					for _, n := range p.Notes {
						fmt.Fprintln(stdout, "note:", n)
					}
					convert.Summarize(cfg, p, files).Print(stdout)
				}
				return nil
			}
		},
	})
}
