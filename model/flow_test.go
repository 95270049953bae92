package model

import (
	"encoding/binary"
	"hash/fnv"
	"math"
	"testing"
)

// torch.linspace(0, 1, n) in float32, printed by /usr/bin/python3 with torch 1.13
var torchLinspace = map[int][]float32{
	4:  {0.0, 0.3333333432674408, 0.6666666269302368, 1.0},
	6:  {0.0, 0.20000000298023224, 0.4000000059604645, 0.6000000238418579, 0.800000011920929, 1.0},
	11: {0.0, 0.10000000149011612, 0.20000000298023224, 0.30000001192092896, 0.4000000059604645, 0.5, 0.6000000238418579, 0.699999988079071, 0.800000011920929, 0.8999999761581421, 1.0},
	26: {0.0, 0.03999999910593033, 0.07999999821186066, 0.11999999731779099, 0.1599999964237213, 0.19999998807907104, 0.23999999463558197, 0.2800000011920929, 0.3199999928474426, 0.35999998450279236, 0.3999999761581421, 0.4399999976158142, 0.47999998927116394, 0.5199999809265137, 0.5600000023841858, 0.6000000238418579, 0.6399999856948853, 0.6800000071525574, 0.7200000286102295, 0.7599999904632568, 0.800000011920929, 0.8400000333786011, 0.8799999952316284, 0.9200000166893005, 0.9599999785423279, 1.0},
}

func TestLinspaceMatchesTorch(t *testing.T) {
	for n, want := range torchLinspace {
		for i, w := range want {
			if got := linspace32(i, n); got != w {
				t.Errorf("linspace32(%d, %d) = %v, torch %v", i, n, got, w)
			}
		}
	}
}

func TestParseSchedule(t *testing.T) {
	good := map[string]string{"constant": "constant", "": "constant", "linear": "linear", "late": "late",
		"early-0.3": "early-0.3", "cfg_star-2-0.5": "cfg_star-2-0.5", "interval-0.2-0.8": "interval-0.2-0.8"}
	for in, want := range good {
		s, err := ParseSchedule(in)
		if err != nil || s.String() != want {
			t.Errorf("ParseSchedule(%q) = %v, %v; want %s", in, s, err, want)
		}
	}
	for _, bad := range []string{"early", "early-2", "early-x", "interval-0.8-0.2", "cosine", "linear-3", "<script>"} {
		if _, err := ParseSchedule(bad); err == nil {
			t.Errorf("ParseSchedule(%q) accepted", bad)
		}
	}
}

// TestScheduleMix pins the official cfg_mode rules (tools/reference/README.md).
func TestScheduleMix(t *testing.T) {
	scale := func(kind string, i, n int, tm float64) float64 {
		s, _ := ParseSchedule(kind)
		return s.Mix(4, i, n, tm).C
	}
	cases := []struct {
		kind string
		i, n int
		t    float64
		want float64
	}{
		{"constant", 0, 5, 0, 4},
		{"linear", 0, 2, 0, 2.5}, // 1 + 3·1/2: not 1 at the first step
		{"linear", 1, 2, 0.5, 4},
		{"late", 1, 4, 0, 1}, // (i+1)/N = 0.5 is not > 0.5
		{"late", 2, 4, 0, 4},
		{"early-0.3", 0, 4, 0.2, 1},
		{"early-0.3", 0, 4, 0.4, 4},
		{"interval-0.2-0.6", 0, 4, 0.5, 4},
		{"interval-0.2-0.6", 0, 4, 0.7, 1},
	}
	for _, c := range cases {
		if got := scale(c.kind, c.i, c.n, c.t); got != c.want {
			t.Errorf("%s step %d/%d t=%g: scale %g, want %g", c.kind, c.i, c.n, c.t, got, c.want)
		}
	}
	s, _ := ParseSchedule("cfg_star-2-0.5")
	if m := s.Mix(4, 1, 5, 0); m.U != -0.5 || m.C != 0 {
		t.Errorf("cfg_star early step: %+v, want v = −0.5·v_u", m)
	}
	if m := s.Mix(4, 2, 5, 0); m.U != -3 || m.C != 4 {
		t.Errorf("cfg_star late step: %+v, want plain CFG", m)
	}
}

// TestNoiseDeterministic: the same seed gives the same noise; the browser
// test checks wasm against the first values below.
func TestNoiseDeterministic(t *testing.T) {
	a, b := Noise(7, 1000), Noise(7, 1000)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("noise differs at %d", i)
		}
	}
	var mean, sq float64
	for _, v := range Noise(1, 100000) {
		mean += float64(v)
		sq += float64(v) * float64(v)
	}
	mean /= 100000
	if sq/100000-mean*mean < 0.98 || sq/100000-mean*mean > 1.02 || mean > 0.01 || mean < -0.01 {
		t.Errorf("noise is not standard normal: mean %g, var %g", mean, sq/100000-mean*mean)
	}
}

// TestNoiseGolden pins the seeded noise bit for bit. The value was printed
// by the native build; make test also runs this test compiled to wasm in
// Chromium, so native and browser samples start from the same latent.
func TestNoiseGolden(t *testing.T) {
	h := fnv.New64a()
	b := make([]byte, 4)
	for _, x := range Noise(12345, 100000) {
		binary.LittleEndian.PutUint32(b, math.Float32bits(x))
		h.Write(b)
	}
	if got, want := h.Sum64(), uint64(0xd586a2e8d707c97e); got != want {
		t.Errorf("Noise(12345) hash %#x, want %#x: noise is no longer identical across platforms/versions", got, want)
	}
}
