package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"novae/model"
	"novae/model/weights"
)

func init() {
	register(&command{
		Name:    "sample",
		Summary: "generate images with the rectified-flow sampler and write a PNG grid",
		Help: `Classes are numbers or names from the model card, comma-separated; -batch repeats each.
Defaults come from the model card (steps, cfg, shift, schedule). Schedules: ` + model.Schedules + `.
-noise FILE starts from the tensor "noise" [B,T,C] of a safetensors file instead of the seed.`,
		Flags: func(fs *flag.FlagSet) func([]string, io.Writer) error {
			var rt runtimeFlags
			rt.add(fs)
			class := fs.String("class", "0", "class ids or names, comma-separated")
			seed := fs.Uint64("seed", 0, "noise seed")
			steps := fs.Int("steps", 0, "sampling steps (0: the model card's)")
			sampler := fs.String("sampler", "euler", "euler or heun")
			cfgScale := fs.Float64("cfg", -1, "classifier-free guidance scale; ≤ 1 turns it off (-1: the model card's)")
			schedule := fs.String("schedule", "", "CFG schedule (empty: the model card's)")
			shift := fs.Float64("shift", 0, "time-grid shift s (0: the model card's)")
			batch := fs.Int("batch", 1, "images per class")
			noise := fs.String("noise", "", "safetensors file with the starting noise tensor \"noise\"")
			out := fs.String("out", "samples.png", "output PNG grid")
			quiet := fs.Bool("q", false, "no progress bar")
			return func(args []string, stdout io.Writer) error {
				if len(args) > 0 {
					return usagef("unexpected arguments: %s", strings.Join(args, " "))
				}
				b, m, f, err := rt.load(false)
				if err != nil {
					return err
				}
				defer f.Close()
				cfg := m.Cfg
				if *sampler != "euler" && *sampler != "heun" {
					return usagef("-sampler must be euler or heun, not %q", *sampler)
				}
				d, sched, err := samplerSettings(cfg.Defaults, *cfgScale, *shift, *schedule)
				if err != nil {
					return err
				}
				opt := model.SampleOptions{Seed: *seed, Steps: d.Steps, CFG: d.CFG, Shift: d.Shift, Schedule: sched, Heun: *sampler == "heun"}
				if *steps != 0 {
					opt.Steps = *steps
				}
				classes, err := parseClasses(*class, cfg)
				if err != nil {
					return usagef("%v", err)
				}
				if *batch < 1 || *batch*len(classes) > 256 {
					return usagef("-batch %d: want 1..%d images in all", *batch, 256)
				}
				for _, c := range classes {
					for range *batch {
						opt.Classes = append(opt.Classes, c)
					}
				}
				if *noise != "" {
					nf, err := weights.Open(*noise)
					if err != nil {
						return err
					}
					info, _ := nf.Info("noise")
					opt.Noise, err = nf.F32("noise")
					nf.Close()
					if err != nil {
						return err
					}
					B, T, C := len(opt.Classes), cfg.DiT.Grid*cfg.DiT.Grid, cfg.DiT.InChannels
					if !slices.Equal(info.Shape, []int{B, T, C}) {
						return fmt.Errorf("%s: noise is %v, want [%d,%d,%d] (images, tokens, channels) for these classes and weights", *noise, info.Shape, B, T, C)
					}
				}
				start := time.Now()
				if !*quiet {
					opt.OnStep = func(s model.Step) error {
						progress(os.Stderr, s.I+1, s.N, time.Since(start))
						return nil
					}
				}
				z, err := model.Sample(b, m.DiT, opt)
				if err != nil {
					return err
				}
				n := len(opt.Classes)
				img := m.Decode(b, z, n)
				px, err := b.ToRGBA8(img, n, cfg.Image, cfg.Image)
				if err != nil {
					return err
				}
				if err := writeGrid(*out, px, n, cfg.Image, *batch); err != nil {
					return err
				}
				fmt.Fprintf(stdout, "%s: %d images, %d %s steps, cfg %g (%s), shift %g, %s, %.2fs on %s\n",
					*out, n, opt.Steps, *sampler, opt.CFG, opt.Schedule, opt.Shift, classesString(classes, cfg),
					time.Since(start).Seconds(), b.Name())
				return nil
			}
		},
	})
}

func classesString(cs []int, cfg model.Config) string {
	var parts []string
	for _, c := range cs {
		if c < len(cfg.Classes) {
			parts = append(parts, fmt.Sprintf("%d (%s)", c, cfg.Classes[c]))
		} else {
			parts = append(parts, fmt.Sprint(c))
		}
	}
	return "classes " + strings.Join(parts, ", ")
}

// progress draws a one-line bar on a terminal (or plain lines elsewhere).
func progress(w io.Writer, i, n int, took time.Duration) {
	const width = 30
	done := width * i / n
	fmt.Fprintf(w, "\r[%s%s] %d/%d steps %.2fs", strings.Repeat("#", done), strings.Repeat(".", width-done), i, n, took.Seconds())
	if i == n {
		fmt.Fprintln(w)
	}
}
