package weights

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
)

// MaxHeaderBytes caps the JSON header of a safetensors file. The header
// length is read from the file, so it is checked before anything is allocated.
const MaxHeaderBytes = 100 << 20

// Info describes one stored tensor.
type Info struct {
	Name   string
	DType  DType
	Shape  []int  // stored shape (see Quant.Shape for a quantized weight's logical shape)
	Shard  string // file holding the data
	Offset int64  // absolute byte offset of the data in Shard
	Bytes  int64
	Quant  *Quant // non-nil when Name is a quantized weight K (see doc.go)
}

// File is a read-only view of one safetensors file or of a sharded set.
// Its methods are safe for concurrent use.
type File struct {
	name   string // what errors call the whole set
	meta   map[string]string
	refs   map[string]tensorRef
	names  []string
	shards []*shard
}

type tensorRef struct {
	info  Info
	shard *shard
}

// shard is one safetensors file of a set.
type shard struct {
	name   string
	r      io.ReaderAt
	closer io.Closer // nil when the caller owns r
	size   int64
	sha256 string // expected lowercase hex digest; "" means nothing to verify

	once sync.Once
	err  error
}

// verify hashes the whole shard once and remembers the outcome, so data of a
// corrupt shard is never handed out.
func (s *shard) verify() error {
	s.once.Do(func() {
		if s.sha256 == "" {
			return
		}
		h := sha256.New()
		if _, err := io.Copy(h, io.NewSectionReader(s.r, 0, s.size)); err != nil {
			s.err = fmt.Errorf("weights: %s: %v", s.name, err)
			return
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != s.sha256 {
			s.err = fmt.Errorf("weights: %s: sha256 mismatch: got %s, manifest says %s", s.name, got, s.sha256)
		}
	})
	return s.err
}

// Open opens a .safetensors file, or a sharded set through its manifest
// (a path ending in .json).
func Open(path string) (*File, error) {
	if strings.HasSuffix(strings.ToLower(path), ".json") {
		return openManifest(path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("weights: %w", err)
	}
	s := &shard{name: path, r: f, closer: f, size: st.Size()}
	wf, err := newFile(path, []*shard{s}, nil)
	if err != nil {
		f.Close()
		return nil, err
	}
	return wf, nil
}

// NewFile reads a safetensors file from r (size bytes, e.g. a *bytes.Reader
// over data fetched in the browser). name is used in errors. Close does not
// close r.
func NewFile(r io.ReaderAt, size int64, name string) (*File, error) {
	return newFile(name, []*shard{{name: name, r: r, size: size}}, nil)
}

// newFile parses the headers of all shards and merges them. meta, when
// non-nil, is the set's metadata (from a manifest); otherwise the single
// shard's __metadata__ is used.
func newFile(name string, shards []*shard, meta map[string]string) (*File, error) {
	f := &File{name: name, refs: map[string]tensorRef{}, shards: shards}
	for _, s := range shards {
		h, err := readHeader(s.r, s.size, s.name)
		if err != nil {
			return nil, err
		}
		if meta == nil {
			meta = h.meta
		}
		for _, info := range h.infos {
			if prev, dup := f.refs[info.Name]; dup {
				return nil, fmt.Errorf("weights: %s: tensor %q is in both %s and %s", name, info.Name, prev.shard.name, s.name)
			}
			f.refs[info.Name] = tensorRef{info: info, shard: s}
			f.names = append(f.names, info.Name)
		}
	}
	if meta == nil {
		meta = map[string]string{}
	}
	f.meta = meta
	sort.Strings(f.names)
	if err := f.attachQuant(); err != nil {
		return nil, fmt.Errorf("weights: %s: %w", name, err)
	}
	return f, nil
}

// Names returns the stored tensor names, sorted (K.scales included).
func (f *File) Names() []string { return append([]string(nil), f.names...) }

// Info describes a stored tensor.
func (f *File) Info(name string) (Info, bool) {
	r, ok := f.refs[name]
	info := r.info
	info.Shape = slices.Clone(info.Shape)
	if q := info.Quant; q != nil {
		info.Quant = &Quant{Kind: q.Kind, Group: q.Group, Shape: slices.Clone(q.Shape)}
	}
	return info, ok
}

// Metadata returns a copy of the file's (or the manifest's) metadata.
func (f *File) Metadata() map[string]string {
	m := make(map[string]string, len(f.meta))
	for k, v := range f.meta {
		m[k] = v
	}
	return m
}

// Raw returns a copy of the stored bytes of a tensor (little-endian). For a
// sharded set the shard's sha256 is checked on its first access.
func (f *File) Raw(name string) ([]byte, error) {
	r, ok := f.refs[name]
	if !ok {
		return nil, fmt.Errorf("weights: %s: no tensor %q", f.name, name)
	}
	if err := r.shard.verify(); err != nil {
		return nil, err
	}
	buf := make([]byte, r.info.Bytes)
	n, err := r.shard.r.ReadAt(buf, r.info.Offset)
	if n == len(buf) {
		err = nil
	}
	if err != nil {
		return nil, fmt.Errorf("weights: %s: tensor %q: %v", r.shard.name, name, err)
	}
	return buf, nil
}

// F32 returns a tensor as float32: floats and integers are converted, and a
// quantized weight is dequantized to its logical shape.
func (f *File) F32(name string) ([]float32, error) {
	r, ok := f.refs[name]
	if !ok {
		return nil, fmt.Errorf("weights: %s: no tensor %q", f.name, name)
	}
	raw, err := f.Raw(name)
	if err != nil {
		return nil, err
	}
	q := r.info.Quant
	if q == nil || q.Kind == QuantF16 {
		return toF32(r.info.DType, raw)
	}
	scales, err := f.F32(name + ScalesSuffix)
	if err != nil {
		return nil, err
	}
	out, in := q.rows()
	if q.Kind == QuantInt8 {
		return DequantizeInt8(bytesToI8(raw), scales, out, in, q.Group)
	}
	return DequantizeInt4(raw, scales, out, in, q.Group)
}

// Verify checks the sha256 of every shard now instead of on first access.
func (f *File) Verify() error {
	for _, s := range f.shards {
		if err := s.verify(); err != nil {
			return err
		}
	}
	return nil
}

// Close closes the files that Open opened.
func (f *File) Close() error {
	var errs []error
	for _, s := range f.shards {
		if s.closer != nil {
			errs = append(errs, s.closer.Close())
		}
	}
	return errors.Join(errs...)
}

// header is a parsed and validated safetensors header.
type header struct {
	infos []Info
	meta  map[string]string
}

type rawEntry struct {
	DType   string  `json:"dtype"`
	Shape   []int64 `json:"shape"`
	Offsets []int64 `json:"data_offsets"`
}

// readHeader reads and validates the header of a safetensors file: every
// size in it is checked against the file before it is trusted.
func readHeader(r io.ReaderAt, size int64, name string) (*header, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("weights: %s: %s", name, fmt.Sprintf(format, a...))
	}
	if size < 8 {
		return nil, bad("file too short (%d bytes) for a safetensors header", size)
	}
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil && err != io.EOF {
		return nil, bad("reading header length: %v", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if kind := otherFormat(lenBuf[:]); kind != "" && (n > MaxHeaderBytes || n > uint64(size-8)) {
		return nil, bad("%s, not a safetensors file", kind)
	}
	if n > MaxHeaderBytes {
		return nil, bad("header length %d exceeds the %d byte cap", n, MaxHeaderBytes)
	}
	if n > uint64(size-8) {
		return nil, bad("header length %d exceeds the file size %d", n, size)
	}
	js := make([]byte, n)
	if m, err := r.ReadAt(js, 8); m != len(js) {
		return nil, bad("reading header: %v", err)
	}
	dataStart := 8 + int64(n)
	dataSize := size - dataStart

	h := &header{meta: map[string]string{}}
	dec := json.NewDecoder(bytes.NewReader(js))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, bad("bad JSON header: not an object")
	}
	seen := map[string]bool{}
	type span struct {
		name       string
		begin, end int64
	}
	var spans []span
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, bad("bad JSON header: %v", err)
		}
		key := tok.(string) // object keys are always strings
		if seen[key] {
			return nil, bad("bad JSON header: duplicate key %q", key)
		}
		seen[key] = true
		if key == "__metadata__" {
			if err := dec.Decode(&h.meta); err != nil {
				return nil, bad("bad JSON header: __metadata__ must map strings to strings: %v", err)
			}
			continue
		}
		var e rawEntry
		if err := dec.Decode(&e); err != nil {
			return nil, bad("bad JSON header: tensor %q: %v", key, err)
		}
		if key == "" {
			return nil, bad("tensor with an empty name")
		}
		dt := DType(e.DType)
		if dt.Size() == 0 {
			return nil, bad("tensor %q: unknown dtype %q", key, e.DType)
		}
		if e.Shape == nil {
			return nil, bad("tensor %q: missing shape", key)
		}
		cnt, err := numel(e.Shape)
		if err != nil {
			return nil, bad("tensor %q: %v", key, err)
		}
		if len(e.Offsets) != 2 {
			return nil, bad("tensor %q: data_offsets must be [begin, end]", key)
		}
		b, en := e.Offsets[0], e.Offsets[1]
		if b < 0 || en < 0 {
			return nil, bad("tensor %q: negative data_offsets %v", key, e.Offsets)
		}
		if b > en {
			return nil, bad("tensor %q: data_offsets begin %d > end %d", key, b, en)
		}
		if en > dataSize {
			return nil, bad("tensor %q: data_offsets %v out of bounds (data is %d bytes): the file is truncated or its header is corrupt", key, e.Offsets, dataSize)
		}
		if es := int64(dt.Size()); cnt > (1<<62)/es || cnt*es != en-b {
			return nil, bad("tensor %q: byte length %d does not match shape %v of %s", key, en-b, e.Shape, dt)
		}
		shape := make([]int, len(e.Shape))
		for i, d := range e.Shape {
			shape[i] = int(d)
		}
		h.infos = append(h.infos, Info{Name: key, DType: dt, Shape: shape, Shard: name, Offset: dataStart + b, Bytes: en - b})
		spans = append(spans, span{key, b, en})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, bad("bad JSON header: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, bad("bad JSON header: trailing data after the object")
	}
	// The spec wants the data fully indexed: no overlaps, no holes.
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].begin != spans[j].begin {
			return spans[i].begin < spans[j].begin
		}
		return spans[i].end < spans[j].end
	})
	var end int64
	for i, s := range spans {
		if s.begin < end {
			return nil, bad("tensor %q overlaps tensor %q", s.name, spans[i-1].name)
		}
		if s.begin > end {
			return nil, bad("hole in the data before tensor %q (bytes %d..%d unused)", s.name, end, s.begin)
		}
		end = s.end
	}
	if end != dataSize {
		return nil, bad("%d trailing data bytes after the last tensor", dataSize-end)
	}
	sort.Slice(h.infos, func(i, j int) bool { return h.infos[i].Name < h.infos[j].Name })
	return h, nil
}

func bytesToI8(b []byte) []int8 {
	q := make([]int8, len(b))
	for i, x := range b {
		q[i] = int8(x)
	}
	return q
}

// otherFormat names the file formats people pass by mistake, from their
// first bytes ("" when it is none of them). The same bytes can be a valid
// header length, so it is asked only when they are not one.
func otherFormat(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return "a zip archive — a PyTorch checkpoint (torch.save)? Turn it into novae weights with novae convert"
	case len(head) >= 2 && head[0] == 0x80 && head[1] >= 2 && head[1] <= 5:
		return "a Python pickle — a legacy PyTorch checkpoint? Re-save it with a current torch.save, then novae convert"
	case bytes.HasPrefix(head, []byte("GGUF")):
		return "a GGUF file"
	case bytes.HasPrefix(head, []byte("\x89HDF")):
		return "an HDF5 file (Keras?)"
	case head[0] == '{' || head[0] == '[':
		return "JSON text — a manifest must be named *.json"
	}
	return ""
}
