package convert

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"novae/model"
)

// PresetNames lists the names Preset accepts.
func PresetNames() []string { return []string{"svg-xl", "svg-l", "svg-b", "tiny", "vae-tiny"} }

// Preset returns a named configuration: the paper's SVG-XL/L/B (all with the
// official DINOv3 ViT-S/16+, residual ViT and decoder), or "tiny", the
// reduced configuration of the Go parity fixtures in model/testdata
// (tools/reference/make_fixtures.py).
func Preset(name string) (model.Config, error) {
	c := clone(model.SVGXLConfig())
	switch strings.ToLower(name) {
	case "svg-xl", "xl":
	case "svg-l", "l":
		c.Name, c.DiT = "svg-l", model.SVGL
	case "svg-b", "b":
		c.Name, c.DiT = "svg-b", model.SVGB
	case "tiny":
		return TinyConfig(), nil
	case "vae-tiny":
		return VAETinyConfig(), nil
	default:
		return model.Config{}, fmt.Errorf("unknown preset %q (have %s)", name, strings.Join(PresetNames(), ", "))
	}
	return c, nil
}

// TinyConfig is the configuration of the committed fixtures
// (model/testdata/dit_tiny.pt, ae_tiny.ckpt, stats_tiny.pt). The decoder
// maps the 4×4 latent to 8×8 pixels, so Image is 8; the encoders take 64×64
// images (the residual ViT's Image).
func TinyConfig() model.Config {
	return model.Config{
		Name:  "tiny",
		Image: 8,
		DiT: model.DiTConfig{InChannels: 72, Grid: 4, Hidden: 64, Depth: 2, Heads: 4, MLPRatio: 4,
			NumClasses: 10, QKNorm: true, LearnSigma: true},
		Decoder: model.DecoderConfig{ZChannels: 72, Ch: 32, ChMult: []int{2, 1}, NumResBlocks: 1,
			AttnRes: []int{4}, Resolution: 8, OutCh: 3, Groups: 32},
		Dino:        &model.DinoConfig{Dim: 64, Depth: 2, Heads: 2, FFN: 128, Patch: 16, Registers: 4, InChans: 3},
		Residual:    &model.ResViTConfig{Dim: 32, Depth: 2, Heads: 2, MLP: 128, Patch: 16, Image: 64, OutDim: 8, InChans: 3},
		Defaults:    model.OfficialDefaults,
		FeatureNorm: true,
	}
}

// VAETinyConfig is the configuration of the VAE-latent fixtures
// (model/testdata/vae_tiny.ckpt, vae_dit_tiny.pt, vae_stats_tiny.pt, from
// tools/reference/make_vae_fixtures.py): 8×8 images, an f2 LDM KL
// autoencoder with 4 latent channels, GroupNorm with 4 groups.
func VAETinyConfig() model.Config {
	return model.Config{
		Name:  "vae-tiny",
		Image: 8,
		DiT: model.DiTConfig{InChannels: 4, Grid: 4, Hidden: 32, Depth: 1, Heads: 2, MLPRatio: 4,
			NumClasses: 3, QKNorm: true, LearnSigma: true},
		Decoder: model.DecoderConfig{ZChannels: 6, Ch: 8, ChMult: []int{1, 2}, NumResBlocks: 1,
			AttnRes: []int{4}, Resolution: 8, OutCh: 3, Groups: 4},
		Latent: model.LatentVAE,
		VAE: &model.VAEConfig{Ch: 8, ChMult: []int{1, 2}, NumResBlocks: 1, AttnRes: []int{4}, Resolution: 8,
			InCh: 3, ZChannels: 6, EmbedDim: 4, Groups: 4},
		Defaults:    model.OfficialDefaults,
		FeatureNorm: true,
	}
}

// LoadConfig resolves a --config argument: a preset name, or a JSON file
// holding a model.Config (the "config" metadata format). A file's fields are
// laid over base when base is non-nil, so it may hold only what differs.
func LoadConfig(arg string, base *model.Config) (model.Config, error) {
	if c, err := Preset(arg); err == nil {
		return c, nil
	}
	data, err := os.ReadFile(arg)
	if err != nil {
		if os.IsNotExist(err) && !strings.ContainsAny(arg, `/\.`) {
			return model.Config{}, fmt.Errorf("config %q is neither a preset (%s) nor a file", arg, strings.Join(PresetNames(), ", "))
		}
		return model.Config{}, err
	}
	var c model.Config
	if base != nil {
		c = clone(*base)
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return model.Config{}, fmt.Errorf("config %s: %v", arg, err)
	}
	return c, nil
}

