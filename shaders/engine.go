package shaders

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"

	"github.com/cogentcore/webgpu/wgpu"
)

// DType is how a tensor's elements are stored on the GPU. Math is always f32;
// the narrow types are storage only (wgpu-native in cogentcore/webgpu
// v0.23.0 rejects `enable f16;`, so f16 compute could not be tested natively).
type DType uint8

const (
	F32 DType = iota
	F16       // IEEE half, two per u32, read with unpack2x16float
	I8        // signed bytes, four per u32
	U8        // unsigned bytes, four per u32 (int4 pairs, RGBA8 pixels)
	I32
	U32
)

func (d DType) String() string {
	return [...]string{"f32", "f16", "i8", "u8", "i32", "u32"}[d]
}

// Size is the number of bytes per element.
func (d DType) Size() int {
	switch d {
	case F16:
		return 2
	case I8, U8:
		return 1
	}
	return 4
}

// Tensor is a GPU buffer with a shape. It is only a handle: the data never
// lives in Go memory unless Read asks for it.
type Tensor struct {
	Name  string
	Shape []int
	DType DType
	buf   *wgpu.Buffer
	size  uint64 // buffer size in bytes (logical bytes rounded up to 4)
	e     *Engine
	pool  bool // returned to the engine's pool by Release
}

// Len is the number of elements.
func (t *Tensor) Len() int { return numel(t.Shape) }

// Bytes is the logical size in bytes.
func (t *Tensor) Bytes() int { return t.Len() * t.DType.Size() }

// Buffer exposes the underlying GPU buffer (the browser streams weights into it).
func (t *Tensor) Buffer() *wgpu.Buffer { return t.buf }

func (t *Tensor) String() string {
	return fmt.Sprintf("%s%v %s", t.Name, t.Shape, t.DType)
}

