package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const td = "../../model/testdata/"

// novae runs one command line in-process.
func novae(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e strings.Builder
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestConvertInfoCheck(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "tiny.safetensors")
	code, so, se := novae(t, "convert", "-dit", td+"dit_tiny.pt", "-ae", td+"ae_tiny.ckpt", "-stats", td+"stats_tiny.pt",
		"-preset", "tiny", "-quant", "int8", "-group", "32", "-out", out)
	if code != 0 {
		t.Fatalf("convert: exit %d\n%s%s", code, so, se)
	}
	for _, s := range []string{"ignored (unused at inference): loss.*", "baked 2 DINOv3", "parameters: dit 194.2k", "I8 ", "wrote " + out} {
		if !strings.Contains(so, s) {
			t.Errorf("convert output lacks %q:\n%s", s, so)
		}
	}
	code, so, se = novae(t, "info", "-tensors", out)
	if code != 0 {
		t.Fatalf("info: exit %d\n%s%s", code, so, se)
	}
	for _, s := range []string{"format: novae", "sources: dit dit_tiny.pt, ae ae_tiny.ckpt, stats stats_tiny.pt", `config: "tiny"`,
		"int8 group 32", "int8 group 24", "single file:", "dit.blocks.0.attn.qkv.weight.scales"} {
		if !strings.Contains(so, s) {
			t.Errorf("info output lacks %q:\n%s", s, so)
		}
	}
	code, so, se = novae(t, "check", "-values", out)
	if code != 0 || !strings.Contains(so, "ok: ") {
		t.Fatalf("check: exit %d\n%s%s", code, so, se)
	}
}

func TestRandomShardedAndCorrupt(t *testing.T) {
	dir := t.TempDir()
	man := filepath.Join(dir, "r.json")
	code, so, se := novae(t, "random", "-config", "tiny", "-quant", "int4", "-shard", "-shard-mb", "1", "-out", man)
	if code != 0 {
		t.Fatalf("random: exit %d\n%s%s", code, so, se)
	}
	if code, so, se = novae(t, "check", man); code != 0 {
		t.Fatalf("check: exit %d\n%s%s", code, so, se)
	}
	code, so, _ = novae(t, "info", man)
	if code != 0 || !strings.Contains(so, "shards: 2") || strings.Count(so, "  ok") != 2 || !strings.Contains(so, `random weights: {"seed":1,"std":0.02}`) {
		t.Fatalf("info: exit %d\n%s", code, so)
	}
	// Flip one byte of the second shard: info and check fail naming it.
	shard := filepath.Join(dir, "r-00002.safetensors")
	b, err := os.ReadFile(shard)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 1
	os.WriteFile(shard, b, 0o644)
	code, so, se = novae(t, "info", man)
	if code != 1 || !strings.Contains(so, "r-00002.safetensors") || !strings.Contains(so, "SHA256 MISMATCH") {
		t.Errorf("info on a corrupt shard: exit %d\n%s%s", code, so, se)
	}
	code, _, se = novae(t, "check", man)
	if code != 1 || !strings.Contains(se, "r-00002.safetensors: sha256 mismatch") {
		t.Errorf("check on a corrupt shard: exit %d\n%s", code, se)
	}
}

func TestConfigFileAndErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "cfg.json")
	// A partial config file over a preset: only what differs.
	os.WriteFile(cfg, []byte(`{"name": "tiny-named", "defaults": {"steps": 5, "cfg": 2, "shift": 0.3, "schedule": "constant"}}`), 0o644)
	out := filepath.Join(dir, "n.safetensors")
	code, so, se := novae(t, "convert", "-dit", td+"dit_tiny.pt", "-ae", td+"ae_tiny.ckpt", "-preset", "tiny", "-config", cfg,
		"-no-encoders", "-q", "-out", out)
	if code != 0 || so != "" {
		t.Fatalf("convert: exit %d\n%s%s", code, so, se)
	}
	code, so, _ = novae(t, "info", out)
	if code != 0 || !strings.Contains(so, `config: "tiny-named"`) || !strings.Contains(so, "no encoders") || strings.Contains(so, "feature norm") {
		t.Errorf("info: exit %d\n%s", code, so)
	}

	broken := filepath.Join(dir, "broken.safetensors")
	os.WriteFile(broken, []byte("garbage"), 0o644)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "commands:"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"convert", "-ae", td + "ae_tiny.ckpt", "-out", out}, 2, "-dit and -ae are required"},
		{[]string{"convert", "-dit", td + "dit_tiny.pt", "-ae", td + "ae_tiny.ckpt", "-out", out, "-quant", "int3"}, 2, `-quant "int3"`},
		{[]string{"convert", "-dit", td + "dit_tiny.pt", "-ae", td + "ae_tiny.ckpt", "-out", out, "-preset", "huge"}, 2, `unknown preset "huge"`},
		{[]string{"convert", "-dit", td + "dit_tiny.pt", "-ae", td + "ae_tiny.ckpt", "-out", out}, 1, "residual ViT's head count"},
		{[]string{"convert", "-dit", td + "dit_tiny.pt", "-ae", td + "ae_tiny.ckpt", "-out", out, "-preset", "tiny", "-dit-heads", "3"}, 1, "not divisible by 3 heads"},
		{[]string{"convert", "-dit", td + "dit_tiny.pt", "-ae", td + "ae_tiny.ckpt", "-out", out, "-preset", "tiny", "-groups", "64"}, 1, "not divisible by 64 groups"},
		{[]string{"random", "-out", out}, 2, "-config is required"},
		{[]string{"random", "-config", "nope", "-out", out}, 1, "neither a preset"},
		{[]string{"info"}, 2, "missing weights file"},
		{[]string{"check", broken}, 1, "broken.safetensors"},
		{[]string{"check", td + "dit_tiny_io.safetensors"}, 1, "config"},
		{[]string{"info", "-nope"}, 2, "flag provided but not defined"},
	} {
		code, so, se := novae(t, c.args...)
		if code != c.code || !strings.Contains(so+se, c.want) {
			t.Errorf("novae %s: exit %d, want %d with %q\n%s%s", strings.Join(c.args, " "), code, c.code, c.want, so, se)
		}
	}
}
