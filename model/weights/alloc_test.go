package weights

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
)

// allocated returns the bytes f allocated (all goroutines, so keep the
// test serial) and how long it took.
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// hugeReader is a ReaderAt over a file that claims to be size bytes long
// and holds prefix followed by zeros, without storing them.
type hugeReader struct {
	prefix []byte
	size   int64
}

func (h *hugeReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= h.size {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && off+int64(n) < h.size {
		if i := off + int64(n); i < int64(len(h.prefix)) {
			p[n] = h.prefix[i]
		} else {
			p[n] = 0
		}
		n++
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// TestHugeClaimsDoNotAllocate: a header that claims huge sizes — a header
// length, a shape, data offsets, a quantized shape, a shard size — is refused
// from the claim alone, before anything of that size is allocated or read.
func TestHugeClaimsDoNotAllocate(t *testing.T) {
	const budget = 1 << 20 // what the reader may allocate for any of these
	ent := func(name, dtype, shape, offs string) string {
		return `"` + name + `":{"dtype":"` + dtype + `","shape":` + shape + `,"data_offsets":` + offs + `}`
	}
	for _, c := range []struct {
		name string
		r    io.ReaderAt
		size int64
		want string
	}{
		{"header length 2^63", bytes.NewReader(raw(1<<63, "{}", 0)), -1, "exceeds the 104857600 byte cap"},
		{"header length 1 TiB, file 16 bytes", bytes.NewReader(raw(1<<40, "{}", 0)), -1, "exceeds the 104857600 byte cap"},
		// The file claims 1 PiB (a lying size): the header length is still capped.
		{"header length 1 GiB in a 1 PiB file", &hugeReader{raw(1<<30, "{}", 0), 1 << 50}, 1 << 50, "byte cap"},
		{"header past the file", bytes.NewReader(raw(90<<20, "{}", 0)), -1, "exceeds the file size"},
		{"shape 2^40 x 2^40", bytes.NewReader(file(`{`+ent("a", "F32", "[1099511627776,1099511627776]", "[0,4]")+`}`, 4)), -1, "overflows"},
		{"shape 2^61 bytes in a tiny file", bytes.NewReader(file(`{`+ent("a", "U8", "[2305843009213693952]", "[0,2305843009213693952]")+`}`, 4)), -1, "out of bounds"},
		{"offsets 2^62 in a 1 PiB file", func() io.ReaderAt {
			h := `{` + ent("a", "U8", "[4611686018427387904]", "[0,4611686018427387904]") + `}`
			return &hugeReader{file(h, 0), 1 << 50}
		}(), -2, "out of bounds"},
		{"quant shape 2^40 x 2^40", bytes.NewReader(file(`{"__metadata__":{"quant":"{\"w\":{\"kind\":\"int8\",\"group\":0,\"shape\":[1099511627776,1099511627776]}}"},`+
			ent("w.scales", "F32", "[1]", "[0,4]")+","+ent("w", "I8", "[1,1]", "[4,5]")+`}`, 5)), -1, "quant entry"},
	} {
		t.Run(c.name, func(t *testing.T) {
			size := c.size
			switch size {
			case -1:
				size = c.r.(*bytes.Reader).Size() // the real size
			case -2:
				size = 1 << 50
			}
			var err error
			n := allocated(func() { _, err = NewFile(c.r, size, "huge.safetensors") })
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "huge.safetensors") {
				t.Fatalf("error %v, want one naming huge.safetensors and saying %q", err, c.want)
			}
			if n > budget {
				t.Errorf("refusing it allocated %d bytes (budget %d)", n, budget)
			}
			t.Logf("%v (allocated %d bytes)", err, n)
		})
	}

	// A manifest that claims a 1 PiB shard: refused from the file's real
	// size, never read.
	t.Run("manifest shard 1 PiB", func(t *testing.T) {
		m := Manifest{Format: ManifestFormat, Version: ManifestVersion, Shards: []ShardInfo{{File: "a.safetensors", Bytes: 1 << 50,
			SHA256: strings.Repeat("ab", 32), Tensors: []string{"a"}}}}
		js, _ := json.Marshal(m)
		shard := raw(2, "{}", 0)
		var err error
		n := allocated(func() {
			_, err = NewSet(js, "huge.json", func(string) (io.ReaderAt, int64, error) {
				return bytes.NewReader(shard), int64(len(shard)), nil
			})
		})
		if err == nil || !strings.Contains(err.Error(), "manifest says 1125899906842624") {
			t.Fatalf("error %v", err)
		}
		if n > budget {
			t.Errorf("refusing it allocated %d bytes", n)
		}
	})

	// Many tensor entries cost in proportion to the header, which is
	// bounded by the file: a 1 MiB header of tiny entries stays within a
	// small multiple of its size.
	t.Run("many entries", func(t *testing.T) {
		var sb strings.Builder
		sb.WriteString("{")
		for i := 0; sb.Len() < 1<<20; i++ {
			if i > 0 {
				sb.WriteString(",")
			}
			sb.WriteString(ent(fmt.Sprintf("t%d", i), "U8", "[0]", "[0,0]"))
		}
		sb.WriteString("}")
		b := file(sb.String(), 0)
		var err error
		n := allocated(func() { _, err = NewFile(bytes.NewReader(b), int64(len(b)), "many.safetensors") })
		if err != nil {
			t.Fatal(err)
		}
		if n > 64*uint64(len(b)) {
			t.Errorf("a %d-byte header allocated %d bytes", len(b), n)
		}
		t.Logf("%d-byte header: %d bytes allocated (%.1f×)", len(b), n, float64(n)/float64(len(b)))
	})
}
