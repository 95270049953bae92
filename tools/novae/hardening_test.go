package main

// Bad weight files on the command line: truncated, corrupt, mismatched
// (config vs tensors) and wrong-model files are refused by every command that
// reads them (check, info, sample), with an exit code of 1 and a message that
// names the file and the problem. Nothing is sampled from them.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"novae/model"
	"novae/model/weights"
)

// badFile is one broken model and what each command must say about it.
type badFile struct {
	name string
	path string
	want []string // substrings every command's error must hold
}

// randomModel writes the tiny preset with random weights, sharded (a
// manifest) or as one file.
func randomModel(t *testing.T, dir string, sharded bool) string {
	t.Helper()
	out := filepath.Join(dir, "m.safetensors")
	args := []string{"random", "-config", "tiny", "-q", "-out", out}
	if sharded {
		out = filepath.Join(dir, "m.json")
		args = []string{"random", "-config", "tiny", "-shard", "-shard-mb", "1", "-q", "-out", out}
	}
	if code, so, se := novae(t, args...); code != 0 {
		t.Fatalf("random: exit %d\n%s%s", code, so, se)
	}
	return out
}

func editFile(t *testing.T, path string, edit func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, edit(b), 0o644); err != nil {
		t.Fatal(err)
	}
}

// editConfig rewrites the "config" metadata of a manifest.
func editConfig(t *testing.T, manifest string, edit func(c *model.Config)) {
	t.Helper()
	editFile(t, manifest, func(b []byte) []byte {
		m, err := weights.ParseManifest(b)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := model.ParseConfig(m.Metadata)
		if err != nil {
			t.Fatal(err)
		}
		edit(&cfg)
		js, _ := json.Marshal(cfg)
		m.Metadata["config"] = string(js)
		out, _ := json.Marshal(m)
		return out
	})
}

// rewrite writes the tensors of a single file again, through change.
func rewrite(t *testing.T, path string, change func([]weights.Tensor, map[string]string) ([]weights.Tensor, map[string]string)) {
	t.Helper()
	f, err := weights.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var ts []weights.Tensor
	for _, n := range f.Names() {
		info, _ := f.Info(n)
		b, err := f.Raw(n)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, weights.Tensor{Name: n, DType: info.DType, Shape: info.Shape, Data: b})
	}
	meta := f.Metadata()
	f.Close()
	ts, meta = change(ts, meta)
	if err := weights.WriteFile(path, ts, meta); err != nil {
		t.Fatal(err)
	}
}

