// Package smoke holds a GOOS=js test that proves the browser test harness end
// to end: WebGPU in headless Chromium, driven through cogentcore/webgpu. Run it
// with tools/browsertest (see its TestSmoke); natively it has no tests.
package smoke
