package main

import (
	"flag"
	"fmt"
	"io"

	"novae/model/convert"
	"novae/model/weights"
)

func init() {
	register(&command{
		Name:    "check",
		Args:    "WEIGHTS",
		Summary: "validate a weights file: config, every key and shape, shard checksums",
		Help: `Exits 0 when WEIGHTS (a .safetensors file or a manifest) would load: the header
and quantization entries are sound, the "config" metadata is valid, every tensor
the config needs is there with its shape and nothing else is, and every shard
matches the manifest's sha256. -values also decodes every tensor and rejects
NaN and infinity.`,
		Flags: func(fs *flag.FlagSet) func([]string, io.Writer) error {
			values := fs.Bool("values", false, "also read every tensor and reject NaN/Inf")
			return func(args []string, out io.Writer) error {
				path, err := oneArg(args, "weights file")
				if err != nil {
					return err
				}
				f, err := weights.Open(path)
				if err != nil {
					return err
				}
				defer f.Close()
				if m := f.Metadata(); m["format"] != "novae" {
					fmt.Fprintf(out, "warning: %s has no \"format\": \"novae\" metadata\n", path)
				}
				cfg, err := convert.CheckFile(f)
				if err != nil {
					return fmt.Errorf("%s: %w", path, err)
				}
				if err := f.Verify(); err != nil {
					return err
				}
				if *values {
					if err := convert.CheckValues(f); err != nil {
						return fmt.Errorf("%s: %w", path, err)
					}
				}
				st := convert.Stats(f)
				n := 0
				for _, v := range st.Params {
					n += v
				}
				fmt.Fprintf(out, "ok: %s — %q, %d parameters in %d tensors\n", path, cfg.Name, n, st.Tensors)
				return nil
			}
		},
	})
}