// clone deep-copies a config (the presets share slices with package model's
// variables).
func clone(c model.Config) model.Config {
	b, err := json.Marshal(c)
	if err != nil {
		panic(err)
	}
	var o model.Config
	if err := json.Unmarshal(b, &o); err != nil {
		panic(err)
	}
	return o
}

// Overrides are explicit settings (command-line flags); zero means unset.
// They beat both the checkpoint shapes and the base config.
type Overrides struct {
	Name          string
	DiTHeads      int // DiT attention heads
	DinoHeads     int // DINOv3 heads
	ResidualHeads int // residual ViT heads
	Groups        int // decoder GroupNorm groups
	Grid          int // DiT token grid side (when the checkpoint has no pos_embed)
}

// inferrer fills a config from tensor shapes, noting where the base config
// disagreed with the checkpoint.
type inferrer struct {
	shapes map[string][]int
	notes  []string
	what   string // name of the base config, for notes
}

func (in *inferrer) shape(key string) ([]int, bool) {
	s, ok := in.shapes[key]
	return s, ok
}

// dim returns dimension i of the first key in keys that exists.
func (in *inferrer) dim(i int, keys ...string) (int, bool) {
	for _, k := range keys {
		if s, ok := in.shapes[k]; ok && i < len(s) {
			return s[i], true
		}
	}
	return 0, false
}

// setInt stores an inferred value, noting a disagreement with the base.
func (in *inferrer) setInt(field string, dst *int, v int) {
	if *dst != 0 && *dst != v {
		in.notes = append(in.notes, fmt.Sprintf("%s: the checkpoint has %d, %s says %d: using %d", field, v, in.what, *dst, v))
	}
	*dst = v
}

func (in *inferrer) setBool(field string, dst *bool, v, baseSet bool) {
	if baseSet && *dst != v {
		in.notes = append(in.notes, fmt.Sprintf("%s: the checkpoint has %v, %s says %v: using %v", field, v, in.what, *dst, v))
	}
	*dst = v
}

// count returns 1 + the largest index i with a key prefix + i + ".", or 0.
func (in *inferrer) count(prefix string) int {
	re := regexp.MustCompile("^" + regexp.QuoteMeta(prefix) + `(\d+)\.`)
	n := 0
	for k := range in.shapes {
		if m := re.FindStringSubmatch(k); m != nil {
			i, err := strconv.Atoi(m[1])
			if err == nil && i+1 > n && i < 1<<20 {
				n = i + 1
			}
		}
	}
	return n
}

