// pixels: between f32 images and RGBA8 pixels, one thread per pixel. Both
// bindings are u32 words (f32 values are bitcast): one RGBA8 pixel is one
// word, R in the low byte (little-endian byte order [R, G, B, A]).
//
//   to_rgba8    out [B,H,W] words ← x [B,3,H,W] f32 in about [−1,1]: each
//               channel clamp(round((x + 1)·127.5), 0, 255), one add then one
//               multiply (both correctly rounded in WGSL, so ref computes
//               the same f32) and WGSL's round, ties to even (x = 0 → 128);
//               alpha 255 (opaque, so premultiplied = straight).
//   from_rgba8  out [B,3,H,W] f32 ← px [B,H,W] words: (v/255 − mean[c])/std[c],
//               alpha ignored (the encoders' ToTensor + Normalize).

struct Params {
    n: u32,   // pixels, B·H·W
    hw: u32,  // H·W
    m0: f32,  // mean and std per channel (from_rgba8)
    m1: f32,
    m2: f32,
    s0: f32,
    s1: f32,
    s2: f32,
}

@group(0) @binding(0) var<storage, read_write> out: array<u32>;
@group(0) @binding(1) var<storage, read> inp: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;

fn to_byte(v: f32) -> u32 {
    let s = (v + 1.0) * 127.5;
    return u32(clamp(round(s), 0.0, 255.0));
}

@compute @workgroup_size(256)
fn to_rgba8(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) li: u32) {
    let i = flat_wg(wid, nwg) * 256u + li;
    if (i >= p.n) {
        return;
    }
    let b = i / p.hw;
    let base = b * 3u * p.hw + i % p.hw;
    let r = to_byte(bitcast<f32>(inp[base]));
    let g = to_byte(bitcast<f32>(inp[base + p.hw]));
    let bl = to_byte(bitcast<f32>(inp[base + 2u * p.hw]));
    out[i] = r | (g << 8u) | (bl << 16u) | (255u << 24u);
}

@compute @workgroup_size(256)
fn from_rgba8(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) li: u32) {
    let i = flat_wg(wid, nwg) * 256u + li;
    if (i >= p.n) {
        return;
    }
    let b = i / p.hw;
    let base = b * 3u * p.hw + i % p.hw;
    let px = inp[i];
    let r = f32(px & 0xffu) / 255.0;
    let g = f32((px >> 8u) & 0xffu) / 255.0;
    let bl = f32((px >> 16u) & 0xffu) / 255.0;
    out[base] = bitcast<u32>((r - p.m0) / p.s0);
    out[base + p.hw] = bitcast<u32>((g - p.m1) / p.s1);
    out[base + 2u * p.hw] = bitcast<u32>((bl - p.m2) / p.s2);
}
