package model

import "fmt"

// The kernels bind every tensor whole, and WebGPU guarantees only 128 MiB
// per binding. Weights are checked against that before download
// (NewGPUSource); activations grow with the batch, so they are checked here:
// the decoder runs in chunks that fit, and a batch whose DiT activations
// cannot fit is refused before sampling starts.

// BindingLimiter is a backend with a per-binding size limit (the GPU).
type BindingLimiter interface {
	BindingLimit() uint64
}

// BindingLimit is the largest tensor a kernel may bind on this device.
func (g *GPU) BindingLimit() uint64 { return g.E.Limits.MaxTensor() }

// ActivationBytes is the largest activation of the DiT per image: with
// CFG it runs two rows per image (cond and uncond), each T tokens of the
// widest of qkv (3·hidden), the MLP and the final layer.
func (c DiTConfig) ActivationBytes() uint64 {
	w := max(3*c.Hidden, c.mlp(), c.outChans(), c.InChannels)
	return 2 * uint64(c.tokens()) * uint64(w) * 4
}

// ActivationBytes is the decoder's largest activation per image: each
// level's feature map at the widest of the channels coming in (from the
// level below, after its upsample) and going out, or the latent itself.
func (c DecoderConfig) ActivationBytes() uint64 {
	L, r := len(c.ChMult), uint64(c.LatentRes())
	most := uint64(c.ZChannels) * r * r * 4 // the latent going in
	for i := range L {
		res := r << (L - 1 - i)
		ch := c.Ch * c.ChMult[i]
		if i+1 < L {
			ch = max(ch, c.Ch*c.ChMult[i+1])
		}
		most = max(most, uint64(ch)*res*res*4)
	}
	return most
}

// MaxBatch is the most images one sampling run can hold when no tensor may
// exceed limit bytes (the decoder is chunked and does not bound it); 0 when
// not even one fits.
func (c DiTConfig) MaxBatch(limit uint64) int {
	return int(limit / c.ActivationBytes())
}

// CheckBatch refuses a batch whose DiT activations b cannot bind, saying
// what fits; backends without a limit (pure Go) accept any batch. Sample
// calls it before any work.
func (c DiTConfig) CheckBatch(b Backend, batch int) error {
	l, ok := b.(BindingLimiter)
	if !ok {
		return nil
	}
	limit := l.BindingLimit()
	if n := c.MaxBatch(limit); batch > n {
		return fmt.Errorf("%d images at once need %d MiB per GPU buffer for the denoiser; this GPU binds at most %d MiB: at most %d images",
			batch, (uint64(batch)*c.ActivationBytes()+(1<<20)-1)>>20, limit>>20, n)
	}
	return nil
}

// decodeChunk is how many images Decode runs at once on b.
func (m *SVG) decodeChunk(b Backend, B int) int {
	l, ok := b.(BindingLimiter)
	if !ok {
		return B
	}
	return max(1, min(B, int(l.BindingLimit()/m.Cfg.Decoder.ActivationBytes())))
}
