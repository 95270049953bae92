// groupnorm: PyTorch GroupNorm on NCHW x [B, C, H·W] with G groups, then an
// optional swish, as the LDM decoder's Normalize → nonlinearity:
//   z = (x − mean) / sqrt(var + eps) over the C/G·H·W values of group (b, g)
//   y = z·gamma[c] + beta[c]   (flags bits 0, 1; absent = no affine)
//   y = y·sigmoid(y)           (flag bit 2)
//
// One workgroup of {{WG}} threads per (b, g); a group is one contiguous range
// of n = C/G·H·W values (up to 128/32·256·256 = 262144 in SVG's decoder),
// read with a coalesced stride-{{WG}} loop. Statistics are two-pass as in
// norm.wgsl: a first mean m0, then Σd and Σd² of d = x − m0, var = Σd²/n −
// (Σd/n)², y from (x − m0) − Σd/n. Each thread sums its values in blocks of BLOCK
// before adding the block to its total, so the f32 rounding error grows
// with BLOCK + n/({{WG}}·BLOCK) instead of n/{{WG}}.
//
// Flag bit 3 (in place): x is read through y's binding (the x binding is a
// dummy), since WebGPU forbids binding one buffer twice when one is writable.

struct Params {
    groups: u32, // B·G workgroups
    C: u32,
    HW: u32,
    G: u32,
    flags: u32,  // bit0 gamma, bit1 beta, bit2 swish, bit3 in place
    eps: f32,
}

@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

const WG: u32 = {{WG}}u;
const BLOCK: u32 = 32u;

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

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let bg = flat_wg(wid, nwg);
    if (bg >= p.groups) {
        return;
    }
    let cpg = p.C / p.G;
    let c0 = (bg % p.G) * cpg;         // first channel of the group
    let off = (bg / p.G) * p.C * p.HW + c0 * p.HW;
    let n = cpg * p.HW;
    let nf = f32(n);

    var s = 0.0;
    var i = li;
    while (i < n) {
        var part = 0.0;
        for (var j = 0u; j < BLOCK && i < n; j++) {
            part += ld(off + i);
            i += WG;
        }
        s += part;
    }
    let mean0 = wg_sum(vec2<f32>(s, 0.0), li).x / nf;

    var d = vec2<f32>(0.0);
    i = li;
    while (i < n) {
        var part = vec2<f32>(0.0);
        for (var j = 0u; j < BLOCK && i < n; j++) {
            let v = ld(off + i) - mean0;
            part += vec2<f32>(v, v * v);
            i += WG;
        }
        d += part;
    }
    let r = wg_sum(d, li);
    let dm = r.x / nf; // the first mean's error
    let rstd = 1.0 / sqrt(max(r.y / nf - dm * dm, 0.0) + p.eps);

    for (var k = li; k < n; k += WG) {
        let c = c0 + k / p.HW;
        var v = (ld(off + k) - mean0 - dm) * rstd; // x − mean0 is exact near the mean
        if ((p.flags & 1u) != 0u) {
            v *= gamma[c];
        }
        if ((p.flags & 2u) != 0u) {
            v += beta[c];
        }
        if ((p.flags & 4u) != 0u) {
            v = silu(v);
        }
        y[off + k] = v;
    }
}
