package convert

import (
	"fmt"
	"io"
	"math"
	"strings"

	"novae/model"
	"novae/model/weights"
)

// CheckFile validates an open novae weights file: the "config" metadata
// parses and is consistent, and every key and (logical) shape matches it —
// missing, mis-shaped and unexpected keys are all listed (*Mismatch). It
// returns the config. Shard checksums are File.Verify's business.
func CheckFile(f *weights.File) (model.Config, error) {
	cfg, err := model.ParseConfig(f.Metadata())
	if err != nil {
		return cfg, err
	}
	ps := ParamsFor(cfg)
	src := model.FileSource{F: f}
	shapes := map[string][]int{}
	for _, n := range src.Names() {
		shapes[n], _ = src.Lookup(n)
	}
	if m := check(shapes, ps, fmt.Sprintf("the file's config %q", cfg.Name)); m != nil {
		return cfg, m
	}
	return cfg, model.Check(src, "", ps)
}

// CheckValues reads every tensor (dequantizing) and reports the first that
// cannot be read or holds a NaN or an infinity.
func CheckValues(f *weights.File) error {
	for _, n := range f.Names() {
		v, err := f.F32(n)
		if err != nil {
			return err
		}
		for i, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return fmt.Errorf("%s[%d] = %v", n, i, x)
			}
		}
	}
	return nil
}

// FileStats counts an open weights file.
type FileStats struct {
	Params  map[string]int          // logical parameters per network (Network)
	Bytes   map[weights.DType]int64 // stored bytes per dtype
	Count   map[weights.DType]int   // stored tensors per dtype
	Quant   map[string]int          // quantized weights per "kind" / "kind group G"
	Tensors int                     // logical tensors (scales not counted)
}

// Stats counts the tensors of f.
func Stats(f *weights.File) FileStats {
	s := FileStats{Params: map[string]int{}, Bytes: map[weights.DType]int64{}, Count: map[weights.DType]int{}, Quant: map[string]int{}}
	for _, n := range f.Names() {
		info, _ := f.Info(n)
		s.Bytes[info.DType] += info.Bytes
		s.Count[info.DType]++
		if base, ok := strings.CutSuffix(n, weights.ScalesSuffix); ok {
			if bi, ok := f.Info(base); ok && bi.Quant != nil {
				continue
			}
		}
		s.Tensors++
		shape := info.Shape
		if q := info.Quant; q != nil {
			shape = q.Shape
			k := q.Kind
			if q.Kind != weights.QuantF16 {
				k = fmt.Sprintf("%s group %d", q.Kind, q.Group)
				if q.Group == 0 {
					k = q.Kind + " per row"
				}
			}
			s.Quant[k]++
		}
		s.Params[Network(n)] += numel(shape)
	}
	return s
}

// Print writes the counts for people.
func (s FileStats) Print(w io.Writer) {
	total := 0
	var parts []string
	for _, n := range []string{"dit", "decoder", "encoder", "extra_vit", "latent", "other"} {
		if v, ok := s.Params[n]; ok {
			parts = append(parts, fmt.Sprintf("%s %s", n, human(v)))
			total += v
		}
	}
	fmt.Fprintf(w, "parameters: %s; total %s (%d) in %d tensors\n", strings.Join(parts, ", "), human(total), total, s.Tensors)
	var dt []string
	var bytes int64
	for _, d := range sortedDTypes(s.Bytes) {
		dt = append(dt, fmt.Sprintf("%s %s in %d tensors", d, mib(s.Bytes[d]), s.Count[d]))
		bytes += s.Bytes[d]
	}
	fmt.Fprintf(w, "storage: %s; total %s\n", strings.Join(dt, ", "), mib(bytes))
	if len(s.Quant) == 0 {
		fmt.Fprintln(w, "quantization: none (all F32)")
	} else {
		var q []string
		for _, k := range sortedKeys(s.Quant) {
			q = append(q, fmt.Sprintf("%d %s", s.Quant[k], k))
		}
		fmt.Fprintf(w, "quantization: %s Linear weights\n", strings.Join(q, ", "))
	}
}
