package convert

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"novae/model"
	"novae/model/weights"
)

// Quant selects how the Linear weights (model.Param.Linear) are stored;
// every other tensor stays F32.
type Quant struct {
	Kind  string // "" or "f32": as they are; weights.QuantF16, QuantInt8 or QuantInt4
	Group int    // input columns per scale: int8 0 = one per row; int4 needs > 0 (0 → 32)
	// Convs also stores conv weights [out,in,kh,kw] as int8 with one scale
	// per output channel (the row-major [out, in·kh·kw] matrix); backends
	// dequantize them to f32 at load. It keeps small models small.
	Convs bool
}

// DefaultInt4Group is the int4 group size when none is given.
const DefaultInt4Group = 32

func (q Quant) normalize() (Quant, error) {
	switch q.Kind {
	case "", "f32":
		if q.Group != 0 {
			return q, fmt.Errorf("a group size needs --quant int8 or int4")
		}
		q.Kind = ""
	case weights.QuantF16:
		if q.Group != 0 {
			return q, fmt.Errorf("f16 takes no group size")
		}
	case weights.QuantInt8:
	case weights.QuantInt4:
		if q.Group == 0 {
			q.Group = DefaultInt4Group
		}
	default:
		return q, fmt.Errorf("unknown quantization %q (want f32, f16, int8 or int4)", q.Kind)
	}
	if q.Group < 0 {
		return q, fmt.Errorf("negative group size %d", q.Group)
	}
	return q, nil
}

// String describes q as the command line spells it.
func (q Quant) String() string {
	switch q.Kind {
	case "", "f32":
		return "f32"
	case weights.QuantInt8:
		if q.Group == 0 {
			return "int8 (one scale per row)"
		}
	case weights.QuantF16:
		return "f16"
	}
	return fmt.Sprintf("%s (group %d)", q.Kind, q.Group)
}

// groupFor returns the group for a weight with in input columns: g when it
// divides in, else the largest divisor of in below g (int4 also needs in
// even); 0 with false when int4 is impossible (odd in).
func groupFor(kind string, g, in int) (int, bool) {
	if kind == weights.QuantInt4 && in%2 != 0 {
		return 0, false
	}
	if g == 0 || in%g == 0 {
		return g, true
	}
	for d := min(g, in); d > 1; d-- {
		if in%d == 0 {
			return d, true
		}
	}
	return 1, true
}

// Packed is a tensor set ready to write.
type Packed struct {
	Tensors []weights.Tensor         // in storage order; a quantized K is followed by K.scales
	Quant   map[string]weights.Quant // the "quant" metadata entries
	Notes   []string                 // group fallbacks
	Storage Quant                    // the (normalized) quantization asked for
}

// Getter supplies a param's values: shape is what to store (nil: p.Shape),
// ok false skips an absent optional param. Pack does not keep v.
type Getter func(p model.Param) (shape []int, v []float32, ok bool, err error)

// Pack turns every param of ps into stored tensors, in order, quantizing the
// Linear weights per q. Values are fetched one param at a time, so the f32
// copy of the whole model never needs to exist next to the packed one.
func Pack(ps []model.Param, q Quant, get Getter) (*Packed, error) {
	q, err := q.normalize()
	if err != nil {
		return nil, err
	}
	out := &Packed{Quant: map[string]weights.Quant{}, Storage: q}
	for _, p := range ps {
		shape, v, ok, err := get(p)
		if err != nil {
			return nil, err
		}
		if !ok {
			if !p.Optional {
				return nil, fmt.Errorf("no values for %s", p.Name)
			}
			continue
		}
		if shape == nil {
			shape = p.Shape
		}
		if numel(shape) != len(v) {
			return nil, fmt.Errorf("%s: %d values for shape %v", p.Name, len(v), shape)
		}
		t := weights.F32Tensor(p.Name, shape, v)
		if q.Convs && !p.Linear && len(p.Shape) == 4 && strings.HasSuffix(p.Name, ".weight") {
			t.Shape = slices.Clone(p.Shape)
			ts, entry, err := weights.Quantize(t, weights.QuantInt8, 0)
			if err != nil {
				return nil, err
			}
			out.Tensors = append(out.Tensors, ts...)
			out.Quant[p.Name] = entry
			continue
		}
		if !p.Linear || q.Kind == "" {
			out.Tensors = append(out.Tensors, t)
			continue
		}
		t.Shape = slices.Clone(p.Shape) // [out, in]
		kind, g := q.Kind, q.Group
		if kind != weights.QuantF16 {
			in := p.Shape[1]
			ng, ok := groupFor(kind, g, in)
			switch {
			case !ok:
				kind, ng = weights.QuantInt8, 0
				out.Notes = append(out.Notes, fmt.Sprintf("%s: %d input columns (odd) cannot be int4: stored int8 per row", p.Name, in))
			case ng != g:
				out.Notes = append(out.Notes, fmt.Sprintf("%s: group %d does not divide %d input columns: using group %d", p.Name, g, in, ng))
			}
			g = ng
		}
		ts, entry, err := weights.Quantize(t, kind, g)
		if err != nil {
			return nil, err
		}
		out.Tensors = append(out.Tensors, ts...)
		out.Quant[p.Name] = entry
	}
	return out, nil
}

