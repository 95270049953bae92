package pt

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

// The fixtures in testdata are made by PyTorch (Debian's python3-torch 1.13.1):
//
//	/usr/bin/python3 model/pt/testdata/make_fixtures.py
//
// Each NAME.pt has a NAME.json with the flattened keys, dtypes, shapes and
// values as torch itself reports them.

type golden struct {
	Tensors map[string]struct {
		DType  string
		Shape  []int
		Values []float64
	}
	Other []string
}

func TestFixtures(t *testing.T) {
	for _, name := range []string{"plain", "nested", "model_ema", "dtypes", "views"} {
		t.Run(name, func(t *testing.T) {
			c, err := Read("testdata/" + name + ".pt")
			if err != nil {
				t.Fatal(err)
			}
			js, err := os.ReadFile("testdata/" + name + ".json")
			if err != nil {
				t.Fatal(err)
			}
			var want golden
			if err := json.Unmarshal(js, &want); err != nil {
				t.Fatal(err)
			}
			if len(c.Tensors) != len(want.Tensors) || len(c.Keys) != len(want.Tensors) {
				t.Errorf("%d tensors (%d keys), want %d", len(c.Tensors), len(c.Keys), len(want.Tensors))
			}
			for key, w := range want.Tensors {
				got, ok := c.Tensors[key]
				if !ok {
					t.Errorf("%s: missing (have %v)", key, c.Keys)
					continue
				}
				if got.DType != w.DType || !slices.Equal(got.Shape, w.Shape) || len(got.Data) != len(w.Values) {
					t.Errorf("%s: %s %v with %d values, want %s %v with %d", key, got.DType, got.Shape, len(got.Data), w.DType, w.Shape, len(w.Values))
					continue
				}
				for i, v := range w.Values {
					if got.Data[i] != float32(v) {
						t.Errorf("%s[%d] = %g, want %g", key, i, got.Data[i], v)
						break
					}
				}
			}
			other := slices.Clone(c.Other)
			slices.Sort(other)
			if !slices.Equal(other, want.Other) && len(other)+len(want.Other) > 0 {
				t.Errorf("other leaves %v, want %v", other, want.Other)
			}
		})
	}
}

func TestOrderAndUnwrap(t *testing.T) {
	c, err := Read("testdata/plain.pt")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Keys, []string{"weight", "bias"}) {
		t.Errorf("keys %v, want file order [weight bias]", c.Keys)
	}
	m, err := Load("testdata/model_ema.pt")
	if err != nil {
		t.Fatal(err)
	}
	ema := Unwrap(m, "ema", "model")
	if len(ema) != 2 || ema["weight"] != m["ema.weight"] || ema["bias"] != m["ema.bias"] {
		t.Errorf("Unwrap ema: %v", ema)
	}
	if got := Unwrap(m, "state_dict."); len(got) != len(m) {
		t.Errorf("Unwrap without a match changed the map")
	}
	n, _ := Load("testdata/nested.pt")
	if sd := Unwrap(n, "state_dict."); len(sd) != 2 || sd["decoder.conv_in.weight"] == nil {
		t.Errorf("Unwrap state_dict: %v", sd)
	}
}

func TestNotZip(t *testing.T) {
	for _, path := range []string{"testdata/legacy.pt", "testdata/plain.json"} {
		if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "not a zip") {
			t.Errorf("%s: %v", path, err)
		}
	}
	if _, err := Load("testdata/missing.pt"); err == nil {
		t.Error("missing file loaded")
	}
}

// TestTruncated cuts a checkpoint at many lengths: always an error, never a panic.
func TestTruncated(t *testing.T) {
	b, err := os.ReadFile("testdata/views.pt")
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(b); n += 7 {
		if _, err := ReadFrom(bytes.NewReader(b[:n]), int64(n), "cut.pt"); err == nil {
			t.Fatalf("truncated to %d of %d bytes: no error", n, len(b))
		}
	}
}

