package model

// Rectified-flow sampling as in SVG's official sample script: t=0 is noise,
// t=1 is data, z_t = (1−t)·ε + t·x, and the DiT predicts v = x − ε.

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// TimeGrid returns steps+1 times from 0 to 1 as the official sampler makes
// them: base = linspace(0,1,steps+1) in float32, shifted in float64 by
// t = s·b / (1 + (s−1)·b), stored as float32. s < 1 bunches steps near the
// noise end; s ≤ 0 leaves the grid unshifted.
func TimeGrid(steps int, shift float64) []float32 {
	ts := make([]float32, steps+1)
	for i := range ts {
		b := float64(linspace32(i, steps+1))
		if shift > 0 {
			b = shift * b / (1 + (shift-1)*b)
		}
		ts[i] = float32(b)
	}
	return ts
}

// linspace32 is element i of torch.linspace(0, 1, n) in float32: torch
// fills the first half forwards from 0 and the second half backwards from 1.
func linspace32(i, n int) float32 {
	if n == 1 {
		return 0
	}
	step := float32(1) / float32(n-1)
	if i < n/2 {
		return step * float32(i)
	}
	return 1 - step*float32(n-1-i)
}

// Schedule says how the CFG scale varies over the steps, as the official
// sampler's cfg_mode does.
type Schedule struct {
	Kind string  // "constant", "linear", "late", "early", "cfg_star", "interval"
	X    float64 // early: threshold time; cfg_star: K steps; interval: lower bound
	Y    float64 // cfg_star: R; interval: upper bound
}

// Schedules lists the accepted forms, for help texts and the page.
const Schedules = "constant, linear, late, early-X, cfg_star-K-R, interval-A-B"

// ParseSchedule reads "constant", "linear", "late", "early-0.3",
// "cfg_star-2-0.5" or "interval-0.2-0.8".
func ParseSchedule(s string) (Schedule, error) {
	parts := strings.Split(strings.ToLower(strings.TrimSpace(s)), "-")
	sc := Schedule{Kind: parts[0]}
	num := func(i int, lo, hi float64) (float64, error) {
		if i >= len(parts) {
			return 0, fmt.Errorf("schedule %q: missing a number", s)
		}
		v, err := strconv.ParseFloat(parts[i], 64)
		if err != nil || v < lo || v > hi || math.IsNaN(v) {
			return 0, fmt.Errorf("schedule %q: %q is not a number in [%g,%g]", s, parts[i], lo, hi)
		}
		return v, nil
	}
	fields := 1
	var err error
	switch sc.Kind {
	case "", "constant":
		sc.Kind = "constant"
	case "linear", "late":
	case "early":
		fields = 2
		sc.X, err = num(1, 0, 1)
	case "cfg_star":
		fields = 3
		if sc.X, err = num(1, 0, 1000); err == nil {
			sc.Y, err = num(2, 0, 100)
		}
	case "interval":
		fields = 3
		if sc.X, err = num(1, 0, 1); err == nil {
			sc.Y, err = num(2, sc.X, 1)
		}
	default:
		return sc, fmt.Errorf("unknown CFG schedule %q (want %s)", s, Schedules)
	}
	if err == nil && len(parts) > fields {
		err = fmt.Errorf("schedule %q: too many fields", s)
	}
	return sc, err
}

func (s Schedule) String() string {
	switch s.Kind {
	case "early":
		return fmt.Sprintf("early-%g", s.X)
	case "cfg_star":
		return fmt.Sprintf("cfg_star-%g-%g", s.X, s.Y)
	case "interval":
		return fmt.Sprintf("interval-%g-%g", s.X, s.Y)
	}
	return s.Kind
}

// Mix is how one evaluation combines the conditional and unconditional
// velocities: v = U·v_u + Cw·v_c. Plain CFG with scale w is U = 1−w, Cw = w.
type Mix struct{ U, C float64 }

// Guided reports whether the unconditional pass is needed at all.
func (m Mix) Guided() bool { return m.U != 0 || m.C != 1 }