// Metadata is what a novae file records besides the tensors: "format",
// "config", "sources" (role → file name; may be nil), "quant", and extra
// entries (e.g. how random weights were made).
func Metadata(cfg model.Config, sources map[string]string, quant map[string]weights.Quant, extra map[string]string) (map[string]string, error) {
	cj, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	meta := map[string]string{"format": "novae", "config": string(cj)}
	if len(sources) > 0 {
		sj, err := json.Marshal(sources)
		if err != nil {
			return nil, err
		}
		meta["sources"] = string(sj)
	}
	if len(quant) > 0 {
		if err := weights.SetQuant(meta, quant); err != nil {
			return nil, err
		}
	}
	for k, v := range extra {
		meta[k] = v
	}
	return meta, nil
}

// Output says where to write.
type Output struct {
	Path       string // a .safetensors file; with Shard, the manifest (".json" added when missing)
	Shard      bool
	ShardBytes int64 // shard size limit; 0: weights.DefaultShardBytes (64 MiB)
}

// FileInfo is one written file.
type FileInfo struct {
	Path  string
	Bytes int64
}

// Write writes the packed tensors and the metadata; it returns the files
// written (the manifest first for a sharded set). A single file is written
// under a temporary name and renamed, so a failed run leaves no partial file.
func (o Output) Write(p *Packed, meta map[string]string) ([]FileInfo, error) {
	if o.Path == "" {
		return nil, fmt.Errorf("no output path")
	}
	if !o.Shard {
		tmp := o.Path + ".tmp"
		if err := weights.WriteFile(tmp, p.Tensors, meta); err != nil {
			os.Remove(tmp)
			return nil, err
		}
		if err := os.Rename(tmp, o.Path); err != nil {
			os.Remove(tmp)
			return nil, err
		}
		return statAll(o.Path)
	}
	dir, base := filepath.Split(o.Path)
	base = strings.TrimSuffix(base, ".json")
	base = strings.TrimSuffix(base, ".safetensors")
	if dir == "" {
		dir = "."
	}
	if base == "" {
		base = "model"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	man, err := weights.WriteSharded(dir, base, p.Tensors, meta, o.ShardBytes)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(man)
	if err != nil {
		return nil, err
	}
	m, err := weights.ParseManifest(data)
	if err != nil {
		return nil, err
	}
	paths := []string{man}
	for _, s := range m.Shards {
		paths = append(paths, filepath.Join(dir, s.File))
	}
	return statAll(paths...)
}

func statAll(paths ...string) ([]FileInfo, error) {
	var out []FileInfo
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		out = append(out, FileInfo{p, st.Size()})
	}
	return out, nil
}

// Summary is what a conversion produced.
type Summary struct {
	Config model.Config
	Params map[string]int          // logical parameters per network (Network)
	Bytes  map[weights.DType]int64 // stored bytes per dtype
	Count  map[weights.DType]int   // stored tensors per dtype
	Quant  Quant
	Files  []FileInfo
}

