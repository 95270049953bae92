package model_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"novae/model"
	"novae/model/weights"
)

// manifestFor is a manifest of cfg listing every parameter in one shard:
// what NewGPUSource reads before anything is downloaded.
func manifestFor(t *testing.T, cfg model.Config) *weights.Manifest {
	t.Helper()
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := &weights.Manifest{Format: weights.ManifestFormat, Version: weights.ManifestVersion,
		Metadata: map[string]string{"config": string(js)},
		Shards:   []weights.ShardInfo{{File: "model-00001.safetensors", Bytes: 1, SHA256: strings.Repeat("0", 64)}}}
	for _, p := range model.Skeleton(cfg, true).Params() {
		if !p.Optional {
			m.Shards[0].Tensors = append(m.Shards[0].Tensors, p.Name)
		}
	}
	return m
}

// TestGPUSourceRefusesOverLimit: a model with a tensor larger than the
// device binds is refused from its manifest alone, before any buffer is made,
// with ErrTooLarge and the tensor's name and size; lowering the device's
// limits (as a small GPU has them) refuses the tensors over the new limit.
func TestGPUSourceRefusesOverLimit(t *testing.T) {
	e := gpu.E
	cfg := gpuSourceConfig()
	cfg.DiT.NumClasses = 10_000_000 // a class table of 10⁷ × 64 f32: 2.4 GiB
	cfg.Classes = nil
	_, _, err := model.NewGPUSource(e, manifestFor(t, cfg))
	if !errors.Is(err, model.ErrTooLarge) || !strings.Contains(err.Error(), "dit.y_embedder.embedding_table.weight: 2560000256 bytes") {
		t.Fatalf("a 2.4 GiB tensor: %v", err)
	}
	t.Log(err)

	saved := e.Limits
	defer func() { e.Limits = saved }()
	e.Limits.MaxBinding = 64 << 10 // 64 KiB: the decoder's widest convs and the adaLN weights are over
	_, _, err = model.NewGPUSource(e, manifestFor(t, gpuSourceConfig()))
	if !errors.Is(err, model.ErrTooLarge) || !strings.Contains(err.Error(), "decoder.up.0.block.0.conv2.weight: 147456 bytes, this GPU binds at most 65536") ||
		strings.Contains(err.Error(), "dit.blocks.0.mlp.fc1.weight") { // exactly 64 KiB: fits
		t.Fatalf("64 KiB binding limit: %v", err)
	}
	t.Log(err)
	if err := e.Err(); err != nil {
		t.Fatalf("refusing left an engine error: %v", err)
	}
}
