// timeembed: the DiT's sinusoidal timestep embedding, out [B, dim] =
// [cos(t·f_k) | sin(t·f_k)] (cos first), f_k = exp(−ln(maxPeriod)·k/half),
// k < half = dim/2, a zero last column when dim is odd; one thread per
// output element. SVG feeds the raw flow time t ∈ [0,1] (not ×1000).
//
// sin and cos are computed here, not with the builtins, whose WGSL/Vulkan
// accuracy is only 2⁻¹¹ absolute: Cody–Waite reduction by π/2 (a 3-part
// constant whose leading parts have enough trailing zero bits that q·part
// is exact for |q| < 2¹⁶), then Taylor polynomials on [−π/4, π/4] (error
// < 3e-8). That keeps the result within 1e-5 of float64 on every backend.

struct Params {
    n: u32,          // B·dim
    dim: u32,
    half: u32,
    neg_log_p: f32,  // −ln(maxPeriod)
}

@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> t: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

// sincos returns (sin a, cos a).
fn sincos(a: f32) -> vec2<f32> {
    let q = round(a * 0.63661977236758134); // 2/π
    var r = a - q * 1.5703125;
    r = r - q * 4.837512969970703125e-4;
    r = r - q * 7.549789954891882e-8;
    let r2 = r * r;
    let s = r + r * r2 * (-1.0 / 6.0 + r2 * (1.0 / 120.0 + r2 * (-1.0 / 5040.0 + r2 * (1.0 / 362880.0))));
    let c = 1.0 + r2 * (-0.5 + r2 * (1.0 / 24.0 + r2 * (-1.0 / 720.0 + r2 * (1.0 / 40320.0))));
    switch (u32(i32(q) & 3)) {
        case 1u: { return vec2<f32>(c, -s); }
        case 2u: { return vec2<f32>(-s, -c); }
        case 3u: { return vec2<f32>(-c, s); }
        default: { return vec2<f32>(s, c); }
    }
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = flat_wg(wid, nwg) * 256u + li;
    if (i >= p.n) {
        return;
    }
    let b = i / p.dim;
    let j = i % p.dim;
    if (j >= 2u * p.half) {
        out[i] = 0.0;
        return;
    }
    let k = j % p.half;
    let f = exp(p.neg_log_p * f32(k) / f32(p.half));
    let sc = sincos(t[b] * f);
    if (j < p.half) {
        out[i] = sc.y;
    } else {
        out[i] = sc.x;
    }
}
