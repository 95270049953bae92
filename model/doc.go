// Package model composes the engine's kernels into SVG's four networks and
// its sampler (Shi et al., "Latent Diffusion Model without Variational
// Autoencoder", arXiv 2510.15301; official code github.com/shiml20/SVG):
//
//	dinov3.go   the frozen DINOv3 ViT encoder (semantic channels)
//	resvit.go   the residual ViT encoder (colour and detail channels)
//	decoder.go  the LDM conv decoder (latent → pixels)
//	dit.go      the DiT denoiser on the 392-channel token latent
//	flow.go     the rectified-flow sampler (Euler, Heun, CFG schedules)
//
// Each network is written once against Backend, which the GPU engine
// (package shaders) and the pure-Go reference (shaders/ref) both implement:
// that gives whole-network parity tests, the CPU fallback in the browser, and
// per-op bisection. Weight structs mirror the PyTorch module names, so the
// official state-dict keys load without a rename table.
//
// Shape letters: B batch, T tokens, C channels, NH heads, HD head dim,
// H×W spatial, G groups. The DiT width is Hidden.
package model
