// matmul_reg: the fast matmul family. Same contract as matmul.wgsl (the
// reference variant): Y[m,n] = epilogue( Σ_k X[m,k]·W[n,k] + b[n] ), W in
// PyTorch's [out,in] layout stored as f32, f16 pairs, int8 or int4, math in
// f32, the same epilogue (bias, activation, gate view, accumulate).
//
// Entry points (the ladder in matmul_reg.go names and picks them):
//   main           register-tiled. 16×16 threads compute a BM×BN tile of Y
//                  (BM = 64·GM, BN = 64·GN), each thread 4GM×4GN outputs:
//                  rows ty·4+i (+64), columns tx·4+j (+64), so a quarter warp
//                  reads 128 contiguous bytes of each workgroup tile (no bank
//                  conflicts) and its stores are contiguous. K steps by TK
//                  through two workgroup stages (double buffering: the global
//                  loads of step t+1 are in flight while step t computes; one
//                  barrier per step). Global loads are one vec4 (4 consecutive
//                  k of one row) per thread and tile, X as vec4<f32>, W as
//                  vec4 f32 words, f16 pairs (vec2<u32>) or int8/int4 words,
//                  dequantised on the way into workgroup memory.
//                  Split-K: grid z > 1 gives each z the K range
//                  [z·ksplit, (z+1)·ksplit) and (flags bit 5) writes raw sums to
//                  partials y[z,M,N]; splitk_reduce applies the epilogue.
//   smallm         few rows (M ≤ 16: the adaLN and t-embedder Linears at the
//                  batch size): bandwidth-bound, W is streamed once. A
//                  workgroup owns 32 output columns n for MAXM rows; 8 threads
//                  share each W row (one vec4 each, 128 contiguous bytes per
//                  row per load), X's chunk sits in workgroup memory, and the
//                  8 partial dot products are summed through workgroup memory.
//   splitk_reduce  y[m,n] = epilogue(Σ_z partial[z,m,n]) (partials bound as x).
//
// Build tags. Lines that start with a tag hole exist only in the builds that
// set the tag to "" (the host sets every other tag to "//", a comment):
//   {{XV}} X read as vec4 (K % 4 == 0)      {{XS}} X read as scalars
//   {{W32}} f32 W as vec4 words (K % 4 == 0) {{W16}} f16 W as vec2<u32> (K % 4 == 0)
//   {{WU}} W as u32 words (int8, int4, and f32/f16 when K % 4 != 0)
// Other holes: {{WKIND}} 0 f32, 1 f16, 2 int8, 3 int4; {{GROUP}}/{{GDIV}} as in
// matmul.wgsl; {{WVEC}} whether int8/int4 words can be unpacked four at a time
// (K % 4 == 0 and GROUP % 4 == 0); {{GM}} {{GN}} {{TK}} (main); {{MAXM}} {{MC}} (smallm).

struct Params {
    M: u32,
    N: u32,
    K: u32,
    flags: u32,          // bit0 bias, bits1-2 activation, bit3 gate, bit4 accumulate, bit5 partial sums
    rows_per_batch: u32,
    gate_off: u32,
    gate_stride: u32,
    ksplit: u32,         // K range per split (a multiple of TK); ≥ K when not split
    splits: u32,         // number of partial buffers (splitk_reduce)
}

@group(0) @binding(0) var<storage, read_write> y: array<f32>;
{{XV}}@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
{{XS}}@group(0) @binding(1) var<storage, read> x: array<f32>;
{{W32}}@group(0) @binding(2) var<storage, read> w: array<vec4<u32>>;
{{W16}}@group(0) @binding(2) var<storage, read> w: array<vec2<u32>>;
{{WU}}@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read> scales: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read> gate: array<f32>;
@group(0) @binding(6) var<uniform> p: Params;

const WKIND: u32 = {{WKIND}}u;
const GROUP: u32 = {{GROUP}}u;
const GDIV: u32 = {{GDIV}}u;
const WVEC: bool = {{WVEC}};

// ---------------------------------------------------------------- loads

