package model

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestParseConfigRefuses: configs from untrusted weights — another tool's
// config, implausible sizes that would exhaust memory before any device limit
// is checked — are refused by name.
func TestParseConfigRefuses(t *testing.T) {
	good := SVGXLConfig()
	js := func(edit func(c *Config)) map[string]string {
		c := good
		d, r := *good.Dino, *good.Residual
		c.Dino, c.Residual = &d, &r
		c.Decoder.ChMult = append([]int(nil), good.Decoder.ChMult...)
		edit(&c)
		b, _ := json.Marshal(c)
		return map[string]string{"config": string(b)}
	}
	if _, err := ParseConfig(js(func(*Config) {})); err != nil {
		t.Fatalf("SVG-XL: %v", err)
	}
	for _, c := range []struct {
		name string
		meta map[string]string
		want string
	}{
		{"none", map[string]string{}, `no "config" metadata`},
		{"not json", map[string]string{"config": "{"}, "bad config metadata"},
		{"pytorch twin", map[string]string{"config": `{"depth": 2, "hidden_size": 64}`}, "not a novae model config"},
		{"depth 1e9", js(func(c *Config) { c.DiT.Depth = 1e9 }), "dit.Depth 1000000000"},
		{"hidden 1e9", js(func(c *Config) { c.DiT.Hidden = 1e9 }), "dit.Hidden"},
		{"classes 1e12", js(func(c *Config) { c.DiT.NumClasses = 1e12 }), "dit.NumClasses"},
		{"mlp ratio", js(func(c *Config) { c.DiT.MLPRatio = 1e9 }), "dit.MLPRatio"},
		{"decoder levels", js(func(c *Config) { c.Decoder.ChMult = make([]int, 100) }), "decoder.ChMult entries"},
		{"dino depth", js(func(c *Config) { c.Dino.Depth = 1 << 30 }), "dino.Depth"},
		{"residual image", js(func(c *Config) { c.Residual.Image = 1 << 30 }), "residual.Image"},
	} {
		if _, err := ParseConfig(c.meta); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}
