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
//
// Split (entries `stats` then `apply`), for groups of more than CHUNK =
// {{WG}}·E values: one workgroup per group is too few for a big GPU (32
// workgroups at the decoder's C=128, 256², on 132 SMs), so each group is cut
// into S = ⌈n/CHUNK⌉ chunks and each chunk gets a workgroup in both passes
// (B·G·S of them: 2048 there).
//   stats: the chunk's E values per thread stay in registers; a first mean
//          m0, then d = Σ(x − m0)/n_c and M2 = Σ(x − m0)² − n_c·d² (the old
//          two-pass, exact to f32 rounding of small numbers), written as
//          part[bg·S + s] = (m0, d, M2). Binding 0 (y) receives the partials.
//   apply: every workgroup of a group merges the group's S partials (Chan et
//          al.'s parallel variance) around r = chunk 0's m0: c_i = (m0_i − r)
//          + d_i is chunk i's mean minus r (small: no cancellation), the
//          group's mean is r + dm with dm = Σ n_i·c_i / n, and
//          M2 = Σ M2_i + n_i·(c_i − dm)²; then y from ((x − r) − dm)·rstd
//          over its own chunk, as the one-workgroup kernel does.
// x is read twice and y written once: the least a two-pass norm can move.

struct Params {
    groups: u32, // B·G
    C: u32,
    HW: u32,
    G: u32,
    flags: u32,  // bit0 gamma, bit1 beta, bit2 swish, bit3 in place
    eps: f32,
    chunks: u32, // S: chunks per group (split entries)
}

@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read> part: array<vec4<f32>>;
@group(0) @binding(5) var<uniform> p: Params;

const WG: u32 = {{WG}}u;
const BLOCK: u32 = 32u;
const E: u32 = {{E}}u;
const CHUNK: u32 = WG * E;

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

// chunk locates workgroup (bg, s) of the split: its group's offset in x,
// first channel, group size n, and its chunk's start and length.
struct Chunk {
    off: u32,
    c0: u32,
    n: u32,
    start: u32,
    len: u32,
}

fn chunk_of(bg: u32, s: u32) -> Chunk {
    let cpg = p.C / p.G;
    var ch: Chunk;
    ch.c0 = (bg % p.G) * cpg;
    ch.off = (bg / p.G) * p.C * p.HW + ch.c0 * p.HW;
    ch.n = cpg * p.HW;
    ch.start = s * CHUNK;
    ch.len = min(CHUNK, ch.n - ch.start);
    return ch;
}

@compute @workgroup_size({{WG}})
fn stats(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) li: u32) {
    let flat = flat_wg(wid, nwg);
    if (flat >= p.groups * p.chunks) {
        return;
    }
    let ch = chunk_of(flat / p.chunks, flat % p.chunks);
    var v: array<f32, E>;
    var s = 0.0;
    for (var e = 0u; e < E; e++) {
        let k = li + e * WG;
        if (k < ch.len) {
            v[e] = x[ch.off + ch.start + k];
            s += v[e];
        }
    }
    let nf = f32(ch.len);
    let m0 = wg_sum(vec2<f32>(s, 0.0), li).x / nf;
    var d = vec2<f32>(0.0);
    for (var e = 0u; e < E; e++) {
        if (li + e * WG < ch.len) {
            let u = v[e] - m0;
            d += vec2<f32>(u, u * u);
        }
    }
    let r = wg_sum(d, li);
    if (li == 0u) {
        let dm = r.x / nf;
        y[4u * flat] = m0;
        y[4u * flat + 1u] = dm;
        y[4u * flat + 2u] = max(r.y - nf * dm * dm, 0.0);
        y[4u * flat + 3u] = 0.0;
    }
}

@compute @workgroup_size({{WG}})
fn apply(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) li: u32) {
    let flat = flat_wg(wid, nwg);
    if (flat >= p.groups * p.chunks) {
        return;
    }
    let bg = flat / p.chunks;
    let ch = chunk_of(bg, flat % p.chunks);
    let nf = f32(ch.n);
    let first = bg * p.chunks;
    let ref0 = part[first].x;
    var a = 0.0;
    for (var i = li; i < p.chunks; i += WG) {
        let q = part[first + i];
        a += f32(min(CHUNK, ch.n - i * CHUNK)) * ((q.x - ref0) + q.y);
    }
    let dm = wg_sum(vec2<f32>(a, 0.0), li).x / nf;
    var m2 = 0.0;
    for (var i = li; i < p.chunks; i += WG) {
        let q = part[first + i];
        let c = (q.x - ref0) + q.y - dm;
        m2 += q.z + f32(min(CHUNK, ch.n - i * CHUNK)) * c * c;
    }
    let rstd = 1.0 / sqrt(wg_sum(vec2<f32>(m2, 0.0), li).x / nf + p.eps);
    for (var e = 0u; e < E; e++) {
        let k = li + e * WG;
        if (k >= ch.len) {
            break;
        }
        let i = ch.start + k;
        let c = ch.c0 + i / p.HW;
        var v = (ld(ch.off + i) - ref0 - dm) * rstd;
        if ((p.flags & 1u) != 0u) {
            v *= gamma[c];
        }
        if ((p.flags & 2u) != 0u) {
            v += beta[c];
        }
        if ((p.flags & 4u) != 0u) {
            v = silu(v);
        }
        y[ch.off + i] = v;
    }
}
