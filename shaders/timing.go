//go:build !js

package shaders

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cogentcore/webgpu/wgpu"
)

// ErrNoTimestamps is TimeGPU's error on a device without the
// timestamp-query feature (browsers without it, or a device requested
// without it): time with the wall clock after Sync instead.
var ErrNoTimestamps = errors.New("shaders: device has no timestamp-query")

// timer is TimeGPU's query set (two timestamps) and resolve buffer.
type timer struct {
	qs  *wgpu.QuerySet
	res *Tensor // 16 bytes: begin, end (u64 ticks)
}

// timers holds each engine's timer (kept beside Engine, not in it).
var timers struct {
	sync.Mutex
	m map[*Engine]*timer
}

// HasTimestamps reports whether TimeGPU can work on this device.
func (e *Engine) HasTimestamps() bool {
	return e.dev != nil && e.dev.HasFeature(wgpu.FeatureNameTimestampQuery)
}

// TimeGPU submits what was recorded before, then records f's work between a
// begin and an end timestamp, submits it, waits, and returns the GPU time
// between the two. f should only record: where f's work is submitted in
// pieces (SubmitEvery > 0, the default on CPU adapters, or an op that
// submits), the span also covers the CPU gaps between the pieces. The first
// sticky error, f's included, is returned and cleared, as by Submit.
//
// Natively the resolved values are the backend's ticks, taken as
// nanoseconds: wgpu-native v0.23 has no timestamp period getter, and the
// period is 1 ns on NVIDIA and Mesa (lavapipe, RADV), not on every GPU.
func (e *Engine) TimeGPU(f func()) (time.Duration, error) {
	if !e.HasTimestamps() {
		return 0, ErrNoTimestamps
	}
	if err := e.Submit(); err != nil {
		return 0, err
	}
	timers.Lock()
	defer timers.Unlock()
	t := timers.m[e]
	if t == nil {
		qs, err := e.dev.CreateQuerySet(&wgpu.QuerySetDescriptor{Label: "timegpu", Type: wgpu.QueryTypeTimestamp, Count: 2})
		if err != nil {
			return 0, fmt.Errorf("shaders: timestamp query set: %w", err)
		}
		buf, err := e.dev.CreateBuffer(&wgpu.BufferDescriptor{Label: "timegpu", Size: 16,
			Usage: wgpu.BufferUsageQueryResolve | wgpu.BufferUsageCopySrc})
		if err != nil {
			qs.Release()
			return 0, fmt.Errorf("shaders: timestamp buffer: %w", err)
		}
		t = &timer{qs: qs, res: &Tensor{Name: "timestamps", Shape: []int{4}, DType: U32, buf: buf, size: 16, e: e}}
		if timers.m == nil {
			timers.m = map[*Engine]*timer{}
		}
		timers.m[e] = t
	}
	e.stamp(t, 0)
	f()
	e.stamp(t, 1)
	if e.err == nil {
		if err := e.enc.ResolveQuerySet(t.qs, 0, 2, t.res.buf, 0); err != nil {
			e.fail(fmt.Errorf("shaders: resolving timestamps: %w", err))
		}
	}
	b, err := e.ReadRaw(t.res) // submits and waits
	if err != nil {
		return 0, err
	}
	begin, end := binary.LittleEndian.Uint64(b[0:]), binary.LittleEndian.Uint64(b[8:])
	if end < begin {
		return 0, fmt.Errorf("shaders: timestamps out of order (%d, %d)", begin, end)
	}
	return time.Duration(end - begin), nil
}

// stamp ends any open compute pass and records timestamp i on the encoder.
func (e *Engine) stamp(t *timer, i uint32) {
	if e.err != nil || e.encoder() == nil {
		return
	}
	if e.pass != nil {
		e.pass.End()
		e.pass = nil
	}
	if err := e.enc.WriteTimestamp(t.qs, i); err != nil {
		e.fail(fmt.Errorf("shaders: writing timestamp: %w", err))
	}
}
