package convert

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"novae/model/pt"
	"novae/model/weights"
)

// ReadTensors reads every tensor of a checkpoint as float32: a PyTorch file
// (torch.save's zip format: .pt, .pth, .ckpt) through model/pt, or a
// .safetensors file through model/weights. Nested dicts become dotted keys.
func ReadTensors(path string) (map[string]*pt.Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	var magic [4]byte
	_, err = io.ReadFull(f, magic[:])
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: too short for a checkpoint", path)
	}
	if bytes.Equal(magic[:], []byte("PK\x03\x04")) {
		return pt.Load(path)
	}
	wf, err := weights.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s is neither a PyTorch zip checkpoint nor a safetensors file: %v", path, err)
	}
	defer wf.Close()
	out := map[string]*pt.Tensor{}
	for _, name := range wf.Names() {
		info, _ := wf.Info(name)
		if base, ok := strings.CutSuffix(name, weights.ScalesSuffix); ok {
			if bi, ok := wf.Info(base); ok && bi.Quant != nil {
				continue // part of a quantized weight
			}
		}
		v, err := wf.F32(name)
		if err != nil {
			return nil, err
		}
		shape := info.Shape
		dt := string(info.DType)
		if info.Quant != nil {
			shape, dt = info.Quant.Shape, info.Quant.Kind
		}
		out[name] = &pt.Tensor{Shape: shape, DType: dt, Data: v}
	}
	return out, nil
}

// unwrap returns the tensors under the first prefix (a dotted wrapper such as
// "ema" or "state_dict") that has any, with the prefix removed, or m itself.
// It also names the wrapper used and describes the top-level groups left
// outside it.
func unwrap(m map[string]*pt.Tensor, prefixes ...string) (sub map[string]*pt.Tensor, used string, left []string) {
	for _, p := range prefixes {
		sub = map[string]*pt.Tensor{}
		counts := map[string]int{}
		for k, t := range m {
			if rest, ok := strings.CutPrefix(k, p+"."); ok {
				sub[rest] = t
			} else {
				top, _, _ := strings.Cut(k, ".")
				counts[top]++
			}
		}
		if len(sub) > 0 {
			for _, top := range sortedKeys(counts) {
				left = append(left, fmt.Sprintf("%s (%d tensors)", top, counts[top]))
			}
			return sub, p, left
		}
	}
	return m, "", nil
}

// stripModule removes a DistributedDataParallel "module." prefix carried by
// every key.
func stripModule(m map[string]*pt.Tensor) (map[string]*pt.Tensor, bool) {
	if len(m) == 0 {
		return m, false
	}
	for k := range m {
		if !strings.HasPrefix(k, "module.") {
			return m, false
		}
	}
	out := make(map[string]*pt.Tensor, len(m))
	for k, t := range m {
		out[strings.TrimPrefix(k, "module.")] = t
	}
	return out, true
}
