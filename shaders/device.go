package shaders

import "os"

// Options choose the device. The zero value picks the best adapter.
type Options struct {
	// Backend forces a native backend: "vulkan", "gl", "metal", "dx12".
	// Empty means $NOVAE_BACKEND, else any.
	Backend string
	// Adapter picks an adapter whose description contains this text; "cpu"
	// forces a CPU (fallback) adapter. Empty means $NOVAE_ADAPTER, else the
	// best one: discrete, then integrated, then CPU.
	Adapter string
}

func (o Options) withEnv() Options {
	if o.Backend == "" {
		o.Backend = os.Getenv("NOVAE_BACKEND")
	}
	if o.Adapter == "" {
		o.Adapter = os.Getenv("NOVAE_ADAPTER")
	}
	return o
}

func min64(a, b uint64) uint64 {
	if a < b {
		return a
	}
	return b
}

func min32(a, b uint32) uint32 {
	if a < b {
		return a
	}
	return b
}
