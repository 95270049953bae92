// Package ref holds the pure-Go reference of every novae kernel: the same
// arguments as the engine's op, on []float32, written as plain loops. It is
// both the oracle the GPU kernels are tested against and the CPU fallback
// where WebGPU is missing.
//
// Layouts are PyTorch's: row-major, Linear weights [out,in], images
// [C,H,W] per batch item, tokens [T,C].
package ref
