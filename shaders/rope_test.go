package shaders_test

import (
	"fmt"
	"math"
	"testing"

	"novae/shaders/ref"
)

type ropeCase struct {
	B, NH, HD, prefix, H, W int
}

func (c ropeCase) T() int { return c.prefix + c.H*c.W }

func (c ropeCase) String() string {
	return fmt.Sprintf("B=%d,T=%d,NH=%d,HD=%d,prefix=%d,HW=%dx%d", c.B, c.T(), c.NH, c.HD, c.prefix, c.H, c.W)
}

var ropeCases = []ropeCase{
	{B: 1, NH: 1, HD: 8, prefix: 0, H: 2, W: 2},
	{B: 2, NH: 2, HD: 8, prefix: 1, H: 3, W: 4}, // not square
	{B: 2, NH: 3, HD: 12, prefix: 2, H: 5, W: 3},
	{B: 1, NH: 6, HD: 64, prefix: 5, H: 16, W: 16}, // DINOv3-S at 256²
}

// TestRoPE2D: GPU against ref.RoPE2D with the same f32 table. Tolerance 1e-6
// abs (f32 rotation of N(0,1) values; ref rounds once from float64). Also
// checks that the prefix tokens and v come out bit-identical.
func TestRoPE2D(t *testing.T) {
	for _, c := range ropeCases {
		t.Run(c.String(), func(t *testing.T) {
			T := c.T()
			x := randn(seeded(c.String()), c.B*T*3*c.NH*c.HD, 1)
			xt := eng.Upload(x, c.B, T, 3*c.NH*c.HD)
			tab := eng.RoPETable(c.H, c.W, c.HD, 100)
			eng.RoPE2D(xt, tab, c.B, T, c.NH, c.HD, c.prefix)
			got := read(t, xt)
			xt.Release()
			tab.Release()

			want := append([]float32(nil), x...)
			ref.RoPE2D(want, ref.RoPETable(ref.RoPEAngles(c.H, c.W, ref.RoPEPeriods(c.HD, 100))),
				c.B, T, c.NH, c.HD, c.prefix)
			check(t, "rope", got, want, 1e-6, 0)

			// Untouched: prefix tokens entirely, v of every token.
			row := 3 * c.NH * c.HD
			for b := range c.B {
				for tok := range T {
					lo := 2 * c.NH * c.HD
					if tok < c.prefix {
						lo = 0
					}
					for i := lo; i < row; i++ {
						if j := (b*T+tok)*row + i; got[j] != x[j] || want[j] != x[j] {
							t.Fatalf("b=%d token %d element %d changed: %g → gpu %g, ref %g", b, tok, i, x[j], got[j], want[j])
						}
					}
				}
			}
		})
	}
}

// TestRoPEPeriods pins DINOv3's periods: base^(2k/(HD/2)), which for HD 64
// and base 100 is 100^(k/16), k = 0…15.
func TestRoPEPeriods(t *testing.T) {
	p := ref.RoPEPeriods(64, 100)
	if len(p) != 16 {
		t.Fatalf("%d periods for HD 64, want 16", len(p))
	}
	for k, v := range p {
		if w := math.Pow(100, float64(k)/16); math.Abs(v-w) > 1e-12*w {
			t.Errorf("period %d = %g, want 100^(%d/16) = %g", k, v, k, w)
		}
	}
}