func TestBadWeightFiles(t *testing.T) {
	var cases []badFile
	add := func(name, path string, want ...string) { cases = append(cases, badFile{name, path, want}) }
	newDir := func() string { return t.TempDir() }

	// Truncated: a single file cut in its data, one cut in its header, a
	// shard of a set cut short (an interrupted copy or download).
	p := randomModel(t, newDir(), false)
	editFile(t, p, func(b []byte) []byte { return b[:len(b)*2/3] })
	add("single file cut in its data", p, "m.safetensors", "truncated")
	p = randomModel(t, newDir(), false)
	editFile(t, p, func(b []byte) []byte { return b[:100] })
	add("single file cut in its header", p, "m.safetensors", "header length", "exceeds the file size")
	p = randomModel(t, newDir(), true)
	editFile(t, filepath.Join(filepath.Dir(p), "m-00002.safetensors"), func(b []byte) []byte { return b[:len(b)-10] })
	add("shard cut short", p, "m-00002.safetensors", "manifest says", "truncated")
	p = randomModel(t, newDir(), true)
	os.Remove(filepath.Join(filepath.Dir(p), "m-00001.safetensors"))
	add("shard missing", p, "m-00001.safetensors", "no such file")

	// Corrupt: a flipped bit in a shard's data (caught by its sha256), a
	// shard with a garbled header, a single file with a garbled header.
	p = randomModel(t, newDir(), true)
	editFile(t, filepath.Join(filepath.Dir(p), "m-00002.safetensors"), func(b []byte) []byte { b[len(b)-5] ^= 0x10; return b })
	add("shard bit flip", p, "m-00002.safetensors", "sha256 mismatch")
	p = randomModel(t, newDir(), false)
	editFile(t, p, func(b []byte) []byte { b[8] = 'x'; return b })
	add("single file garbled header", p, "m.safetensors", "bad JSON header")
	p = randomModel(t, newDir(), true)
	editFile(t, p, func(b []byte) []byte { return b[:len(b)/2] })
	add("manifest cut short", p, "m.json", "bad manifest JSON")

	// Mismatched: the config says one thing, the tensors another.
	p = randomModel(t, newDir(), true)
	editConfig(t, p, func(c *model.Config) { c.DiT.Hidden *= 2 })
	add("config wider than the tensors", p, "m.json", "do not match", "wrong shape", "dit.blocks.0.attn.qkv.weight: have [192 64], config wants [384 128]")
	p = randomModel(t, newDir(), true)
	editConfig(t, p, func(c *model.Config) { c.DiT.Depth++ })
	add("config deeper than the tensors", p, "m.json", "do not match", "missing", "dit.blocks.")
	p = randomModel(t, newDir(), false)
	rewrite(t, p, func(ts []weights.Tensor, m map[string]string) ([]weights.Tensor, map[string]string) {
		var out []weights.Tensor
		for _, x := range ts {
			if x.Name != "dit.final_layer.linear.bias" {
				out = append(out, x)
			}
		}
		return out, m
	})
	add("a tensor missing", p, "m.safetensors", "missing", "dit.final_layer.linear.bias")
	p = randomModel(t, newDir(), false)
	rewrite(t, p, func(ts []weights.Tensor, m map[string]string) ([]weights.Tensor, map[string]string) {
		return append(ts, weights.F32Tensor("dit.extra.weight", []int{2}, []float32{1, 2})), m
	})
	add("an extra tensor", p, "m.safetensors", "unexpected", "dit.extra.weight")
	p = randomModel(t, newDir(), false)
	rewrite(t, p, func(ts []weights.Tensor, m map[string]string) ([]weights.Tensor, map[string]string) {
		m["config"] = `{"name": "broken", "dit": {"Hidden": -1}}`
		return ts, m
	})
	add("an invalid config", p, "m.safetensors", "config")

	// Wrong model: a PyTorch checkpoint, a safetensors file that is not a
	// novae model, a JSON file that is not a manifest, an empty file.
	add("a PyTorch checkpoint", td+"dit_tiny.pt", "dit_tiny.pt", "PyTorch checkpoint", "novae convert")
	add("another tool's safetensors file", td+"dit_tiny_io.safetensors", "dit_tiny_io.safetensors", "not a novae model config", "novae convert")
	p = randomModel(t, newDir(), false)
	rewrite(t, p, func(ts []weights.Tensor, m map[string]string) ([]weights.Tensor, map[string]string) {
		delete(m, "config")
		return ts, m
	})
	add("a safetensors file without a config", p, "m.safetensors", "no \"config\" metadata", "novae convert")
	p = filepath.Join(newDir(), "other.json")
	os.WriteFile(p, []byte(`{"format": "gguf-index", "tensors": []}`), 0o644)
	add("another JSON", p, "other.json", "not a novae-weights v1 manifest")
	p = filepath.Join(newDir(), "empty.safetensors")
	os.WriteFile(p, nil, 0o644)
	add("an empty file", p, "empty.safetensors", "too short")

	png := filepath.Join(t.TempDir(), "out.png")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, args := range [][]string{
				{"check", c.path},
				{"info", c.path},
				{"sample", "-weights", c.path, "-cpu", "-steps", "1", "-q", "-out", png},
			} {
				code, so, se := novae(t, args...)
				msg := so + se
				if code != 1 {
					t.Errorf("novae %s: exit %d, want 1\n%s", args[0], code, msg)
					continue
				}
				for _, w := range c.want {
					if !strings.Contains(strings.ToLower(msg), strings.ToLower(w)) {
						t.Errorf("novae %s: the message does not say %q:\n%s", args[0], w, msg)
					}
				}
				if args[0] == "sample" {
					if _, err := os.Stat(png); err == nil {
						t.Errorf("novae sample wrote %s from a bad file", png)
					}
				}
			}
		})
	}
}

// TestConvertRefusesBadInputs: novae convert names the checkpoint and the
// problem when it is cut short, of another kind, or swapped with another.
func TestConvertRefusesBadInputs(t *testing.T) {
	dir := t.TempDir()
	cut := filepath.Join(dir, "cut.pt")
	b, err := os.ReadFile(td + "dit_tiny.pt")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(cut, b[:len(b)/2], 0o644)
	out := filepath.Join(dir, "out.safetensors")
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"truncated checkpoint", []string{"-dit", cut, "-ae", td + "ae_tiny.ckpt"}, []string{"cut.pt", "truncated"}},
		{"a data file as the DiT", []string{"-dit", td + "dit_tiny_io.safetensors", "-ae", td + "ae_tiny.ckpt"}, []string{"do not match", "missing", "unexpected", "dit.dbg_c [2 64]"}},
		{"DiT and autoencoder swapped", []string{"-dit", td + "ae_tiny.ckpt", "-ae", td + "dit_tiny.pt"}, []string{"do not match", "missing", "dit.blocks.0.attn.qkv.weight"}},
		{"a DiT as the statistics", []string{"-dit", td + "dit_tiny.pt", "-ae", td + "ae_tiny.ckpt", "-stats", td + "dit_tiny.pt"}, []string{"latent statistics", "dit_tiny.pt", "no dinov3_sp_mean"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"convert", "-preset", "tiny", "-q", "-out", out}, c.args...)
			code, so, se := novae(t, args...)
			if code != 1 {
				t.Fatalf("exit %d, want 1\n%s%s", code, so, se)
			}
			for _, w := range c.want {
				if !strings.Contains(so+se, w) {
					t.Errorf("the message does not say %q:\n%s%s", w, so, se)
				}
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("convert wrote %s from bad inputs", out)
			}
		})
	}
}
