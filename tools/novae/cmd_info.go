package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"novae/model"
	"novae/model/convert"
	"novae/model/weights"
)

func init() {
	register(&command{
		Name:    "info",
		Args:    "WEIGHTS",
		Summary: "describe a weights file or sharded set: config, parameters, storage, shards",
		Help: `WEIGHTS is a .safetensors file or a sharded set's manifest (.json). Every shard's
sha256 is verified against the manifest (a single file's sha256 is printed).`,
		Flags: func(fs *flag.FlagSet) func([]string, io.Writer) error {
			tensors := fs.Bool("tensors", false, "list every tensor (dtype, stored shape, quantization)")
			return func(args []string, out io.Writer) error {
				path, err := oneArg(args, "weights file")
				if err != nil {
					return err
				}
				return info(path, *tensors, out)
			}
		},
	})
}

func info(path string, listTensors bool, out io.Writer) error {
	f, err := weights.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	meta := f.Metadata()
	fmt.Fprintf(out, "file: %s\n", path)
	format := meta["format"]
	if format == "" {
		format = "(none: not written by novae)"
	}
	fmt.Fprintf(out, "format: %s\n", format)
	if s, ok := meta["sources"]; ok {
		var src map[string]string
		if json.Unmarshal([]byte(s), &src) == nil {
			var parts []string
			for _, k := range []string{"dit", "ae", "dino", "stats"} {
				if v, ok := src[k]; ok {
					parts = append(parts, k+" "+v)
				}
			}
			fmt.Fprintf(out, "sources: %s\n", strings.Join(parts, ", "))
		}
	}
	if s, ok := meta["random"]; ok {
		fmt.Fprintf(out, "random weights: %s\n", s)
	}
	cfgErr := error(nil)
	if cfg, err := model.ParseConfig(meta); err != nil {
		cfgErr = fmt.Errorf("%s: %w", path, err)
		fmt.Fprintf(out, "config: INVALID: %v\n", err)
	} else {
		fmt.Fprintf(out, "config: %s\n", convert.Describe(cfg))
		if _, err := convert.CheckFile(f); err != nil {
			cfgErr = fmt.Errorf("%s: %w", path, err)
			fmt.Fprintf(out, "tensors: DO NOT MATCH the config (below)\n")
		}
	}
	convert.Stats(f).Print(out)
	if listTensors {
		for _, n := range f.Names() {
			i, _ := f.Info(n)
			q := ""
			if i.Quant != nil {
				q = fmt.Sprintf("  %s group %d logical %v", i.Quant.Kind, i.Quant.Group, i.Quant.Shape)
			}
			fmt.Fprintf(out, "  %-60s %-4s %v%s\n", n, i.DType, i.Shape, q)
		}
	}
	verr := shards(path, out)
	if cfgErr != nil {
		return cfgErr
	}
	return verr
}

// shards prints the shards of a set with their checksums verified, or the
// sha256 of a single file. It returns an error if a shard does not match.
func shards(path string, out io.Writer) error {
	if !strings.HasSuffix(strings.ToLower(path), ".json") {
		sum, n, err := fileSHA256(path)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "single file: %d bytes, sha256 %s\n", n, sum)
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	m, err := weights.ParseManifest(data)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "shards: %d\n", len(m.Shards))
	bad := 0
	var total int64
	for _, s := range m.Shards {
		sum, n, err := fileSHA256(filepath.Join(filepath.Dir(path), s.File))
		status := "ok"
		switch {
		case err != nil:
			status = "ERROR: " + err.Error()
		case n != s.Bytes:
			status = fmt.Sprintf("SIZE MISMATCH: %d bytes on disk", n)
		case sum != s.SHA256:
			status = "SHA256 MISMATCH: " + sum
		}
		if status != "ok" {
			bad++
		}
		total += s.Bytes
		fmt.Fprintf(out, "  %s  %d bytes  %d tensors  sha256 %s  %s\n", s.File, s.Bytes, len(s.Tensors), s.SHA256, status)
	}
	fmt.Fprintf(out, "  total %d bytes\n", total)
	if bad > 0 {
		return fmt.Errorf("%d of %d shards do not match the manifest", bad, len(m.Shards))
	}
	return nil
}

func fileSHA256(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