// rezip copies a fixture, letting edit change or drop (nil) each record,
// and appends the records of add.
func rezip(t *testing.T, src string, edit func(name string, data []byte) []byte, add ...string) []byte {
	t.Helper()
	zr, err := zip.OpenReader(src)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		rc, _ := f.Open()
		var data bytes.Buffer
		data.ReadFrom(rc)
		rc.Close()
		out := edit(f.Name, data.Bytes())
		if out == nil {
			continue
		}
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Store})
		w.Write(out)
	}
	for i := 0; i+1 < len(add); i += 2 {
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: add[i], Method: zip.Store})
		w.Write([]byte(add[i+1]))
	}
	zw.Close()
	return buf.Bytes()
}

func TestCorruptRecords(t *testing.T) {
	bigBytes := append([]byte{0x80, 0x02, 0x8e}, binary.LittleEndian.AppendUint64(nil, 1<<40)...)
	keep := func(n string, d []byte) []byte { return d }
	for _, c := range []struct {
		name string
		edit func(name string, data []byte) []byte
		add  []string
		want string
	}{
		{"no data.pkl", func(n string, d []byte) []byte {
			if strings.HasSuffix(n, "data.pkl") {
				return nil
			}
			return d
		}, nil, "no data.pkl"},
		{"pickle cut", func(n string, d []byte) []byte {
			if strings.HasSuffix(n, "data.pkl") {
				return d[:len(d)/2]
			}
			return d
		}, nil, "data.pkl"},
		{"pickle huge length", func(n string, d []byte) []byte {
			if strings.HasSuffix(n, "data.pkl") {
				return bigBytes
			}
			return d
		}, nil, "declares 1099511627776 bytes"},
		{"storage missing", func(n string, d []byte) []byte {
			if strings.HasSuffix(n, "/data/0") {
				return nil
			}
			return d
		}, nil, "no record"},
		{"storage short", func(n string, d []byte) []byte {
			if strings.Contains(n, "/data/") && len(d) > 0 {
				return d[:len(d)-1]
			}
			return d
		}, nil, "record holds"},
		{"little endian", keep, []string{"views/byteorder", "little"}, ""},
		{"big endian", keep, []string{"views/byteorder", "big"}, "byte order"},
		{"torchscript", keep, []string{"views/constants.pkl", ""}, "TorchScript"},
		{"two pickles", keep, []string{"other/data.pkl", ""}, "several data.pkl"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := rezip(t, "testdata/views.pt", c.edit, c.add...)
			_, err := ReadFrom(bytes.NewReader(b), int64(len(b)), "bad.pt")
			if c.want == "" {
				if err != nil {
					t.Error(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "bad.pt") {
				t.Errorf("error %v, want it to name bad.pt and contain %q", err, c.want)
			}
		})
	}
}

// TestPickleBitFlips flips every byte of a real pickle: errors are fine,
// panics are not.
func TestPickleBitFlips(t *testing.T) {
	var pkl []byte
	rezip(t, "testdata/model_ema.pt", func(n string, d []byte) []byte {
		if strings.HasSuffix(n, "data.pkl") {
			pkl = d
		}
		return d
	})
	for i := range pkl {
		for _, x := range []byte{0x01, 0x80, 0xFF} {
			b := rezip(t, "testdata/model_ema.pt", func(n string, d []byte) []byte {
				if strings.HasSuffix(n, "data.pkl") {
					d = slices.Clone(d)
					d[i] ^= x
				}
				return d
			})
			ReadFrom(bytes.NewReader(b), int64(len(b)), "flip.pt")
		}
	}
}

// pk builds a pickle by hand, to test what torch never writes.
type pk struct{ bytes.Buffer }

func (p *pk) global(mod, name string) { p.WriteString("c" + mod + "\n" + name + "\n") }
func (p *pk) str(s string) {
	p.WriteByte('X')
	p.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(s))))
	p.WriteString(s)
}
func (p *pk) int(i int) {
	p.WriteByte('J')
	p.Write(binary.LittleEndian.AppendUint32(nil, uint32(int32(i))))
}
func (p *pk) tuple(xs ...int) {
	p.WriteByte('(')
	for _, x := range xs {
		p.int(x)
	}
	p.WriteByte('t')
}

// tensor writes _rebuild_tensor_v2 on storage key of numel elements.
func (p *pk) tensor(class, key string, numel, offset int, size, stride []int) {
	p.global("torch._utils", "_rebuild_tensor_v2")
	p.WriteString("((")
	p.str("storage")
	p.global("torch", class)
	p.str(key)
	p.str("cpu")
	p.int(numel)
	p.WriteString("tQ")
	p.int(offset)
	p.tuple(size...)
	p.tuple(stride...)
	p.WriteString("\x89NtR")
}

