package pt

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"strings"
	"testing"
)

// allocated returns the bytes f allocated (keep the test serial).
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// setUncompressed rewrites the uncompressed size that the zip's central
// directory declares for record name (32-bit field, no zip64).
func setUncompressed(t *testing.T, b []byte, name string, size uint32) []byte {
	t.Helper()
	b = bytes.Clone(b)
	sig := []byte{'P', 'K', 1, 2}
	for i := 0; ; {
		j := bytes.Index(b[i:], sig)
		if j < 0 {
			t.Fatalf("no central directory entry for %s", name)
		}
		h := b[i+j:]
		nlen := int(binary.LittleEndian.Uint16(h[28:]))
		if string(h[46:46+nlen]) == name {
			binary.LittleEndian.PutUint32(h[24:], size)
			return b
		}
		i += j + 4
	}
}

// TestHugeClaimsDoNotAllocate: a checkpoint whose records, pickle or views
// claim huge sizes is refused from the claim, before a buffer of that size
// is allocated or anything is read into one.
func TestHugeClaimsDoNotAllocate(t *testing.T) {
	const budget = 1 << 20
	one := func(numel int, size, stride []int) []byte {
		var p pk
		p.WriteString("\x80\x02}")
		p.str("w")
		p.tensor("FloatStorage", "0", numel, 0, size, stride)
		p.WriteString("s.")
		return p.Bytes()
	}
	small := archiveOf(one(4, []int{4}, []int{1}), map[string]int{"0": 4})
	bigPickle := append([]byte{0x80, 0x02, 0x8e}, binary.LittleEndian.AppendUint64(nil, 1<<40)...)
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"data.pkl declares 2 GiB", setUncompressed(t, small, "x/data.pkl", 0x7fffffff), "implausible size"},
		{"storage record declares 2 GiB", setUncompressed(t, small, "x/data/0", 0x7fffffff), "record holds 2147483647 bytes"},
		{"storage record and pickle agree on 2 GiB", setUncompressed(t,
			archiveOf(one(1<<29-1, []int{4}, []int{1}), map[string]int{"0": 4}), "x/data/0", (1<<29-1)*4), "implausible size"},
		{"pickle says 2^31 elements", archiveOf(one(1<<31-1, []int{4}, []int{1}), map[string]int{"0": 4}), "record holds 16 bytes"},
		{"pickle opcode declares 1 TiB", archiveOf(bigPickle, nil), "declares 1099511627776 bytes"},
		{"view of 2^28 elements", archiveOf(one(4, []int{1 << 14, 1 << 14}, []int{0, 0}), map[string]int{"0": 4}), "broadcast view"},
		{"view past its storage", archiveOf(one(4, []int{1 << 30}, []int{1}), map[string]int{"0": 4}), "reaches past its storage"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var err error
			n := allocated(func() { _, err = ReadFrom(bytes.NewReader(c.data), int64(len(c.data)), "huge.pt") })
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "huge.pt") {
				t.Fatalf("error %v, want one naming huge.pt and saying %q", err, c.want)
			}
			if n > budget {
				t.Errorf("refusing it allocated %d bytes (budget %d)", n, budget)
			}
			t.Logf("%v (allocated %d bytes)", err, n)
		})
	}
}