// load_x4 returns X[m, k..k+3] (k % 4 == 0), zeros past M or K.
fn load_x4(m: u32, k: u32) -> vec4<f32> {
    if (m >= p.M || k >= p.K) {
        return vec4<f32>();
    }
{{XV}}    return x[(m * p.K + k) / 4u];
{{XS}}    let e = m * p.K + k;
{{XS}}    var v = vec4<f32>();
{{XS}}    for (var j = 0u; j < 4u; j++) {
{{XS}}        if (k + j < p.K) {
{{XS}}            v[j] = x[e + j];
{{XS}}        }
{{XS}}    }
{{XS}}    return v;
}

fn scale(n: u32, k: u32) -> f32 {
    if (GROUP == 0u) {
        return scales[n];
    }
    return scales[n * (p.K / GDIV) + k / GDIV];
}

// load_w1 returns W[n,k] as f32 from u32 words (the scalar path, any K).
{{WU}}fn load_w1(n: u32, k: u32) -> f32 {
{{WU}}    if (k >= p.K) {
{{WU}}        return 0.0;
{{WU}}    }
{{WU}}    let e = n * p.K + k;
{{WU}}    if (WKIND == 0u) {
{{WU}}        return bitcast<f32>(w[e]);
{{WU}}    } else if (WKIND == 1u) {
{{WU}}        return unpack2x16float(w[e / 2u])[e % 2u];
{{WU}}    } else if (WKIND == 2u) {
{{WU}}        let b = (w[e / 4u] >> (8u * (e % 4u))) & 0xffu;
{{WU}}        return f32(bitcast<i32>(b << 24u) >> 24u) * scale(n, k);
{{WU}}    }
{{WU}}    let nib = (w[e / 8u] >> (4u * (e % 8u))) & 0xfu;
{{WU}}    return (f32(nib) - 8.0) * scale(n, k);
{{WU}}}

// load_w4 returns W[n, k..k+3] (k % 4 == 0) as f32, zeros past N or K.
fn load_w4(n: u32, k: u32) -> vec4<f32> {
    if (n >= p.N || k >= p.K) {
        return vec4<f32>();
    }
    let e = n * p.K + k;
{{W32}}    return bitcast<vec4<f32>>(w[e / 4u]);
{{W16}}    let h = w[e / 4u];
{{W16}}    return vec4<f32>(unpack2x16float(h.x), unpack2x16float(h.y));
{{WU}}    if (WVEC && WKIND == 2u) { // four bytes of one word, one scale
{{WU}}        let q = bitcast<vec4<i32>>(vec4<u32>(w[e / 4u]) << vec4<u32>(24u, 16u, 8u, 0u)) >> vec4<u32>(24u);
{{WU}}        return vec4<f32>(q) * scale(n, k);
{{WU}}    }
{{WU}}    if (WVEC && WKIND == 3u) { // four nibbles: half a word (low nibble first), stored as q+8
{{WU}}        let h = w[e / 8u] >> (4u * (e % 8u));
{{WU}}        let q = (vec4<u32>(h) >> vec4<u32>(0u, 4u, 8u, 12u)) & vec4<u32>(0xfu);
{{WU}}        return (vec4<f32>(q) - 8.0) * scale(n, k);
{{WU}}    }
{{WU}}    return vec4<f32>(load_w1(n, k), load_w1(n, k + 1u), load_w1(n, k + 2u), load_w1(n, k + 3u));
}

