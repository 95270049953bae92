package shaders

import (
	"embed"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"

	"github.com/cogentcore/webgpu/wgpu"
)

//go:embed *.wgsl
var wgslFS embed.FS

// Source returns a kernel's WGSL after substitution, prelude included. The
// holes are written {{NAME}}; every kernel has {{WG}}, its workgroup size.
func Source(file string, subst map[string]string) (string, error) {
	body, err := wgslFS.ReadFile(file + ".wgsl")
	if err != nil {
		return "", fmt.Errorf("shaders: no kernel %q", file)
	}
	pre, _ := wgslFS.ReadFile("common.wgsl")
	src := string(pre) + "\n" + string(body)
	for k, v := range subst {
		src = strings.ReplaceAll(src, "{{"+k+"}}", v)
	}
	if i := strings.Index(src, "{{"); i >= 0 {
		j := strings.Index(src[i:], "}}")
		if j < 0 {
			j = len(src) - i - 2
		}
		return "", fmt.Errorf("shaders: kernel %s: unfilled hole %s", file, src[i:i+j+2])
	}
	return src, nil
}

// kernel names one pipeline: a WGSL file, its entry point, the
// substitutions, and how many leading storage bindings are written (the rest
// are read-only). Bindings are outputs first, inputs after, then the uniform.
type kernel struct {
	file  string
	entry string
	outs  int
	ins   int
	subst map[string]string
	flop  float64 // the dispatch's work, for Engine.SubmitFLOP (0: negligible)
}

func (k kernel) key() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%s:%d:%d", k.file, k.entry, k.outs, k.ins)
	keys := make([]string, 0, len(k.subst))
	for s := range k.subst {
		keys = append(keys, s)
	}
	sort.Strings(keys)
	for _, s := range keys {
		fmt.Fprintf(&b, ":%s=%s", s, k.subst[s])
	}
	return b.String()
}

// name is the kernel's name in errors: file.entry (its pipeline key adds
// the substitutions, which errors do not need to be found in the source).
func (k kernel) name() string {
	n := k.file
	if k.entry != "main" {
		n += "." + k.entry
	}
	return n
}

type pipeline struct {
	pipe   *wgpu.ComputePipeline
	layout *wgpu.BindGroupLayout
	err    error // a kernel that failed to build fails every dispatch, not just the first
}

// pipeline compiles k once and caches it by key.
func (e *Engine) pipeline(k kernel) *pipeline {
	key := k.key()
	if p, ok := e.pipes[key]; ok {
		if p.err != nil {
			e.fail(p.err)
			return nil
		}
		return p
	}
	p, err := e.compile(k)
	if err != nil {
		err = fmt.Errorf("shaders: kernel %s: %w", k.name(), err)
		e.fail(err)
		e.pipes[key] = &pipeline{err: err} // do not recompile a broken kernel on every dispatch
		return nil
	}
	e.pipes[key] = p
	return p
}