// Mix gives the combination at step i of n for an evaluation at time t
// (t_i, or t_{i+1} for Heun's corrector, which keeps the step index i).
func (s Schedule) Mix(w float64, i, n int, t float64) Mix {
	scale := func(v float64) Mix { return Mix{U: 1 - v, C: v} }
	switch s.Kind {
	case "linear": // 1 + (w−1)(i+1)/N: already above 1 at the first step
		return scale(1 + (w-1)*float64(i+1)/float64(n))
	case "late":
		if float64(i+1)/float64(n) > 0.5 {
			return scale(w)
		}
		return scale(1)
	case "early": // guide while t > X: the data end, since t=0 is noise
		if t > s.X {
			return scale(w)
		}
		return scale(1)
	case "cfg_star": // first K steps: −R·v_u only
		if float64(i) < s.X {
			return Mix{U: -s.Y, C: 0}
		}
		return scale(w)
	case "interval": // novae's extension: guide while A ≤ t ≤ B
		if t >= s.X && t <= s.Y {
			return scale(w)
		}
		return scale(1)
	}
	return scale(w)
}

// SampleOptions are everything a sampling run depends on.
type SampleOptions struct {
	Classes  []int     // one per image
	Seed     uint64    // noise seed (ignored when Noise is set)
	Noise    []float32 // optional starting noise [B,T,C]
	Steps    int       // 1..
	Heun     bool      // Heun (2 evaluations per step) instead of Euler
	CFG      float64   // guidance scale w; ≤ 1 turns CFG off
	Schedule Schedule
	Shift    float64 // time-grid shift s (official sampling: 0.15)
	// OnStep, if set, sees each step's state: z is x_t after the step
	// (at time T), v the velocity used; x̂₀ = z + (1−T)·v can be formed
	// with the backend. Returning an error stops sampling.
	OnStep func(s Step) error
	// X0 asks Sample to compute x̂₀ into Step.X0 for OnStep (teaching views).
	X0 bool
	// From > 0 starts at flow time From instead of pure noise (img2img):
	// Noise is then the noised latent z_From = (1−From)·ε + From·x, and the
	// shifted grid is mapped onto [From, 1].
	From float64
	// Start > 0 resumes a run at step Start of the same grid (after a lost
	// GPU device, say): Noise is then the latent OnStep saw as Z after step
	// Start−1, and the result is the one the uninterrupted run gives.
	Start int
}

// Step is what OnStep receives.
type Step struct {
	I, N int     // step index (0-based) and count
	T    float64 // time reached after this step
	Z    Tensor  // the latent x_t [B,T,C] (normalised space)
	V    Tensor  // the velocity that moved it there
	X0   Tensor  // predicted clean latent, when SampleOptions.X0
	CFG  float64 // scale used at this step
	// Dispatches is the number of GPU dispatches this step recorded (0 on
	// backends that do not count): it bounds speed on small GPUs.
	Dispatches int
}

// DispatchCounter is implemented by backends that count GPU dispatches.
type DispatchCounter interface{ DispatchCount() int }

