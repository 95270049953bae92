package weights

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func shardTensors() []Tensor {
	var ts []Tensor
	for i, n := range []int{10, 3, 40, 1, 7, 7, 20} {
		v := make([]float32, n)
		for j := range v {
			v[j] = float32(i*100 + j)
		}
		ts = append(ts, F32Tensor(string(rune('z'-i))+".w", []int{n}, v))
	}
	return ts
}

func TestSharded(t *testing.T) {
	dir := t.TempDir()
	ts := shardTensors()
	meta := map[string]string{"model": "tiny"}
	const limit = 256 // the 160-byte tensor shares no shard, others pack two or three
	path, err := WriteSharded(dir, "model", ts, meta, limit)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) != "model.json" {
		t.Errorf("manifest %s", path)
	}
	js, _ := os.ReadFile(path)
	m, err := ParseManifest(js)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Shards) < 3 {
		t.Errorf("%d shards, want several", len(m.Shards))
	}
	var order []string
	for i, s := range m.Shards {
		st, err := os.Stat(filepath.Join(dir, s.File))
		if err != nil || st.Size() != s.Bytes {
			t.Errorf("shard %s: stat %v, manifest bytes %d", s.File, err, s.Bytes)
		}
		if st.Size() > limit && len(s.Tensors) > 1 {
			t.Errorf("shard %d: %d bytes with %d tensors, over the %d limit", i, st.Size(), len(s.Tensors), limit)
		}
		order = append(order, s.Tensors...)
	}
	var names []string
	for _, x := range ts {
		names = append(names, x.Name)
	}
	if !slices.Equal(order, names) {
		t.Errorf("packing order %v, want %v", order, names)
	}

	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Verify(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	if !slices.Equal(f.Names(), names) {
		t.Errorf("names %v, want %v", f.Names(), names)
	}
	for _, x := range ts {
		raw, err := f.Raw(x.Name)
		if err != nil || !bytes.Equal(raw, x.Data) {
			t.Errorf("%s: %v", x.Name, err)
		}
	}
	if got := f.Metadata(); len(got) != 1 || got["model"] != "tiny" {
		t.Errorf("metadata %v", got)
	}

	// A shard opens on its own too, as a plain safetensors file.
	one, err := Open(filepath.Join(dir, m.Shards[0].File))
	if err != nil {
		t.Fatal(err)
	}
	one.Close()

	// Default limit: everything in one shard.
	path, err = WriteSharded(t.TempDir(), "all", ts, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	js, _ = os.ReadFile(path)
	if m, _ := ParseManifest(js); m == nil || len(m.Shards) != 1 {
		t.Errorf("default limit: manifest %s", js)
	}
}

func TestShardCorruption(t *testing.T) {
	write := func(t *testing.T) (string, *Manifest) {
		dir := t.TempDir()
		path, err := WriteSharded(dir, "model", shardTensors(), nil, 256)
		if err != nil {
			t.Fatal(err)
		}
		js, _ := os.ReadFile(path)
		m, _ := ParseManifest(js)
		return path, m
	}

	t.Run("sha256", func(t *testing.T) {
		path, m := write(t)
		shard := filepath.Join(filepath.Dir(path), m.Shards[1].File)
		b, _ := os.ReadFile(shard)
		b[len(b)-1] ^= 1 // same size, one data bit flipped
		os.WriteFile(shard, b, 0o644)
		f, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.Raw(m.Shards[0].Tensors[0]); err != nil {
			t.Errorf("intact shard: %v", err)
		}
		for _, get := range []func() error{
			func() error { _, err := f.Raw(m.Shards[1].Tensors[0]); return err },
			func() error { _, err := f.F32(m.Shards[1].Tensors[0]); return err },
			f.Verify,
		} {
			if err := get(); err == nil || !strings.Contains(err.Error(), m.Shards[1].File) || !strings.Contains(err.Error(), "sha256 mismatch") {
				t.Errorf("corrupt shard: %v", err)
			}
		}
	})

	t.Run("truncated", func(t *testing.T) {
		path, m := write(t)
		shard := filepath.Join(filepath.Dir(path), m.Shards[2].File)
		os.Truncate(shard, m.Shards[2].Bytes-4)
		if _, err := Open(path); err == nil || !strings.Contains(err.Error(), m.Shards[2].File+" is") {
			t.Errorf("truncated shard: %v", err)
		}
	})

	t.Run("missing", func(t *testing.T) {
		path, m := write(t)
		os.Remove(filepath.Join(filepath.Dir(path), m.Shards[0].File))
		if _, err := Open(path); err == nil || !strings.Contains(err.Error(), m.Shards[0].File) {
			t.Errorf("missing shard: %v", err)
		}
	})

	t.Run("manifest", func(t *testing.T) {
		path, m := write(t)
		edit := func(change func(*Manifest)) error {
			c := *m
			c.Shards = slices.Clone(m.Shards)
			for i := range c.Shards {
				c.Shards[i].Tensors = slices.Clone(c.Shards[i].Tensors)
			}
			change(&c)
			js, _ := json.Marshal(c)
			p := filepath.Join(filepath.Dir(path), "edited.json")
			os.WriteFile(p, js, 0o644)
			_, err := Open(p)
			return err
		}
		for _, c := range []struct {
			name   string
			change func(*Manifest)
			want   string
		}{
			{"format", func(m *Manifest) { m.Format = "other" }, "not a novae-weights v1 manifest"},
			{"version", func(m *Manifest) { m.Version = 2 }, "version 2"},
			{"no shards", func(m *Manifest) { m.Shards = nil }, "no shards"},
			{"escape", func(m *Manifest) { m.Shards[0].File = "../" + m.Shards[0].File }, "bad file name"},
			{"sha", func(m *Manifest) { m.Shards[0].SHA256 = "abc" }, "bad sha256"},
			{"bytes", func(m *Manifest) { m.Shards[0].Bytes++ }, "manifest says"},
			{"moved", func(m *Manifest) {
				m.Shards[1].Tensors = append(m.Shards[1].Tensors, m.Shards[0].Tensors[0])
				m.Shards[0].Tensors = m.Shards[0].Tensors[1:]
			}, "which does not hold it"},
			{"unlisted", func(m *Manifest) { m.Shards[0].Tensors = m.Shards[0].Tensors[1:] }, "manifest lists"},
			{"twice", func(m *Manifest) { m.Shards[1].Tensors = append(m.Shards[1].Tensors, m.Shards[0].Tensors[0]) }, "listed twice"},
		} {
			if err := edit(c.change); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "edited.json") {
				t.Errorf("%s: error %v, want %q", c.name, err, c.want)
			}
		}
	})
}

// TestNewSet opens a set from memory, as the browser does.
func TestNewSet(t *testing.T) {
	dir := t.TempDir()
	path, err := WriteSharded(dir, "model", shardTensors(), nil, 256)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := os.ReadFile(path)
	f, err := NewSet(js, "model.json", func(file string) (io.ReaderAt, int64, error) {
		b, err := os.ReadFile(filepath.Join(dir, file))
		return bytes.NewReader(b), int64(len(b)), err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Verify(); err != nil {
		t.Fatal(err)
	}
	if v, err := f.F32("z.w"); err != nil || len(v) != 10 || v[9] != 9 {
		t.Errorf("z.w: %v %v", v, err)
	}
}
