// upsample: nearest-neighbour 2× upsampling of NCHW x [B,C,H,W] into
// y [B,C,2H,2W], one thread per output element (writes coalesced, each
// input read by four neighbours from cache), grid folded past 65535
// workgroups (flat_wg): the decoder's 128 channels at 256² are 8M outputs.
// Conv2D can fuse this into the convolution that follows (ConvOpts.Up2).

struct Params {
    n: u32, // elements of y
    H: u32,
    W: u32,
}

@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = flat_wg(wid, nwg) * 256u + li;
    if (i >= p.n) {
        return;
    }
    let W2 = 2u * p.W;
    let ox = i % W2;
    let row = i / W2; // (b·C + c)·2H + oy
    let bc = row / (2u * p.H);
    let oy = row % (2u * p.H);
    y[i] = x[(bc * p.H + oy / 2u) * p.W + ox / 2u];
}