// Noise returns the seeded Gaussian noise for n values. It is a pure
// function of the seed (PCG + ziggurat, no platform maths on the common
// path) so native and wasm runs start from the same latent.
func Noise(seed uint64, n int) []float32 {
	r := rand.New(rand.NewPCG(seed, 0x6e6f766165)) // "novae"
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// Sample runs the sampler and returns the final latent [B,T,C] in the
// normalised space (see Latent.Denormalize).
func Sample(b Backend, m *DiT, o SampleOptions) (Tensor, error) {
	c := m.Cfg
	B, T, C := len(o.Classes), c.tokens(), c.InChannels
	if B == 0 {
		return nil, fmt.Errorf("sample: no classes given")
	}
	if err := c.CheckBatch(b, B); err != nil {
		return nil, fmt.Errorf("sample: %w", err)
	}
	if o.Steps < 1 || o.Steps > 1000 {
		return nil, fmt.Errorf("sample: steps %d out of range 1..1000", o.Steps)
	}
	if o.Start < 0 || o.Start >= o.Steps {
		return nil, fmt.Errorf("sample: start step %d out of range 0..%d", o.Start, o.Steps-1)
	}
	if !(o.Shift > 0) || math.IsInf(o.Shift, 0) {
		return nil, fmt.Errorf("sample: shift %g must be positive", o.Shift)
	}
	for _, y := range o.Classes {
		if y < 0 || y > c.NumClasses {
			return nil, fmt.Errorf("sample: class %d out of range 0..%d", y, c.NumClasses)
		}
	}
	noise := o.Noise
	if noise == nil {
		noise = Noise(o.Seed, B*T*C)
	} else if len(noise) != B*T*C {
		return nil, fmt.Errorf("sample: noise has %d values, want %d = [%d,%d,%d]", len(noise), B*T*C, B, T, C)
	}
	z := b.Upload(noise, B, T, C)
	ts := TimeGrid(o.Steps, o.Shift)
	if o.From < 0 || o.From >= 1 || math.IsNaN(o.From) {
		return nil, fmt.Errorf("sample: start time %g out of [0,1)", o.From)
	}
	if o.From > 0 {
		for i, t := range ts {
			ts[i] = float32(o.From + (1-o.From)*float64(t))
		}
	}
	n := B * T * C

	v := b.Alloc(B, T, C)
	var v2, zp, x0, zz, vv Tensor
	if o.Heun {
		v2, zp = b.Alloc(B, T, C), b.Alloc(B, T, C)
	}
	if o.X0 {
		x0 = b.Alloc(B, T, C)
	}
	defer func() { b.Free(v, v2, zp, x0, zz, vv) }()
	// A guided evaluation runs [cond; uncond] as one batch of 2B: the
	// official sampler's two forwards, in one pass over the weights.
	both := append(append([]int(nil), o.Classes...), repeat(c.NumClasses, B)...)
	// Every evaluation's time vector is uploaded once, up front: an upload
	// inside a step would split the step's command buffer.
	evals := len(ts) * 2 * B
	host := make([]float32, evals)
	for i, t := range ts {
		for j := range 2 * B {
			host[i*2*B+j] = t
		}
	}
	times := b.Upload(host, evals)
	tb := b.Alloc(2 * B)
	defer b.Free(times, tb)
	velocity := func(dst, zin Tensor, ti int, mix Mix) error {
		labels := o.Classes
		if mix.Guided() {
			labels = both
		}
		tv := tb
		if len(labels) != 2*B {
			tv = b.Alloc(len(labels))
			defer b.Free(tv)
		}
		b.CopyRegion(tv, 0, times, ti*2*B, len(labels))
		cond, err := m.ConditionT(b, tv, labels)
		if err != nil {
			return err
		}
		defer b.Free(cond.SiLUC)
		if !mix.Guided() {
			m.Forward(b, dst, zin, cond)
			return nil
		}
		if zz == nil {
			zz, vv = b.Alloc(2*B, T, C), b.Alloc(2*B, T, C)
		}
		b.CopyRegion(zz, 0, zin, 0, n)
		b.CopyRegion(zz, n, zin, 0, n)
		m.Forward(b, vv, zz, cond)
		vc, vu := b.Alloc(B, T, C), b.Alloc(B, T, C)
		b.CopyRegion(vc, 0, vv, 0, n)
		b.CopyRegion(vu, 0, vv, n, n)
		b.CFG(dst, vc, vu, float32(mix.U), float32(mix.C))
		b.Free(vc, vu)
		return nil
	}
	mixAt := func(i int, t float32) Mix {
		if o.CFG <= 1 && o.Schedule.Kind != "cfg_star" {
			return Mix{U: 0, C: 1}
		}
		return o.Schedule.Mix(o.CFG, i, o.Steps, float64(t))
	}
	counter, _ := b.(DispatchCounter)
	for i := o.Start; i < o.Steps; i++ {
		d0 := 0
		if counter != nil {
			d0 = counter.DispatchCount()
		}
		t0, t1 := ts[i], ts[i+1]
		dt := t1 - t0
		mix := mixAt(i, t0)
		if err := velocity(v, z, i, mix); err != nil {
			return nil, err
		}
		if o.Heun {
			// predictor to t1, corrector with the average velocity
			b.CopyRegion(zp, 0, z, 0, n)
			b.Euler(zp, v, dt)
			if err := velocity(v2, zp, i+1, mixAt(i, t1)); err != nil {
				return nil, err
			}
			b.Add(v, v, v2)
			b.Scale(v, 0.5) // average velocity, also what the callback sees
		}
		b.Euler(z, v, dt)
		if err := b.Flush(); err != nil {
			return nil, fmt.Errorf("sample: step %d: %w", i+1, err)
		}
		if o.OnStep != nil {
			if o.X0 { // x̂₀ = z + (1−t)·v
				b.CopyRegion(x0, 0, z, 0, n)
				b.Euler(x0, v, 1-t1)
			}
			st := Step{I: i, N: o.Steps, T: float64(t1), Z: z, V: v, X0: x0, CFG: mix.C}
			if counter != nil {
				st.Dispatches = counter.DispatchCount() - d0
			}
			if err := o.OnStep(st); err != nil {
				return nil, err
			}
		}
	}
	return z, nil
}

func repeat(v, n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = v
	}
	return s
}
