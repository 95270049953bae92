// norm: LayerNorm over rows of C values, and the DiT's adaLN modulate.
//
// Entry `layernorm`, one workgroup of {{WG}} threads per row:
//   z = (x − mean) / sqrt(var + eps)   (biased variance, as PyTorch)
//   y = z·gamma[c] + beta[c]           (flags bits 0, 1; absent = no affine)
//   y = y·(1 + scale[b,c]) + shift[b,c] with b = row / rows_per_batch
//                                      (flag bit 2: fused adaLN modulate)
// Rows need not be contiguous: row r starts at
//   (r / heads)·row_stride + base + (r % heads)·C,
// which is r·C for a plain LayerNorm (heads 1, row_stride C, base 0) and head
// h of token t in the q or k part of a packed qkv [.., 3, NH, HD] for the
// DiT's per-head qk-norm (heads NH, row_stride 3·NH·HD, base which·NH·HD).
// Statistics are two-pass: a first mean m0, then Σd and Σd² of d = x − m0
// (Chan, Golub & LeVeque's corrected two-pass algorithm): var = Σd²/n −
// (Σd/n)² cannot cancel, and y uses (x − m0) − Σd/n, so neither the first
// mean's rounding error nor the rounding of the mean itself reaches y.
//
// Entry `modulate`, one thread per element: y = x·(1 + scale[b,c]) + shift[b,c].
//
// shift[b,c] = mods[b·mod_stride + shift_off + c], likewise scale: shift and
// scale are chunks of the one adaLN output [B, chunks·C], read in place.
// Flag bit 3 (in place): x is read through y's binding (the x binding is a
// dummy), since WebGPU forbids binding one buffer twice when one is writable.
//
// Holes: {{WG}} threads per workgroup (32–256, a power of two).

struct Params {
    rows: u32,           // rows of C values
    C: u32,              // row length
    heads: u32,          // rows per token: NH for qk-norm, 1 otherwise
    row_stride: u32,     // elements between tokens
    base: u32,           // offset of row 0
    flags: u32,          // bit0 gamma, bit1 beta, bit2 modulate, bit3 in place
    rows_per_batch: u32, // rows sharing one adaLN row
    mod_stride: u32,     // chunks·C
    shift_off: u32,      // shift chunk·C
    scale_off: u32,      // scale chunk·C
    eps: f32,
}

@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read> mods: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

const WG: u32 = {{WG}}u;

var<workgroup> red: array<vec2<f32>, WG>;

fn ld(i: u32) -> f32 {
    if ((p.flags & 8u) != 0u) {
        return y[i];
    }
    return x[i];
}

// wg_sum adds v over the workgroup; every thread gets the total.
fn wg_sum(v: vec2<f32>, li: u32) -> vec2<f32> {
    red[li] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (li < s) {
            red[li] += red[li + s];
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier(); // red is reused by the next call
    return r;
}

fn apply_mod(v: f32, row: u32, c: u32) -> f32 {
    let m = (row / p.rows_per_batch) * p.mod_stride + c;
    return v * (1.0 + mods[m + p.scale_off]) + mods[m + p.shift_off];
}

@compute @workgroup_size({{WG}})
fn layernorm(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) li: u32) {
    let row = flat_wg(wid, nwg);
    if (row >= p.rows) {
        return;
    }
    let off = (row / p.heads) * p.row_stride + p.base + (row % p.heads) * p.C;
    let n = f32(p.C);

    var s = 0.0;
    for (var c = li; c < p.C; c += WG) {
        s += ld(off + c);
    }
    let mean0 = wg_sum(vec2<f32>(s, 0.0), li).x / n;

    var d = vec2<f32>(0.0);
    for (var c = li; c < p.C; c += WG) {
        let v = ld(off + c) - mean0;
        d += vec2<f32>(v, v * v);
    }
    let r = wg_sum(d, li);
    let dm = r.x / n; // the first mean's error
    let rstd = 1.0 / sqrt(max(r.y / n - dm * dm, 0.0) + p.eps);

    for (var c = li; c < p.C; c += WG) {
        var v = (ld(off + c) - mean0 - dm) * rstd; // x − mean0 is exact near the mean
        if ((p.flags & 1u) != 0u) {
            v *= gamma[c];
        }
        if ((p.flags & 2u) != 0u) {
            v += beta[c];
        }
        if ((p.flags & 4u) != 0u) {
            v = apply_mod(v, row, c);
        }
        y[off + c] = v;
    }
}

@compute @workgroup_size({{WG}})
fn modulate(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) li: u32) {
    let i = flat_wg(wid, nwg) * WG + li;
    if (i >= p.rows * p.C) {
        return;
    }
    y[i] = apply_mod(ld(i), i / p.C, i % p.C);
}
