package weights

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// DefaultShardBytes is the shard size limit used when none is given: small
// enough for a browser to fetch and upload one shard at a time.
const DefaultShardBytes = 64 << 20

// ManifestFormat and ManifestVersion identify a novae manifest.
const (
	ManifestFormat  = "novae-weights"
	ManifestVersion = 1
)

// Manifest is the JSON index of a sharded set (model.json).
type Manifest struct {
	Format   string            `json:"format"`
	Version  int               `json:"version"`
	Metadata map[string]string `json:"metadata"`
	Shards   []ShardInfo       `json:"shards"`
}

// ShardInfo describes one shard file of a set.
type ShardInfo struct {
	File    string   `json:"file"`   // base name, in the manifest's directory
	Bytes   int64    `json:"bytes"`  // file size
	SHA256  string   `json:"sha256"` // lowercase hex digest of the whole file
	Tensors []string `json:"tensors"`
}

// ParseManifest decodes and checks a manifest.
func ParseManifest(data []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("bad manifest JSON: %v", err)
	}
	if m.Format != ManifestFormat || m.Version != ManifestVersion {
		return nil, fmt.Errorf("not a %s v%d manifest (format %q, version %d)", ManifestFormat, ManifestVersion, m.Format, m.Version)
	}
	if len(m.Shards) == 0 {
		return nil, fmt.Errorf("manifest lists no shards")
	}
	seen := map[string]bool{}
	for i, s := range m.Shards {
		// Shards live beside the manifest: never follow a path out of it.
		if s.File == "" || s.File == "." || s.File == ".." || strings.ContainsAny(s.File, `/\`) {
			return nil, fmt.Errorf("shard %d: bad file name %q", i, s.File)
		}
		if s.Bytes < 0 {
			return nil, fmt.Errorf("shard %s: negative size", s.File)
		}
		if b, err := hex.DecodeString(s.SHA256); err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("shard %s: bad sha256 %q", s.File, s.SHA256)
		}
		m.Shards[i].SHA256 = strings.ToLower(s.SHA256)
		for _, t := range s.Tensors {
			if seen[t] {
				return nil, fmt.Errorf("tensor %q listed twice", t)
			}
			seen[t] = true
		}
	}
	if m.Metadata == nil {
		m.Metadata = map[string]string{}
	}
	return &m, nil
}

// openManifest opens a set from the manifest at path; shards are files
// beside it.
func openManifest(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	dir := filepath.Dir(path)
	return NewSet(data, path, func(file string) (io.ReaderAt, int64, error) {
		f, err := os.Open(filepath.Join(dir, file))
		if err != nil {
			return nil, 0, err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, 0, err
		}
		return f, st.Size(), nil
	})
}

// NewSet opens a sharded set from its manifest bytes; open returns the reader
// and size of a shard file (e.g. over bytes fetched in the browser). Readers
// that are io.Closers are closed by Close. Each shard's sha256 is checked on
// its first access (or by Verify).
func NewSet(manifest []byte, name string, open func(file string) (io.ReaderAt, int64, error)) (*File, error) {
	m, err := ParseManifest(manifest)
	if err != nil {
		return nil, fmt.Errorf("weights: %s: %v", name, err)
	}
	var shards []*shard
	closeAll := func() {
		for _, s := range shards {
			if s.closer != nil {
				s.closer.Close()
			}
		}
	}
	for _, si := range m.Shards {
		r, size, err := open(si.File)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("weights: %s: shard %s: %v", name, si.File, err)
		}
		s := &shard{name: si.File, r: r, size: size, sha256: si.SHA256}
		s.closer, _ = r.(io.Closer)
		shards = append(shards, s)
		if size != si.Bytes {
			closeAll()
			what := "a different file"
			if size < si.Bytes {
				what = "truncated: an interrupted download or copy?"
			}
			return nil, fmt.Errorf("weights: %s: shard %s is %d bytes, manifest says %d (%s)", name, si.File, size, si.Bytes, what)
		}
	}
	f, err := newFile(name, shards, m.Metadata)
	if err != nil {
		closeAll()
		return nil, err
	}
	// The manifest's tensor lists must match the shard headers exactly.
	listed := 0
	for i, si := range m.Shards {
		for _, t := range si.Tensors {
			if r, ok := f.refs[t]; !ok || r.shard != shards[i] {
				closeAll()
				return nil, fmt.Errorf("weights: %s: manifest lists %q in shard %s, which does not hold it", name, t, si.File)
			}
		}
		listed += len(si.Tensors)
	}
	if listed != len(f.refs) {
		closeAll()
		return nil, fmt.Errorf("weights: %s: shards hold %d tensors, manifest lists %d", name, len(f.refs), listed)
	}
	return f, nil
}

// WriteSharded writes tensors as shards dir/base-00001.safetensors, … of at
// most maxShardBytes each (DefaultShardBytes if ≤ 0) and the manifest
// dir/base.json, whose path it returns. Tensors are packed in the given order;
// a tensor larger than the limit gets a shard of its own. The metadata goes in
// the manifest only, so quant entries never point into another shard.
func WriteSharded(dir, base string, tensors []Tensor, meta map[string]string, maxShardBytes int64) (string, error) {
	if maxShardBytes <= 0 {
		maxShardBytes = DefaultShardBytes
	}
	if err := checkAll(tensors); err != nil {
		return "", err
	}
	if meta == nil {
		meta = map[string]string{}
	}
	digits := int64(len(strconv.FormatInt(maxShardBytes, 10)))
	var groups [][]Tensor
	var cur []Tensor
	var size int64
	for _, t := range tensors {
		// An upper bound of the tensor's header entry, so the shard file
		// (header included) stays within the limit.
		name, _ := marshal(t.Name)
		shape, _ := marshal(t.Shape)
		cost := int64(len(t.Data)) + int64(len(name)+len(shape)) + 48 + 2*max(digits, int64(len(strconv.Itoa(len(t.Data)))))
		if len(cur) > 0 && size+cost > maxShardBytes {
			groups, cur = append(groups, cur), nil
		}
		if len(cur) == 0 {
			size = 8 + 2 + 7 // length prefix, braces, padding
		}
		cur = append(cur, t)
		size += cost
	}
	if len(cur) > 0 || len(groups) == 0 {
		groups = append(groups, cur)
	}
	m := Manifest{Format: ManifestFormat, Version: ManifestVersion, Metadata: meta}
	for i, g := range groups {
		file := fmt.Sprintf("%s-%05d.safetensors", base, i+1)
		si, err := writeShard(filepath.Join(dir, file), g)
		if err != nil {
			return "", err
		}
		si.File = file
		m.Shards = append(m.Shards, si)
	}
	js, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, base+".json")
	if err := os.WriteFile(path, append(js, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("weights: %w", err)
	}
	return path, nil
}

// writeShard writes one shard and returns its size, digest and tensor list.
func writeShard(path string, tensors []Tensor) (ShardInfo, error) {
	f, err := os.Create(path)
	if err != nil {
		return ShardInfo{}, fmt.Errorf("weights: %w", err)
	}
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, h)}
	if err := Write(cw, tensors, nil); err != nil {
		f.Close()
		return ShardInfo{}, fmt.Errorf("weights: %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return ShardInfo{}, fmt.Errorf("weights: %w", err)
	}
	si := ShardInfo{Bytes: cw.n, SHA256: hex.EncodeToString(h.Sum(nil)), Tensors: []string{}}
	for _, t := range tensors {
		si.Tensors = append(si.Tensors, t.Name)
	}
	return si, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