// finish applies the epilogue to one sum and stores it (matmul.wgsl's order:
// + bias, activation, × gate view, + Y).
fn finish(m: u32, n: u32, acc: f32) {
    var v = acc;
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

// ---------------------------------------------------------------- main: register-tiled

const GM: u32 = {{GM}}u;
const GN: u32 = {{GN}}u;
const TK: u32 = {{TK}}u;
const BM: u32 = 64u * GM;
const BN: u32 = 64u * GN;
const XCH: u32 = BM * TK / 4u; // vec4 chunks in one X tile
const WCH: u32 = BN * TK / 4u;
const LX: u32 = (XCH + 255u) / 256u; // chunks per thread
const LW: u32 = (WCH + 255u) / 256u;

// Stage s, k-row kk: xs[(s·TK + kk)·BM/4 + r/4][r%4] = X[m0 + r, k0 + kk].
const XS_LEN: u32 = 2u * TK * BM / 4u; // (naga wants a name, not an expression, as an array size)
const WS_LEN: u32 = 2u * TK * BN / 4u;
const ACC_LEN: u32 = 4u * GM * GN; // vec4 accumulators per thread
var<workgroup> xs: array<vec4<f32>, XS_LEN>;
var<workgroup> ws: array<vec4<f32>, WS_LEN>;

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let tx = li % 16u;
    let ty = li / 16u;
    let m0 = wid.y * BM;
    let n0 = wid.x * BN;
    let kbeg = wid.z * p.ksplit;
    let kend = min(p.K, kbeg + p.ksplit);
    let steps = (kend - kbeg + TK - 1u) / TK;

    var acc: array<vec4<f32>, ACC_LEN>;
    var xr: array<vec4<f32>, LX>;
    var wr: array<vec4<f32>, LW>;

    // Chunk c of a tile is row c % B, k-quad c / B: a warp reads one k-quad
    // of 32 consecutive rows and writes 32 consecutive words of one k-row.
    for (var i = 0u; i < LX; i++) {
        let c = li + i * 256u;
        if (c < XCH) {
            xr[i] = load_x4(m0 + c % BM, kbeg + (c / BM) * 4u);
        }
    }
    for (var i = 0u; i < LW; i++) {
        let c = li + i * 256u;
        if (c < WCH) {
            wr[i] = load_w4(n0 + c % BN, kbeg + (c / BN) * 4u);
        }
    }
    for (var t = 0u; t < steps; t++) {
        // Store step t (in registers) into stage t%2. One barrier per step
        // suffices: the other stage was last read before the previous
        // barrier.
        let s = t & 1u;
        for (var i = 0u; i < LX; i++) {
            let c = li + i * 256u;
            if (c < XCH) {
                let r = c % BM;
                let base = (s * TK + (c / BM) * 4u) * (BM / 4u) + r / 4u;
                for (var j = 0u; j < 4u; j++) {
                    xs[base + j * (BM / 4u)][r % 4u] = xr[i][j];
                }
            }
        }
        for (var i = 0u; i < LW; i++) {
            let c = li + i * 256u;
            if (c < WCH) {
                let r = c % BN;
                let base = (s * TK + (c / BN) * 4u) * (BN / 4u) + r / 4u;
                for (var j = 0u; j < 4u; j++) {
                    ws[base + j * (BN / 4u)][r % 4u] = wr[i][j];
                }
            }
        }
        workgroupBarrier();
        // Prefetch step t+1 into registers: the loads are in flight while
        // step t is multiplied.
        if (t + 1u < steps) {
            let k0 = kbeg + (t + 1u) * TK;
            for (var i = 0u; i < LX; i++) {
                let c = li + i * 256u;
                if (c < XCH) {
                    xr[i] = load_x4(m0 + c % BM, k0 + (c / BM) * 4u);
                }
            }
            for (var i = 0u; i < LW; i++) {
                let c = li + i * 256u;
                if (c < WCH) {
                    wr[i] = load_w4(n0 + c % BN, k0 + (c / BN) * 4u);
                }
            }
        }
        for (var kk = 0u; kk < TK; kk++) {
            let xa = (s * TK + kk) * (BM / 4u) + ty;
            let wa = (s * TK + kk) * (BN / 4u) + tx;
            var a: array<vec4<f32>, GM>;
            var b: array<vec4<f32>, GN>;
            for (var g = 0u; g < GM; g++) {
                a[g] = xs[xa + g * 16u];
            }
            for (var g = 0u; g < GN; g++) {
                b[g] = ws[wa + g * 16u];
            }
            for (var g = 0u; g < GM; g++) {
                for (var i = 0u; i < 4u; i++) {
                    let av = vec4<f32>(a[g][i]);
                    for (var h = 0u; h < GN; h++) {
                        let q = (g * 4u + i) * GN + h;
                        acc[q] = fma(av, b[h], acc[q]);
                    }
                }
            }
        }
    }

    let partial = (p.flags & 32u) != 0u;
    for (var g = 0u; g < GM; g++) {
        for (var i = 0u; i < 4u; i++) {
            let m = m0 + g * 64u + ty * 4u + i;
            if (m >= p.M) {
                continue;
            }
            for (var h = 0u; h < GN; h++) {
                let v = acc[(g * 4u + i) * GN + h];
                for (var j = 0u; j < 4u; j++) {
                    let n = n0 + h * 64u + tx * 4u + j;
                    if (n >= p.N) {
                        continue;
                    }
                    if (partial) {
                        y[(wid.z * p.M + m) * p.N + n] = v[j];
                    } else {
                        finish(m, n, v[j]);
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------- smallm: few rows, W streamed once

const MAXM: u32 = {{MAXM}}u; // rows per workgroup (grid y covers more)
const MC: u32 = {{MC}}u; // rows reduced per round: min(MAXM, 4) (naga has no const min)
const TPN: u32 = 8u;  // threads per output column
const NPW: u32 = 32u; // output columns per workgroup
const UK: u32 = 4u;   // vec4 loads per thread per chunk
const KCH: u32 = TPN * 4u * UK; // k per chunk: 128

const SX_LEN: u32 = MAXM * KCH / 4u;
const RED_LEN: u32 = MC * 256u;
var<workgroup> sx: array<vec4<f32>, SX_LEN>; // X[mb + r, k0 + 4q..] at r·KCH/4 + q
var<workgroup> red: array<f32, RED_LEN>;

@compute @workgroup_size(256)
fn smallm(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let lane = li % TPN;
    let n = wid.x * NPW + li / TPN;
    let mb = wid.y * MAXM;
    var acc: array<f32, MAXM>;
    for (var k0 = 0u; k0 < p.K; k0 += KCH) {
        for (var c = li; c < MAXM * KCH / 4u; c += 256u) {
            sx[c] = load_x4(mb + c / (KCH / 4u), k0 + (c % (KCH / 4u)) * 4u);
        }
        workgroupBarrier();
        var wv: array<vec4<f32>, UK>;
        for (var u = 0u; u < UK; u++) {
            wv[u] = load_w4(n, k0 + (u * TPN + lane) * 4u);
        }
        for (var u = 0u; u < UK; u++) {
            let q = u * TPN + lane;
            for (var r = 0u; r < MAXM; r++) {
                acc[r] += dot(sx[r * (KCH / 4u) + q], wv[u]);
            }
        }
        workgroupBarrier();
    }
    for (var r0 = 0u; r0 < MAXM; r0 += MC) {
        for (var r = 0u; r < MC; r++) {
            red[r * 256u + li] = acc[r0 + r];
        }
        workgroupBarrier();
        for (var step = TPN / 2u; step > 0u; step /= 2u) {
            if (lane < step) {
                for (var r = 0u; r < MC; r++) {
                    red[r * 256u + li] += red[r * 256u + li + step];
                }
            }
            workgroupBarrier();
        }
        if (lane == 0u && n < p.N) {
            for (var r = 0u; r < MC; r++) {
                let m = mb + r0 + r;
                if (m < p.M) {
                    finish(m, n, red[r * 256u + li]);
                }
            }
        }
        workgroupBarrier();
    }
}

// ---------------------------------------------------------------- splitk_reduce

@compute @workgroup_size(256)
fn splitk_reduce(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) li: u32) {
    let o = flat_wg(wid, nwg) * 256u + li;
    if (o >= p.M * p.N) {
        return;
    }
    var v = 0.0;
{{XS}}    for (var z = 0u; z < p.splits; z++) {
{{XS}}        v += x[z * p.M * p.N + o];
{{XS}}    }
    finish(o / p.N, o % p.N, v);
}
