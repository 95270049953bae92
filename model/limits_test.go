package model_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"novae/model"
)

// spy records the largest tensor a backend is asked to allocate.
type spy struct {
	model.Backend
	most int
}

func (s *spy) Alloc(shape ...int) model.Tensor {
	n := 4
	for _, d := range shape {
		n *= d
	}
	s.most = max(s.most, n)
	return s.Backend.Alloc(shape...)
}

// TestActivationBytes: the per-image activation sizes the limits use are
// exactly the largest tensors the DiT (guided sampling) and the decoder
// allocate, measured by running the fixture model through a spying backend;
// and the SVG-XL figures by hand.
func TestActivationBytes(t *testing.T) {
	m, z := tinySVG(t, model.CPU{})
	B := 3
	classes := []int{1, 2, 3}
	s := &spy{Backend: model.CPU{}}
	m2, _ := tinySVG(t, s)
	s.most = 0
	if _, err := model.Sample(s, m2.DiT, model.SampleOptions{Classes: classes, Steps: 2, Shift: 0.15, CFG: 4,
		Schedule: model.Schedule{Kind: "constant"}, Noise: z}); err != nil {
		t.Fatal(err)
	}
	if got, want := s.most, int(m.Cfg.DiT.ActivationBytes())*B; got != want {
		t.Errorf("guided sampling of %d images allocated at most %d bytes, the limit assumes %d", B, got, want)
	}
	s.most = 0
	s.Free(m2.Decode(s, s.Upload(make([]float32, B*m.Cfg.DiT.Grid*m.Cfg.DiT.Grid*m.Cfg.DiT.InChannels), B, m.Cfg.DiT.Grid*m.Cfg.DiT.Grid, m.Cfg.DiT.InChannels), B))
	if got, want := s.most, int(m.Cfg.Decoder.ActivationBytes())*B; got != want {
		t.Errorf("decoding %d images allocated at most %d bytes, the limit assumes %d", B, got, want)
	}

	xl := model.SVGXLConfig()
	if got := xl.DiT.ActivationBytes(); got != 2*256*4608*4 {
		t.Errorf("SVG-XL DiT: %d bytes per image, want 2 rows × 256 tokens × 4608 (MLP) × 4", got)
	}
	if got := xl.Decoder.ActivationBytes(); got != 128*256*256*4 {
		t.Errorf("SVG-XL decoder: %d bytes per image, want 128 channels × 256² × 4", got)
	}
	if n := xl.DiT.MaxBatch(128 << 20); n != 14 {
		t.Errorf("SVG-XL at WebGPU's 128 MiB bindings: %d images at most, want 14", n)
	}
}

// TestDecodeChunked: on a GPU whose bindings cannot hold the decoder's
// feature maps for the whole batch, Decode runs in chunks that fit (the
// engine would refuse an over-limit binding) and gives the same images;
// Sample refuses, before any work, a batch whose DiT activations cannot fit,
// saying how many can.
func TestDecodeChunked(t *testing.T) {
	m, _ := tinySVG(t, gpu)
	// A limit above every decoder weight of the fixture (the largest,
	// a 64→64 conv, is 144 KiB) that holds the feature maps of some images only:
	// the batch is two chunks and a remainder.
	const limit = 256 << 10
	per := m.Cfg.Decoder.ActivationBytes()
	chunk := int(limit / per)
	B, T, C := 2*chunk+1, m.Cfg.DiT.Grid*m.Cfg.DiT.Grid, m.Cfg.DiT.InChannels
	t.Logf("%d bytes per image: %d images, chunks of %d", per, B, chunk)
	zs := randVals(B*T*C, 7)
	z := gpu.Upload(zs, B, T, C)
	whole, err := gpu.Read(m.Decode(gpu, z, B))
	if err != nil {
		t.Fatal(err)
	}
	e := gpu.E
	saved := e.Limits
	defer func() { e.Limits = saved }()
	e.Limits.MaxBinding = limit
	chunked, err := gpu.Read(m.Decode(gpu, z, B))
	if err != nil {
		t.Fatalf("chunked decode: %v", err)
	}
	if len(chunked) != len(whole) {
		t.Fatalf("chunked decode: %d values, want %d", len(chunked), len(whole))
	}
	for i := range whole {
		if chunked[i] != whole[i] {
			t.Fatalf("chunked decode differs at %d: %v vs %v", i, chunked[i], whole[i])
		}
	}
	m.Cfg.Decoder.Ch *= 100 // the same decode claiming 100× wider maps: chunks of one
	one, err := gpu.Read(m.Decode(gpu, z, B))
	m.Cfg.Decoder.Ch /= 100
	if err != nil || len(one) != len(whole) || one[len(one)-1] != whole[len(whole)-1] {
		t.Fatalf("decode in chunks of one: %v", err)
	}

	e.Limits.MaxBinding = 3 * m.Cfg.DiT.ActivationBytes()
	// A device with this limit loads the DiT under it: LoadDiT stacks the
	// adaLN weights only as far as one binding holds them.
	if m.DiT, err = model.LoadDiT(gpu, checkpoint(t, "dit_tiny.pt", "ema"), "", m.Cfg.DiT); err != nil {
		t.Fatal(err)
	}
	so := func(n int) model.SampleOptions {
		return model.SampleOptions{Classes: make([]int, n), Steps: 1, Shift: 0.15, CFG: 4, Schedule: model.Schedule{Kind: "constant"}}
	}
	if _, err := model.Sample(gpu, m.DiT, so(3)); err != nil {
		t.Errorf("3 images in 3 images' room: %v", err)
	}
	d0 := e.Dispatches
	_, err = model.Sample(gpu, m.DiT, so(4))
	if err == nil || !strings.Contains(err.Error(), "at most 3 images") {
		t.Errorf("4 images in 3 images' room: %v", err)
	}
	if e.Dispatches != d0 {
		t.Errorf("a refused batch still ran %d dispatches", e.Dispatches-d0)
	}
	if err := m.Cfg.DiT.CheckBatch(model.CPU{}, 1000); err != nil {
		t.Errorf("the pure-Go backend has no binding limit: %v", err)
	}
}

// tinySVG loads the fixture DiT and decoder (those of TestSampleParity) on
// b, with a noise of the fixture's batch.
func tinySVG(t *testing.T, b model.Backend) (*model.SVG, []float32) {
	t.Helper()
	_, dcfg, dec := sampleFixture(t)
	dit, err := model.LoadDiT(b, checkpoint(t, "dit_tiny.pt", "ema"), "", dcfg)
	if err != nil {
		t.Fatal(err)
	}
	d, err := model.LoadDecoder(b, checkpoint(t, "ae_tiny.ckpt", "state_dict"), "decoder.", dec)
	if err != nil {
		t.Fatal(err)
	}
	T, C := dcfg.Grid*dcfg.Grid, dcfg.InChannels
	return &model.SVG{Cfg: model.Config{DiT: dcfg, Decoder: dec}, DiT: dit, Decoder: d}, randVals(3*T*C, 1)
}

// randVals is a fixed pseudo-random vector in [-1, 1).
func randVals(n int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 99))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.Float64()*2 - 1)
	}
	return v
}
