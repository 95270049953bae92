// Prelude prepended to every kernel (WGSL has no #include).

// Workgroup grids over 65535 are folded into 2-D by the host (Engine.grid1);
// flat_wg undoes the folding.
fn flat_wg(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.x + wid.y * nwg.x + wid.z * nwg.x * nwg.y;
}

fn gelu_tanh(x: f32) -> f32 {
    // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), with tanh written out so
    // large |x| cannot overflow exp.
    let u = 0.7978845608028654 * (x + 0.044715 * x * x * x);
    let e = exp(-2.0 * abs(u));
    let t = sign(u) * (1.0 - e) / (1.0 + e);
    return 0.5 * x * (1.0 + t);
}

// erf by Abramowitz–Stegun 7.1.26 is only 1.5e-7 absolute: good enough for
// f32 GELU. WGSL has no erf builtin.
fn erf_f32(x: f32) -> f32 {
    let s = sign(x);
    let a = abs(x);
    let t = 1.0 / (1.0 + 0.3275911 * a);
    let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-a * a);
    return s * y;
}

fn gelu_erf(x: f32) -> f32 {
    return 0.5 * x * (1.0 + erf_f32(x * 0.7071067811865476));
}

fn silu(x: f32) -> f32 {
    return x / (1.0 + exp(-x));
}
