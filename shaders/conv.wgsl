// conv: 2-D convolution on NCHW tensors with a PyTorch weight
// [Cout, Cin, KS, KS] and bias [Cout], as an implicit GEMM:
//
//     Y[co, q] = Σ_k W[co, k] · X̂[k, q],   k = (ci, ky, kx), q = (b, oy, ox),
//
// a [Cout × Cin·KS²] by [Cin·KS² × B·Ho·Wo] product where X̂ is the im2col
// matrix, never materialised: each K-step gathers its slice of X̂ straight
// from x into workgroup memory (zero in the padding). One kernel serves the
// 3×3 (pad 1), 1×1 and patch-embedding (kernel = stride = patch) convolutions.
//
// Tiling as in matmul: a workgroup of 256 threads computes a TCO×TP tile of
// Y (output channels × output pixels), each thread a 4×4 block (4 channels
// of 4 neighbouring pixels), stepping k by TK through workgroup memory, so
// each staged input value is used TCO times and each staged weight TP times
// (a 3×3 tap re-reads its input from cache, not from workgroup memory, for
// each of the 9 taps: the price of the im2col view). The gather decodes its
// pixel (b, oy, ox) once per thread and each k into (ci, ky, kx) by
// divisions by constants (KS, S, P are substituted), and consecutive threads
// load consecutive pixels, so the gather reads image rows coalesced.
// Tile shapes: 64×64 with TK 16 in general; 16×256 with TK 8 for Cout ≤ 16
// (conv_out 128→3 would otherwise waste 61/64 of the work). The grid is one
// workgroup per tile, channel tiles fastest, folded past 65535 (flat_wg):
// the decoder's 128→128 conv at 256² is 2048 tiles per image.
//
// Holes: {{KS}} kernel size, {{S}} stride, {{P}} padding, {{UP}} 2 to
// convolve the nearest-neighbour 2× upsampling of x without materialising it
// (the LDM Upsample block; H, W stay x's size and the convolution sees
// 2H×2W), else 1; {{TCO}}, {{TP}}, {{TK}} the tile shape; {{PF}} true for
// conv_prefetch: the next K step's loads are issued into registers before
// this step's products (matmul_reg's register stage, which took the plain
// 64×64 matmul from 9.3 to 18 TFLOP/s on an H100), false for the plain
// load-store-compute loop.
//
// Epilogue, in order: + bias[co] (flags bit0); + r[o] (bit1, a distinct
// tensor laid out as y) or + y[o] (bit2, accumulate: the thread reads its
// own output before writing it, so y is bound once); bit3 writes token-major
// y[b, oy·Wo + ox, co] instead of NCHW y[b, co, oy, ox] (patch embedding).
//
// Split-K (few output tiles, many input channels: the decoder's 512→512 at
// 16² is 32 tiles for 132 SMs): `splits` workgroups per tile each sum k in
// [s·ksplit, (s+1)·ksplit) and, with flags bit4, write their raw sums to
// y[s·n + o] (y is then a [splits, n] scratch, n = outputs); the entry
// `splitk_reduce` (one thread per output, x bound to the scratch) adds the
// splits in order and applies the epilogue above.

struct Params {
    B: u32,
    Cin: u32,
    H: u32,    // x's height and width (before the ×UP upsampling)
    W: u32,
    Cout: u32,
    Ho: u32,
    Wo: u32,
    flags: u32, // bit0 bias, bit1 residual r, bit2 accumulate, bit3 token-major output, bit4 raw split sums
    ksplit: u32, // k per split (K when not split)
    splits: u32,
}

@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> r: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

const KS: u32 = {{KS}}u;
const S: u32 = {{S}}u;
const PAD: u32 = {{P}}u;
const UP: u32 = {{UP}}u;
const TCO: u32 = {{TCO}}u;
const TP: u32 = {{TP}}u;
const TK: u32 = {{TK}}u;
const KK: u32 = KS * KS;
const GP: u32 = TP / 4u;              // threads along pixels
const XSTEP: u32 = 256u / TP;         // k rows one pass of the gather covers
const XPER: u32 = TK * TP / 256u;     // staged inputs per thread
const XSN: u32 = TK * TP;
const WSN: u32 = TK * TCO;
const WPER: u32 = (WSN + 255u) / 256u; // staged weights per thread (the last pass partial)
const PREFETCH: bool = {{PF}};

var<workgroup> xs: array<f32, XSN>; // [TK][TP]
var<workgroup> ws: array<f32, WSN>; // [TK][TCO]

// gather is im2col element x̂[k, q] for this thread's pixel (0 in the
// padding, past K or past the pixels).
fn gather(k: u32, K: u32, q_ok: bool, iy0: u32, ix0: u32, xb: u32, HW: u32, Hi: u32, Wi: u32) -> f32 {
    if (!q_ok || k >= K) {
        return 0.0;
    }
    let ci = k / KK;
    let kr = k % KK;
    let iy = iy0 + kr / KS;
    let ix = ix0 + kr % KS;
    if (iy < Hi && ix < Wi) {
        return x[xb + ci * HW + (iy / UP) * p.W + ix / UP];
    }
    return 0.0;
}

