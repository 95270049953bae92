// matmul: Y[m,n] = epilogue( Σ_k X[m,k]·W[n,k] + b[n] ), W in PyTorch's
// [out,in] layout, stored as f32, f16 pairs, int8 or int4 (dequantized while
// staging into workgroup memory; math is f32).
//
// Tiling: a workgroup of 16×16 threads computes a 64×64 tile of Y, each
// thread a 4×4 block, stepping K by 16 through workgroup memory. Odd sizes are
// handled by bounds checks on load and store.
//
// Holes: {{WKIND}} 0 f32, 1 f16, 2 int8, 3 int4; {{GROUP}} scale group along
// K (0 = one scale per output row).
//
// Epilogue, in order: + bias[n]; activation (flags bits 1–2: 1 GELU-tanh,
// 2 GELU-erf, 3 SiLU); × gate[m / rows_per_batch, n] (a strided view); + Y[m,n] if
// accumulating (Y is read and written by the same thread, so in-place
// residual adds need no second binding of the same buffer).

struct Params {
    M: u32,
    N: u32,
    K: u32,
    flags: u32,          // bit0 bias, bits1-2 activation, bit3 gate, bit4 accumulate
    rows_per_batch: u32, // rows of X sharing one gate row
    gate_off: u32,       // gate[b,n] = gate[gate_off + b·gate_stride + n]: the DiT's
    gate_stride: u32,    // gates are chunks of one [B,6H] adaLN tensor
}

@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read> scales: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read> gate: array<f32>;
@group(0) @binding(6) var<uniform> p: Params;

const WKIND: u32 = {{WKIND}}u;
const GROUP: u32 = {{GROUP}}u;
const GDIV: u32 = {{GDIV}}u; // max(GROUP,1): Tint rejects a constant division by zero even in a dead branch
const TM: u32 = 64u;
const TN: u32 = 64u;
const TK: u32 = 16u;

var<workgroup> xs: array<f32, 1024>; // [TK][TM]
var<workgroup> ws: array<f32, 1024>; // [TK][TN]

fn scale(n: u32, k: u32) -> f32 {
    if (GROUP == 0u) {
        return scales[n];
    }
    return scales[n * (p.K / GDIV) + k / GDIV];
}

// load_w returns W[n,k] as f32 whatever the storage.
fn load_w(n: u32, k: u32) -> f32 {
    let e = n * p.K + k;
    if (WKIND == 0u) {
        return bitcast<f32>(w[e]);
    } else if (WKIND == 1u) {
        return unpack2x16float(w[e / 2u])[e % 2u];
    } else if (WKIND == 2u) {
        let b = (w[e / 4u] >> (8u * (e % 4u))) & 0xffu;
        let q = bitcast<i32>(b << 24u) >> 24u; // sign-extend the byte
        return f32(q) * scale(n, k);
    }
    // int4: column 2j is the low nibble of byte j, stored as q+8.
    let nib = (w[e / 8u] >> (4u * (e % 8u))) & 0xfu;
    return (f32(nib) - 8.0) * scale(n, k);
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let m0 = wid.y * TM;
    let n0 = wid.x * TN;
    var acc: array<f32, 16>;
    for (var k0 = 0u; k0 < p.K; k0 += TK) {
        // 256 threads stage 1024 values of each tile: 4 each.
        for (var i = 0u; i < 4u; i++) {
            let idx = li + i * 256u;
            let r = idx / TK; // row within the tile
            let c = idx % TK; // k within the tile
            let m = m0 + r;
            let k = k0 + c;
            var xv = 0.0;
            if (m < p.M && k < p.K) {
                xv = x[m * p.K + k];
            }
            xs[c * TM + r] = xv;
            let n = n0 + r;
            var wv = 0.0;
            if (n < p.N && k < p.K) {
                wv = load_w(n, k);
            }
            ws[c * TN + r] = wv;
        }
        workgroupBarrier();
        for (var c = 0u; c < TK; c++) {
            var a: array<f32, 4>;
            var b: array<f32, 4>;
            for (var i = 0u; i < 4u; i++) {
                a[i] = xs[c * TM + lid.y * 4u + i];
                b[i] = ws[c * TN + lid.x * 4u + i];
            }
            for (var i = 0u; i < 4u; i++) {
                for (var j = 0u; j < 4u; j++) {
                    acc[i * 4u + j] = fma(a[i], b[j], acc[i * 4u + j]);
                }
            }
        }
        workgroupBarrier();
    }
    for (var i = 0u; i < 4u; i++) {
        let m = m0 + lid.y * 4u + i;
        if (m >= p.M) {
            continue;
        }
        for (var j = 0u; j < 4u; j++) {
            let n = n0 + lid.x * 4u + j;
            if (n >= p.N) {
                continue;
            }
            var v = acc[i * 4u + j];
            if ((p.flags & 1u) != 0u) {
                v += bias[n];
            }
            switch ((p.flags >> 1u) & 3u) {
                case 1u: { v = gelu_tanh(v); }
                case 2u: { v = gelu_erf(v); }
                case 3u: { v = silu(v); }
                default: {}
            }
            if ((p.flags & 8u) != 0u) {
                v *= gate[p.gate_off + (m / p.rows_per_batch) * p.gate_stride + n];
            }
            let o = m * p.N + n;
            if ((p.flags & 16u) != 0u) {
                v += y[o];
            }
            y[o] = v;
        }
    }
}