func (e *Engine) compile(k kernel) (*pipeline, error) {
	src, err := Source(k.file, k.subst)
	if err != nil {
		return nil, err
	}
	n := k.outs + k.ins
	if uint32(n) > e.Limits.MaxStorageBufs {
		return nil, fmt.Errorf("needs %d storage buffers, device allows %d", n, e.Limits.MaxStorageBufs)
	}
	entries := make([]wgpu.BindGroupLayoutEntry, n+1)
	for i := range n {
		typ := wgpu.BufferBindingTypeReadOnlyStorage
		if i < k.outs {
			typ = wgpu.BufferBindingTypeStorage
		}
		entries[i] = wgpu.BindGroupLayoutEntry{Binding: uint32(i), Visibility: wgpu.ShaderStageCompute,
			Buffer: wgpu.BufferBindingLayout{Type: typ}}
	}
	entries[n] = wgpu.BindGroupLayoutEntry{Binding: uint32(n), Visibility: wgpu.ShaderStageCompute,
		Buffer: wgpu.BufferBindingLayout{Type: wgpu.BufferBindingTypeUniform}}

	var p pipeline
	err = e.plat.scope(e, func() error {
		mod, err := e.dev.CreateShaderModule(&wgpu.ShaderModuleDescriptor{Label: k.name(),
			WGSLDescriptor: &wgpu.ShaderModuleWGSLDescriptor{Code: src}})
		if err != nil {
			return err
		}
		defer mod.Release()
		p.layout, err = e.dev.CreateBindGroupLayout(&wgpu.BindGroupLayoutDescriptor{Label: k.name(), Entries: entries})
		if err != nil {
			return err
		}
		pl, err := e.dev.CreatePipelineLayout(&wgpu.PipelineLayoutDescriptor{Label: k.name(),
			BindGroupLayouts: []*wgpu.BindGroupLayout{p.layout}})
		if err != nil {
			return err
		}
		defer pl.Release() // the pipeline holds its own reference
		p.pipe, err = e.dev.CreateComputePipeline(&wgpu.ComputePipelineDescriptor{Layout: pl,
			Compute: wgpu.ProgrammableStageDescriptor{Module: mod, EntryPoint: k.entry}})
		return err
	})
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// params encodes a Params struct (fixed-size 4-byte fields only) the way
// WGSL lays out a uniform struct of scalars, padded to 16 bytes.
func params(p any) []byte {
	b, err := binary.Append(nil, binary.LittleEndian, p)
	if err != nil {
		panic(fmt.Sprintf("shaders: params %T: %v", p, err))
	}
	for len(b)%16 != 0 {
		b = append(b, 0)
	}
	return b
}

// grid1 folds n workgroups into a 2-D grid within the per-dimension limit;
// kernels recover the flat index with flat_wg.
func (e *Engine) grid1(n int) [3]uint32 {
	max := int(e.Limits.MaxWGPerDim)
	if n <= max {
		return [3]uint32{uint32(max1(n)), 1, 1}
	}
	y := (n + max - 1) / max
	x := (n + y - 1) / y
	return [3]uint32{uint32(x), uint32(y), 1}
}

func max1(n int) int {
	if n < 1 {
		return 1
	}
	return n
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// dispatch records one kernel run. bufs are the storage bindings in order
// (outputs first); a nil entry binds a dummy buffer (an absent optional input,
// flagged in the params).
func (e *Engine) dispatch(k kernel, grid [3]uint32, p any, bufs ...*Tensor) {
	if e.err != nil {
		return // a failed op makes everything after it meaningless
	}
	if len(bufs) != k.outs+k.ins {
		panic(fmt.Sprintf("shaders: kernel %s: %d bindings, want %d", k.name(), len(bufs), k.outs+k.ins))
	}
	for _, t := range bufs {
		if t != nil && t.size > e.Limits.MaxBinding {
			e.fail(fmt.Errorf("shaders: kernel %s: %v is %d bytes, over the device's %d-byte binding limit",
				k.name(), t, t.size, e.Limits.MaxBinding))
			return
		}
		if t != nil && t.buf == nil {
			e.fail(fmt.Errorf("shaders: kernel %s: %v has no buffer", k.name(), t))
			return
		}
	}
	for _, g := range grid {
		if g > e.Limits.MaxWGPerDim {
			e.fail(fmt.Errorf("shaders: kernel %s: grid %v over the device limit %d", k.name(), grid, e.Limits.MaxWGPerDim))
			return
		}
	}
	pl := e.pipeline(k)
	if pl == nil {
		return
	}
	pb := params(p)
	ubuf, uoff := e.uni.alloc(e, pb)
	if ubuf == nil {
		return
	}
	entries := make([]wgpu.BindGroupEntry, len(bufs)+1)
	for i, t := range bufs {
		if t == nil {
			t = e.dummy
		}
		entries[i] = wgpu.BindGroupEntry{Binding: uint32(i), Buffer: t.buf, Size: t.size}
	}
	entries[len(bufs)] = wgpu.BindGroupEntry{Binding: uint32(len(bufs)), Buffer: ubuf, Offset: uoff, Size: uint64(len(pb))}
	bg, err := e.dev.CreateBindGroup(&wgpu.BindGroupDescriptor{Layout: pl.layout, Entries: entries})
	if err != nil {
		e.fail(fmt.Errorf("shaders: kernel %s: bind group: %w", k.name(), err))
		return
	}
	if e.encoder() == nil {
		return
	}
	if e.pass == nil {
		e.pass = e.enc.BeginComputePass(nil)
	}
	e.pass.SetPipeline(pl.pipe)
	e.pass.SetBindGroup(0, bg, nil)
	e.pass.DispatchWorkgroups(grid[0], grid[1], grid[2])
	e.groups = append(e.groups, bg) // wgpu-native needs it alive until submit
	e.Dispatches++
	e.pendingFLOP += k.flop
	if e.pending++; e.SubmitEvery > 0 && e.pending >= e.SubmitEvery ||
		e.SubmitFLOP > 0 && e.pendingFLOP >= e.SubmitFLOP {
		e.submit()
	}
}

// CompileCheck compiles WGSL source under a name and reports errors; it is
// how tests and tools check that a shader error comes back as a Go error.
func (e *Engine) CompileCheck(name, src string) error {
	err := e.plat.scope(e, func() error {
		mod, err := e.dev.CreateShaderModule(&wgpu.ShaderModuleDescriptor{Label: name,
			WGSLDescriptor: &wgpu.ShaderModuleWGSLDescriptor{Code: src}})
		if err != nil {
			return err
		}
		mod.Release()
		return nil
	})
	if err != nil {
		return fmt.Errorf("shaders: kernel %s: %w", name, err)
	}
	return nil
}