// TestRoPE2DHandValues pins the formula on a 2×2 grid, HD 8, base 100, one
// prefix token, values worked out by hand. Periods 100^(0/2)=1, 100^(1/2)=10;
// patch centres ±½; angle layout [row/1, row/10, col/1, col/10] tiled twice.
// For patch (row 1, col 0): row angles π, π/10; column angles −π, −π/10. So
// pair 0 and 2 (period 1) turn by ±π (negate), pairs 1 and 3 by ±π/10.
func TestRoPE2DHandValues(t *testing.T) {
	const B, T, NH, HD, prefix, H, W = 1, 5, 1, 8, 1, 2, 2
	x := make([]float32, T*3*HD)
	for i := range x {
		x[i] = float32(i%24 + 1) // every token's q = 1…8, k = 9…16, v = 17…24
	}
	c, s := math.Cos(math.Pi/10), math.Sin(math.Pi/10)
	// rotate pair (a, b) by θ: (a·cosθ − b·sinθ, b·cosθ + a·sinθ).
	rot := func(a, b, cos, sin float64) (float64, float64) { return a*cos - b*sin, b*cos + a*sin }
	// q of patch (1,0) = token 1 + 2 = 3. Pairs (x0,x4) θ=π, (x1,x5) θ=π/10,
	// (x2,x6) θ=−π, (x3,x7) θ=−π/10.
	q := []float64{1, 2, 3, 4, 5, 6, 7, 8}
	var hand [8]float64
	hand[0], hand[4] = -q[0], -q[4]
	hand[1], hand[5] = rot(q[1], q[5], c, s)
	hand[2], hand[6] = -q[2], -q[6]
	hand[3], hand[7] = rot(q[3], q[7], c, -s)
	// Written out: x1' = 2c − 6s, x5' = 6c + 2s; x3' = 4c + 8s, x7' = 8c − 4s.
	if math.Abs(hand[1]-(2*c-6*s)) > 1e-12 || math.Abs(hand[7]-(8*c-4*s)) > 1e-12 {
		t.Fatal("hand values inconsistent")
	}
	want := make([]float32, 8)
	for i := range want {
		want[i] = float32(hand[i])
	}

	tok := 3 // prefix + row·W + col = 1 + 1·2 + 0
	get := func(v []float32) []float32 { return v[tok*3*HD : tok*3*HD+HD] }

	tab := ref.RoPETable(ref.RoPEAngles(H, W, ref.RoPEPeriods(HD, 100)))
	r := append([]float32(nil), x...)
	ref.RoPE2D(r, tab, B, T, NH, HD, prefix)
	check(t, "ref", get(r), want, 1e-6, 0)

	xt := eng.Upload(x, B, T, 3*NH*HD)
	gt := eng.RoPETable(H, W, HD, 100)
	eng.RoPE2D(xt, gt, B, T, NH, HD, prefix)
	g := read(t, xt)
	xt.Release()
	gt.Release()
	check(t, "gpu", get(g), want, 1e-6, 0)

	// k of the same token gets the same rotation; the cls token none.
	k := g[tok*3*HD+HD : tok*3*HD+2*HD]
	if d := float64(k[1]) - (10*c - 14*s); math.Abs(d) > 1e-5 {
		t.Errorf("k[1] = %g, want 10·cos(π/10) − 14·sin(π/10) = %g", k[1], 10*c-14*s)
	}
	check(t, "cls", g[:3*HD], x[:3*HD], 0, 0)
}

// TestRoPE2DFoldedGrid: 384 workgroups folded as 20×20 (16 of them padding).
func TestRoPE2DFoldedGrid(t *testing.T) {
	c := ropeCase{B: 1, NH: 6, HD: 64, prefix: 5, H: 16, W: 16}
	T := c.T()
	x := randn(seeded("RoPE2DFoldedGrid"), c.B*T*3*c.NH*c.HD, 1)
	xt := eng.Upload(x, c.B, T, 3*c.NH*c.HD)
	tab := eng.RoPETable(c.H, c.W, c.HD, 100)
	withFoldedGrids(t, 20, func() { eng.RoPE2D(xt, tab, c.B, T, c.NH, c.HD, c.prefix) })
	got := read(t, xt)
	xt.Release()
	tab.Release()
	ref.RoPE2D(x, ref.RoPETable(ref.RoPEAngles(c.H, c.W, ref.RoPEPeriods(c.HD, 100))), c.B, T, c.NH, c.HD, c.prefix)
	check(t, "rope", got, x, 1e-6, 0)
}
