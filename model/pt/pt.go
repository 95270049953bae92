// Package pt reads PyTorch checkpoints (torch.save's zip format, PyTorch ≥ 1.6)
// without Python: the pickle is decoded with gopickle, tensor storages are read
// from the zip, and every tensor is materialised as float32 in row-major order
// (storage offsets and strides applied).
//
// Nested dicts and lists are flattened into dotted keys exactly as the
// original keys: {"state_dict": {"encoder.w": t}} gives "state_dict.encoder.w";
// list items use their index ("opt.param_groups.0.lr"). Unwrap strips a
// wrapper such as "ema." or "state_dict.".
//
// The file is untrusted: sizes are checked against the archive before anything
// is allocated, and a corrupt file is an error that names it, never a panic.
package pt

import (
	"fmt"
	"os"
	"strings"
)

// Tensor is a checkpoint tensor converted to float32.
type Tensor struct {
	Shape []int
	DType string // stored dtype: F32 F16 BF16 F64 I64 I32 I16 I8 U8 BOOL (safetensors names)
	Data  []float32
}

// Checkpoint is everything Read found in a file.
type Checkpoint struct {
	Tensors map[string]*Tensor
	Keys    []string // tensor keys in file order
	Other   []string // keys of non-tensor leaves (numbers, strings, None, objects), in file order
}

// Load reads the tensors of a checkpoint file.
func Load(path string) (map[string]*Tensor, error) {
	c, err := Read(path)
	if err != nil {
		return nil, err
	}
	return c.Tensors, nil
}

// Read reads a checkpoint file.
func Read(path string) (*Checkpoint, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pt: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("pt: %w", err)
	}
	return ReadFrom(f, st.Size(), path)
}

// Unwrap returns the tensors under the first of prefixes that has any (with
// the prefix removed), or m itself when none matches. A trailing dot is
// implied: Unwrap(m, "ema", "model") prefers the EMA weights of a DiT
// checkpoint, and Unwrap(m, "state_dict") opens a Lightning checkpoint.
func Unwrap(m map[string]*Tensor, prefixes ...string) map[string]*Tensor {
	for _, p := range prefixes {
		if !strings.HasSuffix(p, ".") {
			p += "."
		}
		sub := map[string]*Tensor{}
		for k, t := range m {
			if rest, ok := strings.CutPrefix(k, p); ok {
				sub[rest] = t
			}
		}
		if len(sub) > 0 {
			return sub
		}
	}
	return m
}