// Release gives a temporary tensor's buffer back to the engine for reuse, or
// destroys an uploaded one. Using t afterwards is a bug.
func (t *Tensor) Release() {
	if t == nil || t.buf == nil {
		return
	}
	t.e.release(t)
	t.buf = nil
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Limits are the device limits the engine plans with.
type Limits struct {
	MaxBinding       uint64 // maxStorageBufferBindingSize
	MaxBuffer        uint64 // maxBufferSize
	MaxWGStorage     uint32 // maxComputeWorkgroupStorageSize
	MaxInvocations   uint32 // maxComputeInvocationsPerWorkgroup
	MaxWGPerDim      uint32 // maxComputeWorkgroupsPerDimension
	MaxStorageBufs   uint32 // maxStorageBuffersPerShaderStage
	UniformAlignment uint32 // minUniformBufferOffsetAlignment
}

// MaxTensor is the largest tensor a kernel can bind whole: within both the
// binding and the buffer limit.
func (l Limits) MaxTensor() uint64 { return min(l.MaxBinding, l.MaxBuffer) }

// need is what novae asks for: enough for every SVG-XL tensor (the largest is
// 32 MiB in f32, the attention scratch at 1024 tokens less) with headroom.
// The device gets min(adapter, need) for each.
var need = Limits{
	MaxBinding:     1 << 30,
	MaxBuffer:      1 << 30,
	MaxWGStorage:   32 << 10,
	MaxInvocations: 256,
	MaxWGPerDim:    65535,
	MaxStorageBufs: 10,
}

// minimum is what the kernels cannot run without (WebGPU's defaults).
var minimum = Limits{
	MaxBinding:     128 << 20,
	MaxBuffer:      256 << 20,
	MaxWGStorage:   16 << 10,
	MaxInvocations: 256,
	MaxWGPerDim:    65535,
	MaxStorageBufs: 8,
}

func (l Limits) check() error {
	var errs []error
	chk := func(name string, have, want uint64) {
		if have < want {
			errs = append(errs, fmt.Errorf("%s is %d, novae needs at least %d", name, have, want))
		}
	}
	chk("maxStorageBufferBindingSize", l.MaxBinding, minimum.MaxBinding)
	chk("maxBufferSize", l.MaxBuffer, minimum.MaxBuffer)
	chk("maxComputeWorkgroupStorageSize", uint64(l.MaxWGStorage), uint64(minimum.MaxWGStorage))
	chk("maxComputeInvocationsPerWorkgroup", uint64(l.MaxInvocations), uint64(minimum.MaxInvocations))
	chk("maxStorageBuffersPerShaderStage", uint64(l.MaxStorageBufs), uint64(minimum.MaxStorageBufs))
	if len(errs) > 0 {
		return fmt.Errorf("shaders: GPU too small: %w", errors.Join(errs...))
	}
	return nil
}

// Engine owns a device, its pipelines and the command buffer being recorded.
// It is not safe for concurrent use: one goroutine records and submits.
type Engine struct {
	Adapter string // adapter description, for figures and the page
	Backend string // "vulkan", "webgpu (browser)", …
	Limits  Limits
	HasF16  bool // shader-f16 is available (browser only; storage f16 works everywhere)

	dev   *wgpu.Device
	queue *wgpu.Queue
	plat  platform

	pipes  map[string]*pipeline
	enc    *wgpu.CommandEncoder
	pass   *wgpu.ComputePassEncoder
	uni    uniforms
	free   map[uint64][]*wgpu.Buffer // released buffers by size, reused by Empty
	stage  map[uint64]*wgpu.Buffer   // map-read staging buffers by size
	dummy  *Tensor                   // bound where an optional input is absent
	groups []*wgpu.BindGroup         // bind groups of the commands being recorded
	doomed []*wgpu.Buffer            // released while recorded commands still use them

	err error // first error since the last Submit/Read (sticky)

	// Dispatches counts dispatches recorded since the engine started; the
	// figures print it per step since it bounds speed on small GPUs.
	Dispatches int

	// SubmitEvery > 0 submits after that many dispatches, so no single
	// submission runs long enough for a watchdog (or wgpu's 5 s wait on CPU
	// drivers) to give up on it. 0 means one submit per call site, the
	// default on GPUs; CPU adapters default to 1. $NOVAE_SUBMIT_EVERY
	// overrides both.
	SubmitEvery int
	pending     int

	// SubmitFLOP > 0 also submits once the recorded work reaches that many
	// FLOP (as matmul, attention and conv count it): a GPU watchdog (2 s on
	// Windows) kills a submission that runs too long, and a weak integrated
	// GPU does ~1 TFLOP/s. The default, DefaultSubmitFLOP, keeps a step of
	// the shipped models one submit and splits an SVG-XL CFG step (~475
	// GFLOP) into three. $NOVAE_SUBMIT_FLOP overrides it (0: never).
	SubmitFLOP  float64
	pendingFLOP float64

	// Submits counts command buffers sent to the queue.
	Submits int

	// ConvSplit > 0 makes every convolution sum its K = Cin·k² in that
	// many parts (conv.wgsl's split-K; tests and benchmarks); 0 lets
	// PlanConvSplit choose per shape.
	ConvSplit int

	// ConvKernel picks the convolution kernel: "conv" or "conv_prefetch";
	// "" lets PlanConv choose.
	ConvKernel string

	// AttnSplit > 0 makes every attention split its keys in that many
	// parts (attention.wgsl's combine; tests and benchmarks); 0 lets
	// PlanAttnSplit choose.
	AttnSplit int

	// AttnKernel picks the attention kernel: "attention" or
	// "attention_tiled" (where it fits); "" lets PlanAttention choose.
	AttnKernel string
}

// Err returns the sticky error, if any.
func (e *Engine) Err() error { return e.err }

func (e *Engine) fail(err error) {
	if e.err == nil && err != nil {
		e.err = err
	}
}

func (e *Engine) init() error {
	e.queue = e.dev.GetQueue()
	if v, err := strconv.Atoi(os.Getenv("NOVAE_SUBMIT_EVERY")); err == nil && v >= 0 {
		e.SubmitEvery = v
	}
	e.SubmitFLOP = DefaultSubmitFLOP
	if v, err := strconv.ParseFloat(os.Getenv("NOVAE_SUBMIT_FLOP"), 64); err == nil && v >= 0 {
		e.SubmitFLOP = v
	}
	e.pipes = map[string]*pipeline{}
	e.free = map[uint64][]*wgpu.Buffer{}
	e.stage = map[uint64]*wgpu.Buffer{}
	if e.Limits.UniformAlignment == 0 {
		e.Limits.UniformAlignment = 256
	}
	d, err := e.newBuffer("dummy", 16)
	if err != nil {
		return err
	}
	e.dummy = &Tensor{Name: "dummy", Shape: []int{4}, buf: d, size: 16, e: e}
	return nil
}

const storageUsage = wgpu.BufferUsageStorage | wgpu.BufferUsageCopySrc | wgpu.BufferUsageCopyDst

func (e *Engine) newBuffer(name string, size uint64) (*wgpu.Buffer, error) {
	if size > e.Limits.MaxBuffer {
		return nil, fmt.Errorf("shaders: %s needs a %d-byte buffer, device allows %d", name, size, e.Limits.MaxBuffer)
	}
	b, err := e.dev.CreateBuffer(&wgpu.BufferDescriptor{Label: name, Size: size, Usage: storageUsage})
	if err != nil {
		return nil, fmt.Errorf("shaders: creating buffer %s (%d bytes): %w", name, size, err)
	}
	return b, nil
}

func padSize(n int) uint64 {
	s := uint64(n+3) &^ 3
	if s < 16 {
		s = 16
	}
	return s
}

// Empty returns a tensor with undefined contents, reusing a released buffer
// of the same size when there is one. Release it when done.
func (e *Engine) Empty(dt DType, shape ...int) *Tensor {
	t := &Tensor{Shape: append([]int(nil), shape...), DType: dt, e: e, pool: true}
	t.size = padSize(t.Bytes())
	if l := e.free[t.size]; len(l) > 0 {
		t.buf = l[len(l)-1]
		e.free[t.size] = l[:len(l)-1]
		return t
	}
	b, err := e.newBuffer("tensor", t.size)
	if err != nil {
		e.fail(err)
		return t
	}
	t.buf = b
	return t
}

// Alloc returns a tensor with undefined contents that is never pooled:
// weights that JS streams into, freed for good by Release.
func (e *Engine) Alloc(dt DType, shape ...int) *Tensor {
	t := &Tensor{Shape: append([]int(nil), shape...), DType: dt, e: e}
	t.size = padSize(t.Bytes())
	b, err := e.newBuffer("weights", t.size)
	if err != nil {
		e.fail(err)
		return t
	}
	t.buf = b
	return t
}

// Named sets t's name (used in error messages) and returns t.
func (t *Tensor) Named(name string) *Tensor { t.Name = name; return t }

func (e *Engine) release(t *Tensor) {
	if t.pool {
		// Commands already recorded keep their order, so a later op may
		// reuse the buffer within the same command buffer.
		e.free[t.size] = append(e.free[t.size], t.buf)
		return
	}
	if e.enc != nil { // recorded commands still use it: destroy after submit
		e.doomed = append(e.doomed, t.buf)
		return
	}
	t.buf.Destroy()
	t.buf.Release()
}

// Upload copies f32 data to a new tensor.
func (e *Engine) Upload(data []float32, shape ...int) *Tensor {
	if len(shape) == 0 {
		shape = []int{len(data)}
	}
	if numel(shape) != len(data) {
		panic(fmt.Sprintf("shaders: Upload: %d values for shape %v", len(data), shape))
	}
	return e.UploadRaw(F32, f32bytes(data), shape...)
}

// UploadRaw copies raw little-endian element bytes (len = numel·dt.Size()).
func (e *Engine) UploadRaw(dt DType, data []byte, shape ...int) *Tensor {
	t := e.Empty(dt, shape...)
	t.pool = false
	if len(data) != t.Bytes() {
		panic(fmt.Sprintf("shaders: UploadRaw: %d bytes for %s%v", len(data), dt, shape))
	}
	e.writeRaw(t, data)
	return t
}

// Write overwrites t with f32 data (reuse instead of re-allocation).
func (e *Engine) Write(t *Tensor, data []float32) {
	if len(data) != t.Len() || t.DType != F32 {
		panic(fmt.Sprintf("shaders: Write: %d f32 values into %v", len(data), t))
	}
	e.writeRaw(t, f32bytes(data))
}

// WriteRaw overwrites t with raw element bytes.
func (e *Engine) WriteRaw(t *Tensor, data []byte) {
	if len(data) != t.Bytes() {
		panic(fmt.Sprintf("shaders: WriteRaw: %d bytes into %v", len(data), t))
	}
	e.writeRaw(t, data)
}

func (e *Engine) writeRaw(t *Tensor, data []byte) {
	if t.buf == nil {
		return // allocation failed; the sticky error says why
	}
	if r := len(data) % 4; r != 0 { // buffer writes must be 4-byte multiples
		data = append(data[:len(data):len(data)], make([]byte, 4-r)...)
	}
	// Queue writes are ordered before any later submit, but after work
	// already submitted: flush what was recorded so it sees the old contents.
	e.submit()
	if err := e.plat.writeBuffer(e, t.buf, data); err != nil {
		e.fail(fmt.Errorf("shaders: writing %v: %w", t, err))
	}
}

func f32bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func bytesF32(b []byte) []float32 {
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// Read submits everything recorded and returns t's contents as f32 (f32
// tensors only; use ReadRaw for others).
func (e *Engine) Read(t *Tensor) ([]float32, error) {
	if t.DType != F32 {
		return nil, fmt.Errorf("shaders: Read: %v is not f32", t)
	}
	b, err := e.ReadRaw(t)
	if err != nil {
		return nil, err
	}
	return bytesF32(b), nil
}

// ReadRaw submits everything recorded and returns t's bytes.
func (e *Engine) ReadRaw(t *Tensor) ([]byte, error) {
	if e.err != nil {
		return nil, e.takeErr()
	}
	if t.buf == nil {
		return nil, fmt.Errorf("shaders: Read: %v has no buffer (released?)", t)
	}
	st := e.stage[t.size]
	if st == nil {
		var err error
		st, err = e.dev.CreateBuffer(&wgpu.BufferDescriptor{Label: "readback", Size: t.size,
			Usage: wgpu.BufferUsageMapRead | wgpu.BufferUsageCopyDst})
		if err != nil {
			return nil, fmt.Errorf("shaders: readback buffer: %w", err)
		}
		e.stage[t.size] = st
	}
	e.copy(st, t.buf, t.size)
	e.submit()
	if e.err != nil {
		return nil, e.takeErr()
	}
	out, err := e.plat.mapRead(e, st, t.size)
	if err != nil {
		return nil, fmt.Errorf("shaders: reading %v: %w", t, err)
	}
	return out[:t.Bytes()], nil
}

// Copy records dst ← src (same byte size).
func (e *Engine) Copy(dst, src *Tensor) {
	if dst.Bytes() != src.Bytes() {
		panic(fmt.Sprintf("shaders: Copy %v ← %v: sizes differ", dst, src))
	}
	if dst.buf == nil || src.buf == nil {
		return
	}
	e.copy(dst.buf, src.buf, padSize(src.Bytes()))
}

func (e *Engine) copy(dst, src *wgpu.Buffer, size uint64) {
	e.encoder()
	if e.pass != nil { // copies cannot happen inside a compute pass
		e.pass.End()
		e.pass = nil
	}
	if err := e.enc.CopyBufferToBuffer(src, 0, dst, 0, size); err != nil {
		e.fail(fmt.Errorf("shaders: copy: %w", err))
	}
}

func (e *Engine) encoder() *wgpu.CommandEncoder {
	if e.enc == nil {
		enc, err := e.dev.CreateCommandEncoder(nil)
		if err != nil {
			e.fail(fmt.Errorf("shaders: command encoder: %w", err))
			return nil
		}
		e.enc = enc
	}
	return e.enc
}

// Submit sends everything recorded since the last Submit as one command
// buffer and returns (and clears) the sticky error.
func (e *Engine) Submit() error {
	e.submit()
	return e.takeErr()
}

// DefaultSubmitFLOP is Engine.SubmitFLOP's default: 200 GFLOP, 0.2 s on a
// 1 TFLOP/s GPU, a tenth of the shortest common watchdog.
const DefaultSubmitFLOP = 200e9

func (e *Engine) submit() {
	e.pending = 0
	e.pendingFLOP = 0
	if e.enc != nil {
		if e.pass != nil {
			e.pass.End()
			e.pass = nil
		}
		cmd, err := e.enc.Finish(nil)
		e.enc = nil
		if err != nil {
			e.fail(fmt.Errorf("shaders: finishing commands: %w", err))
		} else if e.err == nil {
			e.uni.flush(e)
			e.plat.submit(e, cmd)
			e.Submits++
		}
		if cmd != nil {
			cmd.Release()
		}
		for _, g := range e.groups {
			g.Release()
		}
		e.groups = e.groups[:0]
		for _, b := range e.doomed {
			b.Destroy()
			b.Release()
		}
		e.doomed = e.doomed[:0]
		e.uni.reset()
	}
	if err := e.plat.lost(); err != nil {
		e.fail(err)
	}
}

func (e *Engine) takeErr() error {
	err := e.err
	e.err = nil
	return err
}

// Sync submits and waits until the GPU has finished all work.
func (e *Engine) Sync() error {
	if err := e.Submit(); err != nil {
		return err
	}
	_, err := e.ReadRaw(e.dummy)
	return err
}

// uniforms packs every dispatch's Params into a few 64 KiB uniform buffers
// written once per submit, instead of one buffer per dispatch.
type uniforms struct {
	bufs []*wgpu.Buffer
	data [][]byte // CPU copy of each buffer's used part
	n    int      // slots used in total
}

const uniChunk = 64 << 10

func (u *uniforms) alloc(e *Engine, p []byte) (*wgpu.Buffer, uint64) {
	align := int(e.Limits.UniformAlignment)
	per := uniChunk / align
	i, slot := u.n/per, u.n%per
	if i == len(u.bufs) {
		b, err := e.dev.CreateBuffer(&wgpu.BufferDescriptor{Label: "params", Size: uniChunk,
			Usage: wgpu.BufferUsageUniform | wgpu.BufferUsageCopyDst})
		if err != nil {
			e.fail(fmt.Errorf("shaders: params buffer: %w", err))
			return nil, 0
		}
		u.bufs = append(u.bufs, b)
		u.data = append(u.data, make([]byte, 0, uniChunk))
	}
	off := slot * align
	d := u.data[i][:off]
	d = append(d, p...)
	u.data[i] = d
	u.n++
	return u.bufs[i], uint64(off)
}

func (u *uniforms) flush(e *Engine) {
	for i, d := range u.data {
		if len(d) == 0 {
			continue
		}
		if r := len(d) % 4; r != 0 {
			d = append(d, make([]byte, 4-r)...)
		}
		if err := e.plat.writeBuffer(e, u.bufs[i], d); err != nil {
			e.fail(fmt.Errorf("shaders: writing params: %w", err))
		}
	}
}

func (u *uniforms) reset() {
	for i := range u.data {
		u.data[i] = u.data[i][:0]
	}
	u.n = 0
}

// CopyRegion records dst[dstOff : dstOff+n] ← src[srcOff : srcOff+n], in
// elements of 4 bytes (f32/i32/u32 tensors): assembling token sequences and
// looking up embedding rows need no kernel.
func (e *Engine) CopyRegion(dst *Tensor, dstOff int, src *Tensor, srcOff, n int) {
	if dst.DType.Size() != 4 || src.DType.Size() != 4 || dstOff+n > dst.Len() || srcOff+n > src.Len() || n <= 0 {
		panic(fmt.Sprintf("shaders: CopyRegion %v[%d:+%d] ← %v[%d:+%d]", dst, dstOff, n, src, srcOff, n))
	}
	if dst.buf == nil || src.buf == nil {
		return
	}
	e.encoder()
	if e.pass != nil {
		e.pass.End()
		e.pass = nil
	}
	if err := e.enc.CopyBufferToBuffer(src.buf, uint64(4*srcOff), dst.buf, uint64(4*dstOff), uint64(4*n)); err != nil {
		e.fail(fmt.Errorf("shaders: copy region: %w", err))
	}
}

// Dims is the tensor's shape (model.Tensor).
func (t *Tensor) Dims() []int { return t.Shape }

// ConcatRows records a new tensor holding parts one after another along
// their first dimension (same dtype and trailing dimensions): Linear weights
// [N_i, K] stacked into [ΣN_i, K], or their scales. Every part but the last
// must fill whole 4-byte words (buffer copies move words). The parts are left
// as they are; the result is not pooled (Release destroys it).
func (e *Engine) ConcatRows(parts ...*Tensor) *Tensor {
	if len(parts) == 0 {
		panic("shaders: ConcatRows: no parts")
	}
	p0 := parts[0]
	rows := 0
	for i, p := range parts {
		if p.DType != p0.DType || len(p.Shape) == 0 || len(p.Shape) != len(p0.Shape) ||
			fmt.Sprint(p.Shape[1:]) != fmt.Sprint(p0.Shape[1:]) || (i < len(parts)-1 && p.Bytes()%4 != 0) {
			panic(fmt.Sprintf("shaders: ConcatRows: part %d %v does not stack on %v (same dtype and trailing dims, whole words)", i, p, p0))
		}
		rows += p.Shape[0]
	}
	shape := append([]int{rows}, p0.Shape[1:]...)
	t := e.Empty(p0.DType, shape...)
	t.pool = false
	if t.buf == nil {
		return t // allocation failed; the sticky error says why
	}
	e.encoder()
	if e.pass != nil {
		e.pass.End()
		e.pass = nil
	}
	off := uint64(0)
	for _, p := range parts {
		n := padSize(p.Bytes())
		if p.Bytes()%4 == 0 {
			n = uint64(p.Bytes())
		}
		if p.buf == nil || n == 0 {
			e.fail(fmt.Errorf("shaders: ConcatRows: %v has no buffer", p))
			return t
		}
		if err := e.enc.CopyBufferToBuffer(p.buf, 0, t.buf, off, min(n, t.size-off)); err != nil {
			e.fail(fmt.Errorf("shaders: concat rows: %w", err))
		}
		off += n
	}
	return t
}
