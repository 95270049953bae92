package main

// img2img starts the sampler part-way (model.SampleOptions.From) from an
// encoded picture noised to the start time t0.

import (
	"encoding/json"
	"math"

	"novae/shaders/ref"
)

// NoisedStart is img2img's starting latent at flow time t0:
// z = (1−t0)·ε + t0·x, the point of the straight path from the noise ε to
// the picture's latent x that the sampler would pass at t0.
func NoisedStart(x, eps []float32, t0 float64) []float32 {
	z := make([]float32, len(x))
	for i := range z {
		z[i] = float32((1-t0)*float64(eps[i]) + t0*float64(x[i]))
	}
	return z
}

// refFromRGBA8 turns S×S RGBA pixels into the encoders' ImageNet-normalised
// [1,3,S,S] input.
func refFromRGBA8(x []float32, rgba []byte, S int) {
	ref.FromRGBA8(x, rgba, 1, S, S, ref.ImageNetMean, ref.ImageNetStd)
}

func sqrt(v float64) float64 { return math.Sqrt(v) }

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
func jsonMarshal(v any) ([]byte, error)      { return json.Marshal(v) }