func (in *inferrer) has(prefix string) bool {
	for k := range in.shapes {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// infer builds the config of the assembled tensors (novae keys → shapes).
// base (may be nil) supplies what shapes cannot tell; encoders and
// featureNorm say which parts the file will hold.
func infer(shapes map[string][]int, base *model.Config, baseName string, ov Overrides, encoders, featureNorm, vae bool) (model.Config, []string, error) {
	in := &inferrer{shapes: shapes, what: baseName}
	var c model.Config
	if base != nil {
		c = clone(*base)
	} else {
		c = model.Config{Name: "svg", Defaults: model.OfficialDefaults}
	}
	if err := in.dit(&c.DiT, base != nil, ov); err != nil {
		return c, in.notes, err
	}
	if err := in.decoder(&c.Decoder, c.DiT.Grid, ov); err != nil {
		return c, in.notes, err
	}
	c.Image = c.Decoder.Resolution
	if vae {
		c.Dino, c.Residual, c.Latent = nil, nil, model.LatentVAE
		if c.VAE == nil {
			c.VAE = &model.VAEConfig{}
		}
		if err := in.vae(c.VAE, c.Decoder, c.DiT.Grid, encoders); err != nil {
			return c, in.notes, err
		}
	} else if encoders {
		if c.Dino == nil {
			c.Dino = &model.DinoConfig{}
		}
		if c.Residual == nil {
			c.Residual = &model.ResViTConfig{}
		}
		if err := in.dino(c.Dino, ov); err != nil {
			return c, in.notes, err
		}
		if err := in.residual(c.Residual, ov); err != nil {
			return c, in.notes, err
		}
	} else {
		c.Dino, c.Residual = nil, nil
	}
	if !vae {
		c.VAE = nil
		if c.Latent == model.LatentVAE {
			in.notes = append(in.notes, fmt.Sprintf("latent kind: %s says \"vae\", the autoencoder is SVG's: using \"svg\"", baseName))
		}
		c.Latent = ""
	}
	c.FeatureNorm = featureNorm
	if base == nil {
		for _, n := range []string{"svg-xl", "svg-l", "svg-b"} {
			if pre, _ := Preset(n); pre.DiT.Hidden == c.DiT.Hidden && pre.DiT.Depth == c.DiT.Depth {
				c.Name = n
			}
		}
	}
	if ov.Name != "" {
		c.Name = ov.Name
	}
	if len(c.Classes) > 0 && len(c.Classes) != c.DiT.NumClasses {
		in.notes = append(in.notes, fmt.Sprintf("dropping %s's %d class names: the checkpoint has %d classes", baseName, len(c.Classes), c.DiT.NumClasses))
		c.Classes = nil
	}
	if c.Defaults == (model.SampleDefaults{}) {
		c.Defaults = model.OfficialDefaults
	}
	if err := c.Validate(); err != nil {
		return c, in.notes, fmt.Errorf("inferred %v", err)
	}
	return c, in.notes, nil
}

func (in *inferrer) dit(d *model.DiTConfig, haveBase bool, ov Overrides) error {
	const p = model.PrefixDiT
	if v, ok := in.dim(0, p+"ln1.weight", p+"t_embedder.mlp.2.weight", p+"t_embedder.mlp.0.weight"); ok {
		in.setInt("dit hidden", &d.Hidden, v)
	} else if v, ok := in.dim(2, p+"pos_embed"); ok {
		in.setInt("dit hidden", &d.Hidden, v)
	}
	if v, ok := in.dim(1, p+"ln1.weight", model.PrefixDecoder+"conv_in.weight"); ok {
		in.setInt("dit in_channels", &d.InChannels, v)
	}
	if n := in.count(p + "blocks."); n > 0 {
		in.setInt("dit depth", &d.Depth, n)
	}
	if v, ok := in.dim(0, p+"y_embedder.embedding_table.weight"); ok && v > 1 {
		// The table has num_classes + 1 rows: the last is the null class.
		in.setInt("dit num_classes", &d.NumClasses, v-1)
	}
	if in.has(p + "blocks.") {
		qk := in.has(p+"blocks.0.attn.q_norm.") || in.has(p+"blocks.0.attn.k_norm.")
		in.setBool("dit qk_norm", &d.QKNorm, qk, haveBase)
		if hd, ok := in.dim(0, p+"blocks.0.attn.q_norm.weight", p+"blocks.0.attn.k_norm.weight"); ok && hd > 0 && d.Hidden%hd == 0 {
			in.setInt("dit heads", &d.Heads, d.Hidden/hd)
		}
	}
	if v, ok := in.dim(0, p+"blocks.0.mlp.fc1.weight"); ok && d.Hidden > 0 {
		r := float64(v) / float64(d.Hidden)
		if d.MLPRatio != 0 && d.MLPRatio != r {
			in.notes = append(in.notes, fmt.Sprintf("dit mlp_ratio: the checkpoint has %g, %s says %g: using %g", r, in.what, d.MLPRatio, r))
		}
		d.MLPRatio = r
	}
	if v, ok := in.dim(0, p+"final_layer.linear.weight"); ok && d.InChannels > 0 {
		switch v {
		case 2 * d.InChannels:
			in.setBool("dit learn_sigma", &d.LearnSigma, true, haveBase)
		case d.InChannels:
			in.setBool("dit learn_sigma", &d.LearnSigma, false, haveBase)
		}
	}
	if s, ok := in.shape(p + "pos_embed"); ok && len(s) >= 2 {
		g := int(math.Round(math.Sqrt(float64(s[len(s)-2]))))
		if g*g == s[len(s)-2] {
			in.setInt("dit grid", &d.Grid, g)
		}
	}
	if ov.DiTHeads > 0 {
		d.Heads = ov.DiTHeads
	}
	if d.Heads == 0 {
		for _, pre := range []model.DiTConfig{model.SVGXL, model.SVGL, model.SVGB} {
			if d.Hidden == pre.Hidden && d.Depth == pre.Depth {
				d.Heads = pre.Heads
				in.notes = append(in.notes, fmt.Sprintf("dit heads: not in the checkpoint (no qk_norm); depth %d × hidden %d is a paper model: using %d", d.Depth, d.Hidden, pre.Heads))
			}
		}
	}
	if ov.Grid > 0 {
		d.Grid = ov.Grid
	}
	if d.Grid == 0 {
		d.Grid = 16
		in.notes = append(in.notes, "dit grid: no pos_embed in the checkpoint and no config: using the official 16×16")
	}
	if d.Heads == 0 {
		return fmt.Errorf("cannot infer the DiT's head count (no qk_norm weights in the checkpoint): give a preset, a config file or the head count")
	}
	if d.Hidden == 0 || d.InChannels == 0 || d.Depth == 0 || d.NumClasses == 0 || d.MLPRatio == 0 {
		return fmt.Errorf("cannot infer the DiT's sizes from the checkpoint (hidden %d, in_channels %d, depth %d, classes %d, mlp_ratio %g): is it a DiT state dict?",
			d.Hidden, d.InChannels, d.Depth, d.NumClasses, d.MLPRatio)
	}
	return nil
}

func (in *inferrer) decoder(d *model.DecoderConfig, grid int, ov Overrides) error {
	const p = model.PrefixDecoder
	if v, ok := in.dim(1, p+"conv_in.weight"); ok {
		in.setInt("decoder z_channels", &d.ZChannels, v)
	}
	if v, ok := in.dim(0, p+"conv_out.weight"); ok {
		in.setInt("decoder out_ch", &d.OutCh, v)
	}
	levels := in.count(p + "up.")
	if levels > 0 {
		outs := make([]int, levels)
		for l := range outs {
			q := fmt.Sprintf("%sup.%d.block.0.", p, l)
			if v, ok := in.dim(0, q+"conv1.weight", q+"conv2.weight", q+"norm2.weight"); ok {
				outs[l] = v
			} else if len(d.ChMult) == levels {
				outs[l] = d.Ch * d.ChMult[l]
			} else {
				return fmt.Errorf("cannot infer the width of decoder level %d (no %sconv1.weight)", l, q)
			}
		}
		ch := 0
		if d.Ch > 0 {
			ch = d.Ch
			for _, o := range outs {
				if o%d.Ch != 0 {
					ch = 0
				}
			}
		}
		if ch == 0 {
			for _, o := range outs {
				ch = gcd(ch, o)
			}
		}
		mult := make([]int, levels)
		for l, o := range outs {
			mult[l] = o / ch
		}
		if d.Ch > 0 && (d.Ch != ch || !slices.Equal(d.ChMult, mult)) {
			in.notes = append(in.notes, fmt.Sprintf("decoder ch×ch_mult: the checkpoint has %d×%v, %s says %d×%v: using the checkpoint's", ch, mult, in.what, d.Ch, d.ChMult))
		}
		d.Ch, d.ChMult = ch, mult
		if n := in.count(p + "up.0.block."); n > 0 {
			in.setInt("decoder num_res_blocks", &d.NumResBlocks, n-1)
		}
		var attn []int
		for l := range levels {
			if in.has(fmt.Sprintf("%sup.%d.attn.", p, l)) {
				attn = append(attn, grid<<(levels-1-l))
			}
		}
		sort.Ints(attn)
		if d.AttnRes != nil && !slices.Equal(d.AttnRes, attn) {
			in.notes = append(in.notes, fmt.Sprintf("decoder attn_resolutions: the checkpoint has %v, %s says %v: using %v", attn, in.what, d.AttnRes, attn))
		}
		d.AttnRes = attn
	}
	if len(d.ChMult) == 0 {
		return fmt.Errorf("cannot infer the decoder's levels: the checkpoint has no decoder.up.* weights")
	}
	d.Resolution = grid << (len(d.ChMult) - 1)
	if ov.Groups > 0 {
		d.Groups = ov.Groups
	}
	if d.Groups == 0 {
		d.Groups = 32
	}
	return nil
}

func (in *inferrer) dino(d *model.DinoConfig, ov Overrides) error {
	const p = model.PrefixDino
	if v, ok := in.dim(2, p+"cls_token"); ok {
		in.setInt("dino dim", &d.Dim, v)
	} else if v, ok := in.dim(0, p+"patch_embed.proj.weight"); ok {
		in.setInt("dino dim", &d.Dim, v)
	}
	if n := in.count(p + "blocks."); n > 0 {
		in.setInt("dino depth", &d.Depth, n)
	}
	if v, ok := in.dim(0, p+"blocks.0.mlp.w1.weight", p+"blocks.0.mlp.w2.weight"); ok {
		in.setInt("dino ffn", &d.FFN, v)
	}
	if s, ok := in.shape(p + "patch_embed.proj.weight"); ok && len(s) == 4 {
		in.setInt("dino in_chans", &d.InChans, s[1])
		in.setInt("dino patch", &d.Patch, s[2])
	}
	if v, ok := in.dim(1, p+"storage_tokens"); ok {
		in.setInt("dino storage tokens", &d.Registers, v)
	} else if in.has(p) {
		d.Registers = 0
	}
	// RoPE: head dim / 4 periods.
	if v, ok := in.dim(0, p+"rope_embed.periods"); ok && v > 0 && d.Dim%(4*v) == 0 {
		in.setInt("dino heads", &d.Heads, d.Dim/(4*v))
	}
	if ov.DinoHeads > 0 {
		d.Heads = ov.DinoHeads
	}
	if d.Heads == 0 {
		return fmt.Errorf("cannot infer DINOv3's head count (no rope_embed.periods): give a preset, a config file or the head count")
	}
	if d.Dim == 0 || d.Depth == 0 || d.FFN == 0 || d.Patch == 0 {
		return fmt.Errorf("cannot infer DINOv3's sizes from the checkpoint (dim %d, depth %d, ffn %d, patch %d)", d.Dim, d.Depth, d.FFN, d.Patch)
	}
	return nil
}

func (in *inferrer) residual(r *model.ResViTConfig, ov Overrides) error {
	const p = model.PrefixResidual
	if v, ok := in.dim(2, p+"class_token"); ok {
		in.setInt("residual dim", &r.Dim, v)
	} else if v, ok := in.dim(0, p+"conv_proj.weight"); ok {
		in.setInt("residual dim", &r.Dim, v)
	}
	if n := in.count(p + "encoder.layers.encoder_layer_"); n > 0 {
		// torchvision names layers encoder_layer_{i} (no dot before i).
		in.setInt("residual depth", &r.Depth, n)
	}
	if v, ok := in.dim(0, p+"encoder.layers.encoder_layer_0.mlp.0.weight"); ok {
		in.setInt("residual mlp", &r.MLP, v)
	}
	if s, ok := in.shape(p + "conv_proj.weight"); ok && len(s) == 4 {
		in.setInt("residual in_chans", &r.InChans, s[1])
		in.setInt("residual patch", &r.Patch, s[2])
	}
	if v, ok := in.dim(1, p+"encoder.pos_embedding"); ok && r.Patch > 0 {
		g := int(math.Round(math.Sqrt(float64(v - 1))))
		if g*g == v-1 {
			in.setInt("residual image", &r.Image, g*r.Patch)
		}
	}
	if v, ok := in.dim(0, p+"heads.2.weight"); ok {
		in.setInt("residual out_dim", &r.OutDim, v)
	}
	if ov.ResidualHeads > 0 {
		r.Heads = ov.ResidualHeads
	}
	if off := model.SVGResidual; r.Heads == 0 && r.Dim == off.Dim && r.Depth == off.Depth && r.MLP == off.MLP && r.Patch == off.Patch {
		// SVG's create_small_vit_s is the only residual ViT there is.
		r.Heads = off.Heads
		in.notes = append(in.notes, fmt.Sprintf("residual ViT heads: not in the checkpoint; its sizes are the official create_small_vit_s: using %d", off.Heads))
	}
	if r.Heads == 0 {
		return fmt.Errorf("the residual ViT's head count is not in the checkpoint (packed in_proj): give a preset (svg-*: 8), a config file or the head count")
	}
	if r.Dim == 0 || r.Depth == 0 || r.MLP == 0 || r.Patch == 0 || r.Image == 0 || r.OutDim == 0 {
		return fmt.Errorf("cannot infer the residual ViT's sizes from the checkpoint (dim %d, depth %d, mlp %d, patch %d, image %d, out %d)",
			r.Dim, r.Depth, r.MLP, r.Patch, r.Image, r.OutDim)
	}
	return nil
}

// vae infers the LDM KL autoencoder's config: post_quant_conv [Z,E,1,1]
// gives the latent and decoder widths; the encoder's keys give its sizes,
// and without an encoder they are the decoder's (LDM builds both halves
// from one ddconfig).
func (in *inferrer) vae(v *model.VAEConfig, dec model.DecoderConfig, grid int, encoders bool) error {
	s, ok := in.shape(model.PrefixPostQuant + "weight")
	if !ok || len(s) != 4 {
		return fmt.Errorf("the LDM KL autoencoder has no post_quant_conv.weight [z, embed_dim, 1, 1]")
	}
	in.setInt("vae z_channels", &v.ZChannels, s[0])
	in.setInt("vae embed_dim", &v.EmbedDim, s[1])
	v.Groups = dec.Groups
	v.NoEncoder = !encoders
	if !encoders {
		if v.Ch == 0 {
			v.Ch, v.ChMult, v.NumResBlocks, v.AttnRes = dec.Ch, slices.Clone(dec.ChMult), dec.NumResBlocks, slices.Clone(dec.AttnRes)
		}
		if v.InCh == 0 {
			v.InCh = dec.OutCh
		}
		v.Resolution = grid << (len(v.ChMult) - 1)
		return nil
	}
	const p = model.PrefixDino
	if s, ok := in.shape(p + "conv_in.weight"); ok && len(s) == 4 {
		in.setInt("vae ch", &v.Ch, s[0])
		in.setInt("vae in_channels", &v.InCh, s[1])
	}
	if c, ok := in.dim(0, p+"conv_out.weight"); ok {
		if c != 2*v.ZChannels {
			return fmt.Errorf("the VAE encoder's conv_out makes %d channels; post_quant_conv says z_channels %d (double_z: want %d)", c, v.ZChannels, 2*v.ZChannels)
		}
	}
	if c, ok := in.dim(0, model.PrefixQuant+"weight"); ok && c != 2*v.EmbedDim {
		return fmt.Errorf("quant_conv makes %d channels; post_quant_conv says embed_dim %d (want %d)", c, v.EmbedDim, 2*v.EmbedDim)
	}
	levels := in.count(p + "down.")
	if levels == 0 || v.Ch == 0 {
		return fmt.Errorf("cannot infer the VAE encoder's levels: no encoder.conv_in.weight or encoder.down.* weights")
	}
	in.setInt("vae num_res_blocks", &v.NumResBlocks, in.count(p+"down.0.block."))
	mult := make([]int, levels)
	width := v.Ch
	for l := range mult {
		if w, ok := in.dim(0, fmt.Sprintf("%sdown.%d.block.0.conv1.weight", p, l)); ok {
			width = w
		}
		if width%v.Ch != 0 {
			return fmt.Errorf("VAE encoder level %d is %d wide, not a multiple of ch %d", l, width, v.Ch)
		}
		mult[l] = width / v.Ch
	}
	if v.ChMult != nil && !slices.Equal(v.ChMult, mult) {
		in.notes = append(in.notes, fmt.Sprintf("vae ch_mult: the checkpoint has %v, %s says %v: using %v", mult, in.what, v.ChMult, mult))
	}
	v.ChMult = mult
	v.Resolution = grid << (levels - 1)
	var attn []int
	for l := range levels {
		if in.has(fmt.Sprintf("%sdown.%d.attn.", p, l)) {
			attn = append(attn, v.Resolution>>l)
		}
	}
	sort.Ints(attn)
	v.AttnRes = attn
	return nil
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
