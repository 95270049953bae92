// elementwise: the small f32 ops a sampling step calls many times, one
// dispatch each, one thread per output element (256 per workgroup, grids
// past 65535 workgroups folded: flat_wg), plus the two layout ops (concat,
// transpose). All entry points share the bindings and the Params below;
// each says which fields it reads. An absent input is bound to the
// engine's dummy buffer and flagged. In-place ops bind y once (read_write)
// and read their source from y: WebGPU forbids binding a buffer twice when
// one binding is writable.
//
// Entry points:
//   axpby      y = a·x + b·u + c·y (flags bit0 x term, bit1 u term, bit2 y
//              term): Add, Scale, Axpy, EulerStep.
//   cfg        y = U + a·(X − U), X = x[off_x + i], U = u[off_u + i] or,
//              with bit0, x[off_u + i] (both halves of one batched tensor).
//   swiglu     y = silu(s)·g: s = x[i], or y[i] in place (bit0); g = u[i]
//              with bit1, else 1 (Swish); with bit2 s and g are the two
//              halves of row i/d0 of a packed x [rows, 2·d0].
//   chan       per channel c = i % d0 of the last dimension: bits0–1 mode
//              0 y = s + u[(i/d1)·d0 + c] (row vector, one per d1 elements),
//              1 y = (s − u[c]) / v[c] (normalise), 2 y = s·v[c] + u[c]
//              (denormalise); s = x[i], or y[i] in place (bit2).
//   concat     y[row, j] = x[row, j] for j < d0, u[row, j − d0] after
//              (channels d0 then d1, token-major).
//   transpose2d x [d2, d0, d1] → y [d2, d1, d0] through a 16×16 tile of
//              workgroup memory (reads and writes both coalesced); grid
//              (⌈d1/16⌉, ⌈d0/16⌉, d2).

struct Params {
    n: u32,     // elements of y
    flags: u32,
    a: f32,
    b: f32,
    c: f32,
    off_x: u32, // element offsets into x and u (cfg)
    off_u: u32,
    d0: u32,    // op-specific sizes, see above
    d1: u32,
    d2: u32,
}

@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> u: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

fn elem(wid: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
    return flat_wg(wid, nwg) * 256u + li;
}

@compute @workgroup_size(256)
fn axpby(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) li: u32) {
    let i = elem(wid, nwg, li);
    if (i >= p.n) {
        return;
    }
    var s = 0.0;
    if ((p.flags & 1u) != 0u) {
        s = p.a * x[i];
    }
    if ((p.flags & 2u) != 0u) {
        s += p.b * u[i];
    }
    if ((p.flags & 4u) != 0u) {
        s += p.c * y[i];
    }
    y[i] = s;
}

@compute @workgroup_size(256)
fn cfg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
       @builtin(local_invocation_index) li: u32) {
    let i = elem(wid, nwg, li);
    if (i >= p.n) {
        return;
    }
    let vc = x[p.off_x + i];
    var vu: f32;
    if ((p.flags & 1u) != 0u) {
        vu = x[p.off_u + i];
    } else {
        vu = u[p.off_u + i];
    }
    y[i] = vu + p.a * (vc - vu);
}

@compute @workgroup_size(256)
fn swiglu(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) li: u32) {
    let i = elem(wid, nwg, li);
    if (i >= p.n) {
        return;
    }
    if ((p.flags & 4u) != 0u) {
        let row = i / p.d0;
        let j = row * 2u * p.d0 + i % p.d0;
        y[i] = silu(x[j]) * x[j + p.d0];
        return;
    }
    var s: f32;
    if ((p.flags & 1u) != 0u) {
        s = y[i];
    } else {
        s = x[i];
    }
    var g = silu(s);
    if ((p.flags & 2u) != 0u) {
        g *= u[i];
    }
    y[i] = g;
}

@compute @workgroup_size(256)
fn chan(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = elem(wid, nwg, li);
    if (i >= p.n) {
        return;
    }
    var s: f32;
    if ((p.flags & 4u) != 0u) {
        s = y[i];
    } else {
        s = x[i];
    }
    let c = i % p.d0;
    switch (p.flags & 3u) {
        case 1u: { s = (s - u[c]) / v[c]; }
        case 2u: { s = s * v[c] + u[c]; }
        default: { s += u[(i / p.d1) * p.d0 + c]; }
    }
    y[i] = s;
}

@compute @workgroup_size(256)
fn concat(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) li: u32) {
    let i = elem(wid, nwg, li);
    if (i >= p.n) {
        return;
    }
    let C = p.d0 + p.d1;
    let row = i / C;
    let j = i % C;
    if (j < p.d0) {
        y[i] = x[row * p.d0 + j];
    } else {
        y[i] = u[row * p.d1 + j - p.d0];
    }
}

var<workgroup> tile: array<f32, 272>; // 16 rows of 17: the pad column avoids bank conflicts

@compute @workgroup_size(256)
fn transpose2d(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let R = p.d0;
    let C = p.d1;
    let base = wid.z * R * C;
    let r0 = wid.y * 16u;
    let c0 = wid.x * 16u;
    let lr = li / 16u;
    let lc = li % 16u;
    if (r0 + lr < R && c0 + lc < C) {
        tile[lr * 17u + lc] = x[base + (r0 + lr) * C + c0 + lc];
    }
    workgroupBarrier();
    // Now thread (lr, lc) writes y[c0 + lr, r0 + lc] = x[r0 + lc, c0 + lr].
    if (c0 + lr < C && r0 + lc < R) {
        y[base + (c0 + lr) * R + r0 + lc] = tile[lc * 17u + lr];
    }
}
