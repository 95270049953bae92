package convert

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"novae/model"
	"novae/model/pt"
)

// The official SVG-XL checkpoints' key lists, written by
// tools/reference/official_keys.py from the official code (shiml20/SVG,
// facebookresearch/dinov3, CompVis/taming-transformers; commits in each
// file's header) at full size. No official checkpoint can be downloaded
// here: these lists are what a user holding one has, minus the values.
const (
	officialDiT  = "testdata/official_svgxl_dit.txt"         // train_svg.py: {"ema": state_dict}
	officialAE   = "testdata/official_svg_autoencoder.txt"   // Lightning: {"state_dict": …}
	officialDino = "testdata/official_dinov3_vits16plus.txt" // the .pth: state dict at the top
)

// officialList is one key list: file order, shapes and dtypes.
type officialList struct {
	keys   []string
	shapes map[string][]int
	dtypes map[string]string
}

func readOfficial(t *testing.T, path string) officialList {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l := officialList{shapes: map[string][]int{}, dtypes: map[string]string{}}
	count := -1
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if h, ok := strings.CutPrefix(line, "# "); ok {
			if n, _, ok := strings.Cut(h, " tensors: "); ok {
				count, _ = strconv.Atoi(n)
			}
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 3 || !strings.HasPrefix(fields[1], "[") || !strings.HasSuffix(fields[1], "]") {
			t.Fatalf("%s: bad line %q", path, line)
		}
		shape := []int{}
		if dims := strings.Trim(fields[1], "[]"); dims != "" {
			for _, d := range strings.Split(dims, ",") {
				v, err := strconv.Atoi(d)
				if err != nil {
					t.Fatalf("%s: bad shape in %q", path, line)
				}
				shape = append(shape, v)
			}
		}
		if _, dup := l.shapes[fields[0]]; dup {
			t.Fatalf("%s: %s twice", path, fields[0])
		}
		l.keys = append(l.keys, fields[0])
		l.shapes[fields[0]], l.dtypes[fields[0]] = shape, fields[2]
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if count != len(l.keys) {
		t.Fatalf("%s: header says %d tensors, the file lists %d", path, count, len(l.keys))
	}
	return l
}

// tensors makes the checkpoint's tensors as ReadTensors returns them
// (nested dicts as dotted keys under wrap), with shapes and no values.
func (l officialList) tensors(wrap string) map[string]*pt.Tensor {
	m := map[string]*pt.Tensor{}
	for _, k := range l.keys {
		m[wrap+k] = &pt.Tensor{Shape: slices.Clone(l.shapes[k]), DType: l.dtypes[k]}
	}
	return m
}

// officialIgnored are the official keys a novae file deliberately does not
// hold (file keys: the autoencoder's as they are, DINOv3's .pth keys under
// encoder.), and why. Every other official key must be a novae parameter
// with exactly its shape.
var officialIgnored = []struct{ re, why string }{
	{`^mask_token$`, "autoencoder: the residual branch's training-time mask token (mask_ratio 0.1)"},
	{`^norm_vit\.(weight|bias)$`, "autoencoder: LayerNorm(output_dim + embed_dim) that DinoDecoder builds and never calls"},
	{`^loss\.`, "autoencoder: the training loss (LPIPS with its VGG, the PatchGAN discriminator with BatchNorm statistics, logvar)"},
	{`^encoder\.mask_token$`, "DINOv3: the masked-patch embedding of its iBOT training"},
	{`^encoder\.blocks\.\d+\.attn\.qkv\.bias_mask$`, "DINOv3: multiplied into attn.qkv.bias by the converter, then dropped"},
}

var officialIgnoredRE = func() map[string]*regexp.Regexp {
	m := map[string]*regexp.Regexp{}
	for _, ig := range officialIgnored {
		m[ig.re] = regexp.MustCompile(ig.re)
	}
	return m
}()

func officialIgnoredWhy(key string) (string, bool) {
	for _, ig := range officialIgnored {
		if officialIgnoredRE[ig.re].MatchString(key) {
			return ig.why, true
		}
	}
	return "", false
}

// officialFileKeys maps the three lists to novae file keys → shapes, the
// way the converter renames them (DiT under dit., the autoencoder's keys as
// they are, the DINOv3 .pth under encoder.). The autoencoder's and the
// .pth's encoder.* must agree.
func officialFileKeys(t *testing.T, dit, ae, dino officialList) map[string][]int {
	t.Helper()
	out := map[string][]int{}
	for _, k := range dit.keys {
		out[model.PrefixDiT+k] = dit.shapes[k]
	}
	for _, k := range ae.keys {
		out[k] = ae.shapes[k]
	}
	for _, k := range dino.keys {
		fk := model.PrefixDino + k
		if s, ok := ae.shapes[fk]; !ok || !slices.Equal(s, dino.shapes[k]) {
			t.Errorf("DINOv3 .pth key %s %v: the autoencoder's %s is %v (present: %v)", k, dino.shapes[k], fk, s, ok)
		}
	}
	for k := range ae.shapes {
		if strings.HasPrefix(k, model.PrefixDino) {
			if _, ok := dino.shapes[strings.TrimPrefix(k, model.PrefixDino)]; !ok {
				t.Errorf("the autoencoder's %s is not in the DINOv3 .pth", k)
			}
		}
	}
	return out
}

// compareOfficial lists every difference between the official tensors
// (file keys → shapes) and the novae parameters ps: an official key that is
// neither a parameter nor deliberately ignored (an ignored key may be an
// optional parameter: the converter drops it, the model accepts it), a shape that is not exactly
// the official one (singleton dimensions included), a parameter the
// official files lack, an ignore rule that ignores a parameter or nothing.
// The latent statistics come from dinov3_sp_stats.pt and are not compared.
func compareOfficial(official map[string][]int, ps []model.Param) []string {
	var probs []string
	params := map[string]model.Param{}
	for _, p := range ps {
		params[p.Name] = p
	}
	used := map[string]bool{}
	for _, k := range sortedKeys(official) {
		s := official[k]
		p, isParam := params[k]
		if why, ok := officialIgnoredWhy(k); ok {
			for _, ig := range officialIgnored {
				if officialIgnoredRE[ig.re].MatchString(k) {
					used[ig.re] = true
				}
			}
			// An optional parameter may be ignored: the converter leaves it
			// out, the model loads a file with or without it.
			if isParam && !p.Optional {
				probs = append(probs, fmt.Sprintf("%s is ignored (%s) but is a required novae parameter %v", k, why, p.Shape))
			}
			continue
		}
		switch {
		case !isParam:
			probs = append(probs, fmt.Sprintf("official %s %v is not a novae parameter", k, s))
		case !slices.Equal(s, p.Shape):
			probs = append(probs, fmt.Sprintf("%s: official shape %v, novae expects %v", k, s, p.Shape))
		}
	}
	for _, p := range ps {
		if p.Name == model.KeyMean || p.Name == model.KeyStd {
			continue
		}
		if _, ok := official[p.Name]; !ok {
			probs = append(probs, fmt.Sprintf("novae parameter %s %v (optional %v) is not in the official checkpoints", p.Name, p.Shape, p.Optional))
		}
	}
	for _, ig := range officialIgnored {
		if !used[ig.re] {
			probs = append(probs, fmt.Sprintf("ignore rule %s matches no official key", ig.re))
		}
	}
	return probs
}

// officialReader serves made-up official files to assemble: the tensors of
// the lists, wrapped as the official code saves them, and a
// dinov3_sp_stats.pt with values (392 channels; the only values assemble
// reads besides the bias_mask).
func officialReader(files map[string]map[string]*pt.Tensor) func(string) (map[string]*pt.Tensor, error) {
	return func(path string) (map[string]*pt.Tensor, error) {
		m, ok := files[path]
		if !ok {
			return nil, fmt.Errorf("open %s: no such file", path)
		}
		return m, nil
	}
}

func officialFiles(dit, ae, dino officialList) map[string]map[string]*pt.Tensor {
	mean, std := make([]float32, 392), make([]float32, 392)
	for i := range std {
		mean[i], std[i] = float32(i)/392, 1+float32(i)/392
	}
	return map[string]map[string]*pt.Tensor{
		"SVG-XL/checkpoints/0400000.pt":                    dit.tensors("ema."),
		"autoencoder/last.ckpt":                            ae.tensors("state_dict."),
		"dinov3_vits16plus_pretrain_lvd1689m-4057cbaa.pth": dino.tensors(""),
		"dinov3_sp_stats.pt": {
			"dinov3_sp_mean": {Shape: []int{1, 1, 392}, DType: "F32", Data: mean},
			"dinov3_sp_std":  {Shape: []int{1, 1, 392}, DType: "F32", Data: std},
		},
	}
}

// TestOfficialKeys: what the converter expects for SVG-XL (ParamsFor of the
// svg-xl preset: the model's own parameter lists) is exactly what the
// official code builds at full size — every official key is a parameter
// with its exact shape or is ignored for a stated reason, and no parameter
// is missing from the official files.
func TestOfficialKeys(t *testing.T) {
	dit, ae, dino := readOfficial(t, officialDiT), readOfficial(t, officialAE), readOfficial(t, officialDino)
	// What the lists must hold (the paper's Table 8, tools/reference/README.md): 12 + 14·28
	// DiT tensors; DINOv3-S+ 6 + 17·12 + 2; the autoencoder's groups.
	if len(dit.keys) != 12+14*28 || len(dino.keys) != 6+17*12+2 {
		t.Fatalf("official lists: DiT %d tensors, DINOv3 %d", len(dit.keys), len(dino.keys))
	}
	groups := map[string]int{}
	for _, k := range ae.keys {
		top, _, _ := strings.Cut(k, ".")
		groups[top]++
	}
	if want := map[string]int{"encoder": 212, "extra_vit": 82, "decoder": 194, "mask_token": 1, "norm_vit": 2, "loss": 56}; !reflect.DeepEqual(groups, want) {
		t.Fatalf("autoencoder groups %v, want %v", groups, want)
	}
	cfg, err := Preset("svg-xl")
	if err != nil {
		t.Fatal(err)
	}
	ps := ParamsFor(cfg)
	official := officialFileKeys(t, dit, ae, dino)
	for _, p := range compareOfficial(official, ps) {
		t.Error(p)
	}
	// learn_sigma: the official final layer has 2·392 outputs; novae loads
	// the first 392 rows (the sampler's first half) and nothing else.
	for _, p := range ps {
		if strings.HasPrefix(p.Name, model.PrefixDiT+"final_layer.linear.") && p.KeepRows != 392 {
			t.Errorf("%s keeps %d rows, want 392 (the learn_sigma half is never used)", p.Name, p.KeepRows)
		}
	}
	for _, ig := range officialIgnored {
		t.Logf("ignored %-45s %s", ig.re, ig.why)
	}
}

// TestOfficialKeysConvert runs the converter's reading, renaming, config
// inference and key-by-key validation on the official SVG-XL files made up
// from the lists (shapes only, no weights): with the svg-xl preset, without
// any preset (inferred from shapes alone), with the DINOv3 .pth, and
// without encoders. The inferred config is SVG-XL's and the assembled set
// is exactly the novae parameters.
func TestOfficialKeysConvert(t *testing.T) {
	dit, ae, dino := readOfficial(t, officialDiT), readOfficial(t, officialAE), readOfficial(t, officialDino)
	read := officialReader(officialFiles(dit, ae, dino))
	xl, _ := Preset("svg-xl")
	for _, c := range []struct {
		name   string
		edit   func(o *Options)
		want   func() model.Config
		others []string // notes that must be there
	}{
		{"preset", func(o *Options) {}, func() model.Config { return xl }, nil},
		{"no preset", func(o *Options) { o.Base, o.BaseName = nil, "" }, func() model.Config { return xl },
			[]string{"residual ViT heads: not in the checkpoint; its sizes are the official create_small_vit_s: using 8"}},
		{"dino pth", func(o *Options) { o.Dino = "dinov3_vits16plus_pretrain_lvd1689m-4057cbaa.pth" }, func() model.Config { return xl },
			[]string{"DINOv3: dinov3_vits16plus_pretrain_lvd1689m-4057cbaa.pth replaces the autoencoder's 212 encoder.* tensors (0 differ)"}},
		{"no encoders", func(o *Options) { o.NoEncoders = true }, func() model.Config {
			c := clone(xl)
			c.Dino, c.Residual = nil, nil
			return c
		}, []string{"left out the encoders (281 tensors): the file can generate but not encode"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			base := clone(xl)
			o := Options{DiT: "SVG-XL/checkpoints/0400000.pt", AE: "autoencoder/last.ckpt", Stats: "dinov3_sp_stats.pt",
				Base: &base, BaseName: "preset svg-xl"}
			c.edit(&o)
			a, err := assemble(o, read)
			if err != nil {
				t.Fatal(err)
			}
			if want := c.want(); !reflect.DeepEqual(a.Config, want) {
				t.Errorf("config\n got %+v\nwant %+v", a.Config, want)
			}
			for _, n := range a.Notes {
				if strings.Contains(n, "the checkpoint has") {
					t.Errorf("the checkpoint disagrees with SVG-XL: %s", n)
				}
			}
			wantNotes := append([]string{
				`DiT: using "ema" from 0400000.pt`,
				"autoencoder: ignored (unused at inference): loss.* (56 tensors), mask_token [1 8 1], norm_vit.bias [40], norm_vit.weight [40]",
			}, c.others...)
			if !o.NoEncoders {
				wantNotes = append(wantNotes, "dropped encoder.mask_token [1 384] (training only)",
					"baked 12 DINOv3 attn.qkv.bias_mask buffers into attn.qkv.bias and dropped them")
			}
			for _, w := range wantNotes {
				if !slices.Contains(a.Notes, w) {
					t.Errorf("no note %q in\n%s", w, strings.Join(a.Notes, "\n"))
				}
			}
			// The assembled set is exactly the parameter list: every key,
			// the optional pos_embed included, with its official shape.
			have := sortedKeys(a.Tensors)
			var want []string
			for _, p := range a.Params {
				if _, ignored := officialIgnoredWhy(p.Name); ignored && p.Optional {
					continue // encoder.mask_token: dropped by the converter
				}
				want = append(want, p.Name)
				if s := a.Tensors[p.Name]; s != nil && !slices.Equal(s.Shape, p.Shape) && p.Name != model.KeyMean && p.Name != model.KeyStd {
					t.Errorf("%s: assembled %v, parameter %v", p.Name, s.Shape, p.Shape)
				}
			}
			slices.Sort(want)
			if !slices.Equal(have, want) {
				t.Errorf("assembled keys differ from the parameters:\n have %d %v\n want %d %v", len(have), diff(have, want), len(want), diff(want, have))
			}
			if a.Sources["dit"] != "0400000.pt" || a.Sources["ae"] != "last.ckpt" || a.Sources["stats"] != "dinov3_sp_stats.pt" {
				t.Errorf("sources %v", a.Sources)
			}
		})
	}
}

// diff returns the elements of a (sorted) that b lacks.
func diff(a, b []string) []string {
	var out []string
	for _, x := range a {
		if _, ok := slices.BinarySearch(b, x); !ok {
			out = append(out, x)
		}
	}
	return out
}

// TestOfficialKeysDrift: the comparison above is not vacuous. A renamed
// key, a changed shape (a singleton dimension included) or a dropped
// tensor on either side is reported by compareOfficial, and the converter
// itself refuses such a checkpoint naming the key.
func TestOfficialKeysDrift(t *testing.T) {
	dit, ae, dino := readOfficial(t, officialDiT), readOfficial(t, officialAE), readOfficial(t, officialDino)
	cfg, _ := Preset("svg-xl")
	ps := ParamsFor(cfg)
	base := officialFileKeys(t, dit, ae, dino)
	mutate := func(edit func(m map[string][]int, ps []model.Param) []model.Param) []string {
		m := map[string][]int{}
		for k, s := range base {
			m[k] = slices.Clone(s)
		}
		return compareOfficial(m, edit(m, slices.Clone(ps)))
	}
	for _, c := range []struct {
		name string
		edit func(m map[string][]int, ps []model.Param) []model.Param
		want string
	}{
		{"renamed official key", func(m map[string][]int, ps []model.Param) []model.Param {
			m["dit.blocks.7.attn.q_norm.scale"] = m["dit.blocks.7.attn.q_norm.weight"]
			delete(m, "dit.blocks.7.attn.q_norm.weight")
			return ps
		}, "official dit.blocks.7.attn.q_norm.scale [72] is not a novae parameter"},
		{"official shape", func(m map[string][]int, ps []model.Param) []model.Param {
			m["decoder.up.3.block.0.nin_shortcut.weight"] = []int{256, 512}
			return ps
		}, "decoder.up.3.block.0.nin_shortcut.weight: official shape [256 512], novae expects [256 512 1 1]"},
		{"dropped official key", func(m map[string][]int, ps []model.Param) []model.Param {
			delete(m, "extra_vit.encoder.pos_embedding")
			return ps
		}, "novae parameter extra_vit.encoder.pos_embedding [1 257 384] (optional false) is not in the official checkpoints"},
		{"parameter shape", func(m map[string][]int, ps []model.Param) []model.Param {
			for i := range ps {
				if ps[i].Name == "dit.pos_embed" {
					ps[i].Shape = []int{256, 1152}
				}
			}
			return ps
		}, "dit.pos_embed: official shape [1 256 1152], novae expects [256 1152]"},
		{"parameter renamed", func(m map[string][]int, ps []model.Param) []model.Param {
			for i := range ps {
				if ps[i].Name == "encoder.rope_embed.periods" {
					ps[i].Name = "encoder.rope.periods"
				}
			}
			return ps
		}, "official encoder.rope_embed.periods [16] is not a novae parameter"},
		{"ignored and required", func(m map[string][]int, ps []model.Param) []model.Param {
			return append(ps, model.Param{Name: "norm_vit.weight", Shape: []int{40}})
		}, "norm_vit.weight is ignored"},
		{"stale ignore rule", func(m map[string][]int, ps []model.Param) []model.Param {
			delete(m, "norm_vit.weight")
			delete(m, "norm_vit.bias")
			return ps
		}, `ignore rule ^norm_vit\.(weight|bias)$ matches no official key`},
	} {
		t.Run(c.name, func(t *testing.T) {
			probs := mutate(c.edit)
			if !slices.ContainsFunc(probs, func(p string) bool { return strings.Contains(p, c.want) }) {
				t.Errorf("want a problem containing %q, got %q", c.want, probs)
			}
		})
	}

	// The converter on a drifted checkpoint: every difference named.
	files := officialFiles(dit, ae, dino)
	d := files["SVG-XL/checkpoints/0400000.pt"]
	d["ema.blocks.3.attn.qkv.weightx"] = d["ema.blocks.3.attn.qkv.weight"]
	delete(d, "ema.blocks.3.attn.qkv.weight")
	files["autoencoder/last.ckpt"]["state_dict.decoder.mid.attn_1.q.weight"].Shape = []int{512, 256, 1, 1}
	xl, _ := Preset("svg-xl")
	_, err := assemble(Options{DiT: "SVG-XL/checkpoints/0400000.pt", AE: "autoencoder/last.ckpt", Stats: "dinov3_sp_stats.pt",
		Base: &xl, BaseName: "preset svg-xl"}, officialReader(files))
	var mm *Mismatch
	if !errors.As(err, &mm) {
		t.Fatalf("got %v, want a *Mismatch", err)
	}
	if !slices.Equal(mm.Missing, []string{"dit.blocks.3.attn.qkv.weight [3456 1152]"}) ||
		!slices.Equal(mm.Unexpected, []string{"dit.blocks.3.attn.qkv.weightx [3456 1152]"}) ||
		!slices.Equal(mm.WrongShape, []string{"decoder.mid.attn_1.q.weight: have [512 256 1 1], config wants [512 512 1 1]"}) {
		t.Errorf("mismatch %+v", mm)
	}
}