// Summarize counts a packed set.
func Summarize(cfg model.Config, p *Packed, files []FileInfo) Summary {
	s := Summary{Config: cfg, Params: map[string]int{}, Bytes: map[weights.DType]int64{}, Count: map[weights.DType]int{}, Quant: p.Storage, Files: files}
	for _, t := range p.Tensors {
		s.Bytes[t.DType] += int64(len(t.Data))
		s.Count[t.DType]++
		if strings.HasSuffix(t.Name, weights.ScalesSuffix) {
			if _, ok := p.Quant[strings.TrimSuffix(t.Name, weights.ScalesSuffix)]; ok {
				continue
			}
		}
		shape := t.Shape
		if e, ok := p.Quant[t.Name]; ok {
			shape = e.Shape
		}
		s.Params[Network(t.Name)] += numel(shape)
	}
	return s
}

// Print writes the summary for people.
func (s Summary) Print(w io.Writer) {
	fmt.Fprintf(w, "config: %s\n", Describe(s.Config))
	total := 0
	var parts []string
	for _, n := range []string{"dit", "decoder", "encoder", "extra_vit", "latent", "other"} {
		if v, ok := s.Params[n]; ok {
			parts = append(parts, fmt.Sprintf("%s %s", n, human(v)))
			total += v
		}
	}
	fmt.Fprintf(w, "parameters: %s; total %s (%d)\n", strings.Join(parts, ", "), human(total), total)
	var dt []string
	var bytes int64
	for _, d := range sortedDTypes(s.Bytes) {
		dt = append(dt, fmt.Sprintf("%s %s in %d tensors", d, mib(s.Bytes[d]), s.Count[d]))
		bytes += s.Bytes[d]
	}
	fmt.Fprintf(w, "storage (%s Linear weights): %s; total %s\n", s.Quant, strings.Join(dt, ", "), mib(bytes))
	for _, f := range s.Files {
		fmt.Fprintf(w, "wrote %s (%s, %d bytes)\n", f.Path, mib(f.Bytes), f.Bytes)
	}
}

// Describe is a one-line account of a config.
func Describe(c model.Config) string {
	d := c.DiT
	var fl []string
	if d.QKNorm {
		fl = append(fl, "qk_norm")
	}
	if d.LearnSigma {
		fl = append(fl, "learn_sigma")
	}
	s := fmt.Sprintf("%q image %d; DiT depth %d hidden %d heads %d mlp×%g in %d grid %d² classes %d [%s]; decoder z %d ch %d×%v res_blocks %d attn %v groups %d",
		c.Name, c.Image, d.Depth, d.Hidden, d.Heads, d.MLPRatio, d.InChannels, d.Grid, d.NumClasses, strings.Join(fl, " "),
		c.Decoder.ZChannels, c.Decoder.Ch, c.Decoder.ChMult, c.Decoder.NumResBlocks, c.Decoder.AttnRes, c.Decoder.Groups)
	if v := c.VAE; v != nil {
		s += fmt.Sprintf("; VAE latent (LDM KL autoencoder) %d² → %d²×%d, z %d, encoder ch %d×%v res_blocks %d attn %v",
			v.Resolution, v.LatentRes(), v.EmbedDim, v.ZChannels, v.Ch, v.ChMult, v.NumResBlocks, v.AttnRes)
		if v.NoEncoder {
			s += " (no encoder in the file)"
		}
	} else if c.Dino != nil {
		e := c.Dino
		s += fmt.Sprintf("; DINOv3 dim %d depth %d heads %d ffn %d patch %d storage %d", e.Dim, e.Depth, e.Heads, e.FFN, e.Patch, e.Registers)
	} else {
		s += "; no encoders"
	}
	if r := c.Residual; r != nil {
		s += fmt.Sprintf("; residual ViT dim %d depth %d heads %d mlp %d image %d → %d", r.Dim, r.Depth, r.Heads, r.MLP, r.Image, r.OutDim)
	}
	if c.FeatureNorm {
		s += "; feature norm"
	}
	return s
}

func sortedDTypes(m map[weights.DType]int64) []weights.DType {
	var ds []weights.DType
	for d := range m {
		ds = append(ds, d)
	}
	slices.Sort(ds)
	return ds
}

func human(n int) string {
	switch {
	case n >= 1e6:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

func mib(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}