// wload is weight slot idx of the K step at k0: W[co0 + idx/TK, k0 + idx%TK]
// (0 past Cout, K or the slots); k fastest, so weight rows are read
// contiguously.
fn wload(co0: u32, k0: u32, idx: u32, K: u32, Kw: u32) -> f32 {
    let co = co0 + idx / TK;
    let k = k0 + idx % TK;
    if (idx >= WSN || co >= p.Cout || k >= K) {
        return 0.0;
    }
    return w[co * Kw + k];
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let HWo = p.Ho * p.Wo;
    let npix = p.B * HWo;
    let nco = (p.Cout + TCO - 1u) / TCO;
    let tiles = nco * ((npix + TP - 1u) / TP);
    let flat = flat_wg(wid, nwg);
    if (flat >= tiles * p.splits) {
        return; // padding of a folded grid (uniform per workgroup)
    }
    let wg = flat % tiles;
    let split = flat / tiles;
    let co0 = (wg % nco) * TCO;
    let q0 = (wg / nco) * TP;
    let kbeg = split * p.ksplit;
    let Kw = p.Cin * KK; // a weight row
    let K = min(Kw, kbeg + p.ksplit); // this split's end
    let HW = p.H * p.W;
    let Hi = p.H * UP; // the image the convolution sees
    let Wi = p.W * UP;

    // The gather: this thread stages pixel lq of the tile for k rows
    // lk, lk + XSTEP, … Top-left tap (iy0, ix0) may be "negative": u32
    // wrap-around makes it fail the bounds test below.
    let lq = li % TP;
    let lk = li / TP;
    let q = q0 + lq;
    let q_ok = q < npix;
    let qb = q / HWo;
    let qr = q % HWo;
    let iy0 = (qr / p.Wo) * S - PAD;
    let ix0 = (qr % p.Wo) * S - PAD;
    let xb = qb * p.Cin * HW;

    // The product: this thread owns channels tc·4.. and pixels tq·4..
    let tq = li % GP;
    let tc = li / GP;
    var acc: array<f32, 16>;
    // Each K step's inputs pass through registers: with PREFETCH the next
    // step's global loads are issued before this step's products, so their
    // latency hides behind the arithmetic (matmul_reg's register stage).
    var xr: array<f32, XPER>;
    var wr: array<f32, WPER>;
    if (PREFETCH) {
        for (var i = 0u; i < XPER; i++) {
            xr[i] = gather(kbeg + lk + i * XSTEP, K, q_ok, iy0, ix0, xb, HW, Hi, Wi);
        }
        for (var i = 0u; i < WPER; i++) {
            wr[i] = wload(co0, kbeg, li + 256u * i, K, Kw);
        }
    }
    for (var k0 = kbeg; k0 < K; k0 += TK) {
        if (!PREFETCH) {
            for (var i = 0u; i < XPER; i++) {
                xr[i] = gather(k0 + lk + i * XSTEP, K, q_ok, iy0, ix0, xb, HW, Hi, Wi);
            }
            for (var i = 0u; i < WPER; i++) {
                wr[i] = wload(co0, k0, li + 256u * i, K, Kw);
            }
        }
        for (var i = 0u; i < XPER; i++) {
            xs[(lk + i * XSTEP) * TP + lq] = xr[i];
        }
        for (var i = 0u; i < WPER; i++) {
            let idx = li + 256u * i;
            if (idx < TK * TCO) {
                ws[(idx % TK) * TCO + idx / TK] = wr[i];
            }
        }
        workgroupBarrier();
        if (PREFETCH && k0 + TK < K) {
            for (var i = 0u; i < XPER; i++) {
                xr[i] = gather(k0 + TK + lk + i * XSTEP, K, q_ok, iy0, ix0, xb, HW, Hi, Wi);
            }
            for (var i = 0u; i < WPER; i++) {
                wr[i] = wload(co0, k0 + TK, li + 256u * i, K, Kw);
            }
        }
        for (var c = 0u; c < TK; c++) {
            var a: array<f32, 4>;
            var b: array<f32, 4>;
            for (var i = 0u; i < 4u; i++) {
                a[i] = ws[c * TCO + tc * 4u + i];
                b[i] = xs[c * TP + tq * 4u + i];
            }
            for (var i = 0u; i < 4u; i++) {
                for (var j = 0u; j < 4u; j++) {
                    acc[i * 4u + j] = fma(a[i], b[j], acc[i * 4u + j]);
                }
            }
        }
        workgroupBarrier();
    }

    for (var j = 0u; j < 4u; j++) {
        let qj = q0 + tq * 4u + j;
        if (qj >= npix) {
            continue;
        }
        let bj = qj / HWo;
        let rj = qj % HWo;
        for (var i = 0u; i < 4u; i++) {
            let co = co0 + tc * 4u + i;
            if (co >= p.Cout) {
                continue;
            }
            var o = (bj * p.Cout + co) * HWo + rj;
            if ((p.flags & 8u) != 0u) {
                o = qj * p.Cout + co;
            }
            var v = acc[i * 4u + j];
            if ((p.flags & 16u) != 0u) {
                y[split * npix * p.Cout + o] = v;
                continue;
            }
            if ((p.flags & 1u) != 0u) {
                v += bias[co];
            }
            if ((p.flags & 2u) != 0u) {
                v += r[o];
            }
            if ((p.flags & 4u) != 0u) {
                v += y[o];
            }
            y[o] = v;
        }
    }
}

@compute @workgroup_size(256)
fn splitk_reduce(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) li: u32) {
    let HWo = p.Ho * p.Wo;
    let n = p.B * HWo * p.Cout;
    let o = flat_wg(wid, nwg) * 256u + li;
    if (o >= n) {
        return;
    }
    var v = 0.0;
    for (var s = 0u; s < p.splits; s++) {
        v += x[s * n + o];
    }
    var co = (o / HWo) % p.Cout;
    if ((p.flags & 8u) != 0u) {
        co = o % p.Cout;
    }
    if ((p.flags & 1u) != 0u) {
        v += bias[co];
    }
    if ((p.flags & 2u) != 0u) {
        v += r[o];
    }
    if ((p.flags & 4u) != 0u) {
        v += y[o];
    }
    y[o] = v;
}