// archiveOf zips a hand-made pickle with f32 storages of the given sizes.
func archiveOf(pkl []byte, storages map[string]int) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "x/data.pkl", Method: zip.Store})
	w.Write(pkl)
	for key, n := range storages {
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: "x/data/" + key, Method: zip.Store})
		w.Write(make([]byte, 4*n))
	}
	zw.Close()
	return buf.Bytes()
}

func TestHandMadePickles(t *testing.T) {
	one := func(class string, numel, offset int, size, stride []int) []byte {
		var p pk
		p.WriteString("\x80\x02}")
		p.str("w")
		p.tensor(class, "0", numel, offset, size, stride)
		p.WriteString("s.")
		return p.Bytes()
	}
	selfList := []byte("\x80\x02]q\x00h\x00a.")
	// L0 = [], Lk = [Lk-1, Lk-1]: 2^60 leaves from 60 list levels.
	var bomb pk
	bomb.WriteString("\x80\x02]q\x00")
	for i := 1; i <= 60; i++ {
		bomb.WriteString("(h")
		bomb.WriteByte(byte(i - 1))
		bomb.WriteString("h")
		bomb.WriteByte(byte(i - 1))
		bomb.WriteString("lq")
		bomb.WriteByte(byte(i))
	}
	bomb.WriteString(".")
	var dup pk
	dup.WriteString("\x80\x02}")
	dup.str("a.b")
	dup.tensor("FloatStorage", "0", 4, 0, []int{4}, []int{1})
	dup.WriteString("s")
	dup.str("a")
	dup.WriteString("}")
	dup.str("b")
	dup.tensor("FloatStorage", "0", 4, 0, []int{4}, []int{1})
	dup.WriteString("ss.")
	for _, c := range []struct {
		name     string
		pkl      []byte
		storages map[string]int
		want     string
	}{
		{"ok strided", one("FloatStorage", 6, 1, []int{2, 2}, []int{1, 3}), map[string]int{"0": 6}, ""},
		{"past storage", one("FloatStorage", 4, 0, []int{5}, []int{1}), map[string]int{"0": 4}, "reaches past its storage"},
		{"offset past", one("FloatStorage", 4, 4, []int{1}, []int{1}), map[string]int{"0": 4}, "reaches past"},
		{"negative stride", one("FloatStorage", 4, 3, []int{2}, []int{-1}), map[string]int{"0": 4}, "bad view"},
		{"size stride ranks", one("FloatStorage", 4, 0, []int{2, 2}, []int{1}), map[string]int{"0": 4}, "bad view"},
		{"broadcast", one("FloatStorage", 1, 0, []int{1 << 14, 1 << 14}, []int{0, 0}), map[string]int{"0": 1}, "broadcast"},
		{"overflow", one("FloatStorage", 1, 0, []int{1 << 30, 1 << 30, 1 << 30}, []int{0, 0, 0}), map[string]int{"0": 1}, "overflows"},
		{"record size", one("FloatStorage", 8, 0, []int{8}, []int{1}), map[string]int{"0": 4}, "record holds 16 bytes"},
		{"no record", one("FloatStorage", 4, 0, []int{4}, []int{1}), nil, "no record x/data/0"},
		{"complex", one("ComplexFloatStorage", 4, 0, []int{4}, []int{1}), map[string]int{"0": 4}, "unsupported storage type"},
		{"self list", selfList, nil, "nested deeper"},
		{"pickle bomb", bomb.Bytes(), nil, "too many nested references"},
		{"duplicate key", dup.Bytes(), map[string]int{"0": 4}, `duplicate key "a.b"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := archiveOf(c.pkl, c.storages)
			ck, err := ReadFrom(bytes.NewReader(b), int64(len(b)), "hand.pt")
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if w := ck.Tensors["w"]; w == nil || !slices.Equal(w.Shape, []int{2, 2}) || len(w.Data) != 4 {
					t.Errorf("w = %+v", w)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "hand.pt") {
				t.Errorf("error %v, want it to name hand.pt and contain %q", err, c.want)
			}
		})
	}
}
