// Package shaders is novae's compute engine: a thin layer over WebGPU
// (github.com/cogentcore/webgpu) that runs the same WGSL kernels natively
// (wgpu-native through cgo) and in the browser (the JS backend under
// GOOS=js).
//
// The API is a few verbs that read as a sentence:
//
//	eng, _ := shaders.New(shaders.Options{})
//	x := eng.Upload(xs, B, T, C)       // host → GPU
//	y := eng.Empty(shaders.F32, B, T, N)
//	eng.MatMul(y, x, w, bias, shaders.ActGELUTanh)
//	out, err := eng.Read(y)           // submits what was recorded, then reads back
//
// Every op records a dispatch into the engine's current command encoder and
// never reads back; Submit sends everything recorded so far as one command
// buffer, so a whole denoising step is one submit. Errors are sticky, as in
// bufio.Writer: an op that cannot run (a pipeline that fails to compile, a
// binding over the device limit, a lost device) records the first error with
// the kernel's name, and Submit/Read return it.
//
// Every kernel is four files side by side: name.wgsl (the shader, embedded so
// native and wasm run the same bytes), name.go (the binding), ref/name.go
// (the pure-Go reference, also the CPU fallback) and name_test.go (GPU against
// ref on random data and odd shapes, with stated tolerances).
//
// Shape letters used throughout: B batch, T tokens, C channels, N output
// features, K reduction length, NH heads, HD head dim, H×W spatial, G groups.
//
// Bindings follow the Go argument order: outputs, then inputs, then weights;
// the uniform Params struct comes last and has a Go twin with the same field
// names and order.
package shaders
