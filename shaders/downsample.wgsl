// downsample: the LDM Downsample block (ldm/modules/diffusionmodules/
// model.py, with_conv): y = conv2d(F.pad(x, (0,1,0,1)), w, bias, stride 2),
// a 3×3 convolution of stride 2 whose zero padding is one row and one
// column after the image only. x is NCHW [B,Cin,H,W], w [Cout,Cin,3,3],
// y [B,Cout,Ho,Wo] with Ho = (H+1−3)/2+1 = ⌊(H−2)/2⌋+1 (H even: H/2).
//
// One thread per output element, a plain Cin·9 loop: the encoders that use
// it run once per image (encode/reconstruct), not per denoising step, so it
// is kept simple and apart from conv.wgsl's tiled GEMM. Grid folded past
// 65535 workgroups (flat_wg).

struct Params {
    n: u32,     // elements of y
    Cin: u32,
    H: u32,
    W: u32,
    Cout: u32,
    Ho: u32,
    Wo: u32,
    flags: u32, // bit0 bias
}

@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = flat_wg(wid, nwg) * 256u + li;
    if (i >= p.n) {
        return;
    }
    let ox = i % p.Wo;
    let oy = (i / p.Wo) % p.Ho;
    let co = (i / (p.Wo * p.Ho)) % p.Cout;
    let b = i / (p.Wo * p.Ho * p.Cout);
    var acc = 0.0;
    for (var ci = 0u; ci < p.Cin; ci++) {
        let xb = (b * p.Cin + ci) * p.H * p.W;
        let wb = (co * p.Cin + ci) * 9u;
        for (var ky = 0u; ky < 3u; ky++) {
            let iy = 2u * oy + ky;
            if (iy >= p.H) {
                continue; // the padding row after the image
            }
            for (var kx = 0u; kx < 3u; kx++) {
                let ix = 2u * ox + kx;
                if (ix < p.W) {
                    acc = fma(x[xb + iy * p.W + ix], w[wb + ky * 3u + kx], acc);
                }
            }
        }
    }
    if ((p.flags & 1u) != 0u) {
        acc += bias[co];
    }
    y[i] = acc;
}
