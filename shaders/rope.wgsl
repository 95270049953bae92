// rope: DINOv3's 2-D rotary position embedding, in place on the q and k parts
// of a packed qkv [B,T,3·NH·HD] (PyTorch reshape(B,T,3,NH,HD)), for the patch
// tokens prefix…T−1 only (cls and register tokens, and all of v, untouched).
//
// rope(x) = x·cos + rotate_half(x)·sin, rotate_half([a,b]) = [−b,a] over the
// halves of HD, angles tiled twice: so each pair (x[i], x[i+HD/2]) turns by
// angle i, and one thread owns one pair (it reads and writes only its own two
// values, which is what makes in place safe with a single binding).
//
// The angles come as a table [T−prefix, HD/2] of (cos, sin) pairs computed on
// the host in float64 (ref.RoPETable): WGSL only promises sin/cos to 2⁻¹¹
// absolute on [−π, π], and the angles here reach ±2π.

struct Params {
    n: u32,      // pairs to rotate: B·(T−prefix)·2·NH·HD/2
    T: u32,
    NH: u32,
    half: u32,   // HD/2
    prefix: u32,
}

@group(0) @binding(0) var<storage, read_write> qkv: array<f32>;
@group(0) @binding(1) var<storage, read> table: array<vec2<f32>>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let idx = flat_wg(wid, nwg) * 256u + li;
    if (idx >= p.n) {
        return;
    }
    // idx = (((b·P + t)·2 + part)·NH + h)·half + i, P = T − prefix patches.
    let i = idx % p.half;
    var rest = idx / p.half;
    let h = rest % p.NH;
    rest /= p.NH;
    let part = rest % 2u;
    rest /= 2u;
    let P = p.T - p.prefix;
    let t = rest % P;
    let b = rest / P;
    let HD = 2u * p.half;
    let base = (b * p.T + p.prefix + t) * 3u * p.NH * HD + part * p.NH * HD + h * HD + i;
    let cs = table[t * p.half + i];
    let x = qkv[base];
    let y = qkv[base + p.half];
    qkv[base] = x * cs.x - y * cs.y;
    qkv[base + p.half] = y * cs.x + x * cs.y;
}
