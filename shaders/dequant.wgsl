// dequant: W as f32 [N,K] from its stored form (f16 pairs, int8 or int4 with
// scales), for weights that kernels other than matmul read as f32 (conv
// weights stored quantized to keep the shipped models small). Same storage
// rules as matmul's load_w (model/weights/doc.go).
//
// Holes: {{WKIND}} 1 f16, 2 int8, 3 int4; {{GROUP}} scale group along K
// (0 = per row); {{GDIV}} = max(GROUP, 1).

struct Params {
    N: u32,
    K: u32,
}

@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> scales: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

const WKIND: u32 = {{WKIND}}u;
const GROUP: u32 = {{GROUP}}u;
const GDIV: u32 = {{GDIV}}u;

fn scale(n: u32, k: u32) -> f32 {
    if (GROUP == 0u) {
        return scales[n];
    }
    return scales[n * (p.K / GDIV) + k / GDIV];
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let e = flat_wg(wid, nwg) * 256u + li;
    if (e >= p.N * p.K) {
        return;
    }
    let n = e / p.K;
    let k = e % p.K;
    if (WKIND == 1u) {
        y[e] = unpack2x16float(w[e / 2u])[e % 2u];
    } else if (WKIND == 2u) {
        let b = (w[e / 4u] >> (8u * (e % 4u))) & 0xffu;
        y[e] = f32(bitcast<i32>(b << 24u) >> 24u) * scale(n, k);
    } else {
        let nib = (w[e / 8u] >> (4u * (e % 8u))) & 0xfu;
        y[e] = (f32(nib) - 8.0) * scale(n, k);
    }
}
