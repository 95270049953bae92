// attention: O = softmax(Q·Kᵀ·scale)·V per (batch, head), flash-style: the
// T×T score matrix never leaves workgroup memory. Q, K, V and O are strided
// views (element (b,h,t,d) at off + b·batch + h·head + t·tok + d·dim), so the
// packed qkv of a Linear [B,T,3·NH·HD] and NCHW 1×1-conv outputs [B,C,H·W]
// are read in place, and O can be token-major or NCHW.
//
// Design. One workgroup of 256 threads owns BQ query rows of one (b, h);
// the rows are split over TPR = 256/BQ threads each. Thread (r, l) holds, for
// query row r:
//   - DPT = ⌈HD/TPR⌉ output accumulators, dims d = l + TPR·i (so neighbour
//     threads touch neighbour dims: coalesced stores, no bank conflicts);
//   - the running row max m (identical in all TPR threads of the row) and its
//     own share of the running denominator (the shares are summed once, at
//     the end).
// Keys stream in blocks of BK = 64. Per block:
//   1. scores: thread (r, l) computes S[r, j] for its SPT = BK/TPR keys
//      j = l + TPR·i, stepping the head dim by DC through a Q chunk [BQ][DC]
//      and a K chunk [BK][DC] staged in workgroup memory (rows padded to
//      DC+1 against bank conflicts), so any HD fits;
//   2. online softmax: the block's row max is reduced through `red`;
//      P = exp2(S − m_new) goes to `ps` [BQ][BK]; the accumulators and the
//      denominator share are rescaled by exp2(m_old − m_new). Scores are
//      pre-multiplied by scale·log2(e) so exp2 replaces exp;
//   3. O += P·V: V is staged VK keys at a time as [VK][HD].
// BQ shrinks as HD grows (32 up to HD 128, 16 to 256, 8 to 512, 4 to 1024)
// so the accumulators stay ≤ 16 registers per thread. ps + red + the staging
// area stay ≤ 16 KiB of workgroup memory (the host computes the sizes), and a
// workgroup is 256 invocations: both within WebGPU's defaults, so the same
// kernel runs on SwiftShader.
//
// Staging loads walk the axis of unit stride fastest (the head dim for
// token-major views, the token axis for NCHW views), so global reads are
// coalesced either way. Keys past T score −3e38 (exp2 gives 0; no infinities
// or NaNs), query rows past T are computed but not stored.
//
// Split over keys (few (b, h, query block) workgroups: the decoder's one
// head of 512 at T=256 is 32 of them for 132 SMs): `splits` workgroups per
// query block each take keys [s·kspan, (s+1)·kspan) and write their
// unnormalised accumulators, running max and denominator to a scratch bound
// as o: acc at ((s·B·NH + bh)·T + t)·HD + d, (m, l) at ml_off + 2·row. The
// entry `combine` (one thread per output, the scratch bound as q) rescales
// each split by exp2(m_s − max_s m_s), sums, and divides by the combined
// denominator: the same online softmax, one level up.
//
// Holes: {{HD}} head dim, {{BQ}} query rows per workgroup, {{DC}} head-dim
// chunk of the score phase, {{VK}} keys per V stage, {{STAGE}} staging floats.

struct Params {
    B: u32,
    T: u32,
    NH: u32,
    nqb: u32,    // query blocks per (b, h): ⌈T/BQ⌉
    scale: f32,  // softmax scale × log2(e)
    o_off: u32,
    o_tok: u32,
    o_head: u32,
    o_dim: u32,
    o_batch: u32,
    q_off: u32,
    q_tok: u32,
    q_head: u32,
    q_dim: u32,
    q_batch: u32,
    k_off: u32,
    k_tok: u32,
    k_head: u32,
    k_dim: u32,
    k_batch: u32,
    v_off: u32,
    v_tok: u32,
    v_head: u32,
    v_dim: u32,
    v_batch: u32,
    kspan: u32,  // keys per split (T when not split)
    splits: u32,
    ml_off: u32, // split scratch: where the (m, l) pairs start
}

@group(0) @binding(0) var<storage, read_write> o: array<f32>;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

const HD: u32 = {{HD}}u;
const BQ: u32 = {{BQ}}u;
const DC: u32 = {{DC}}u;
const VK: u32 = {{VK}}u;
const BK: u32 = 64u;
const WG: u32 = 256u;
const TPR: u32 = WG / BQ;             // threads per query row
const SPT: u32 = BK / TPR;            // scores per thread per key block
const DPT: u32 = (HD + TPR - 1u) / TPR; // output dims per thread
const KS: u32 = DC + 1u;              // padded row of a staged Q/K chunk
const NEG: f32 = -3.0e38;
const PS: u32 = BQ * BK;

var<workgroup> ps: array<f32, PS>; // P of the current key block
var<workgroup> red: array<f32, WG>;     // [BQ][TPR] row reductions
var<workgroup> st: array<f32, {{STAGE}}>; // Q,K chunks [BQ+BK][KS], then V [VK][HD]

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let flat = flat_wg(wid, nwg);
    let per = p.nqb * p.splits; // workgroups per (b, h)
    let bh = flat / per;
    if (bh >= p.B * p.NH) {
        return; // padding of a folded grid (uniform per workgroup)
    }
    let q0 = ((flat % per) % p.nqb) * BQ;
    let split = (flat % per) / p.nqb;
    let jbeg = split * p.kspan;
    let jend = min(p.T, jbeg + p.kspan);
    let h = bh % p.NH;
    let b = bh / p.NH;
    let qb = p.q_off + b * p.q_batch + h * p.q_head;
    let kb = p.k_off + b * p.k_batch + h * p.k_head;
    let vb = p.v_off + b * p.v_batch + h * p.v_head;
    let r = li / TPR;
    let l = li % TPR;

    var m = NEG;     // running row max (log2 units)
    var lsum = 0.0;  // this thread's share of the running denominator
    var acc: array<f32, DPT>;

    for (var j0 = jbeg; j0 < jend; j0 += BK) {
        // 1. S = Q·Kᵀ for this block, head dim in chunks of DC.
        // The explicit initializer matters: naga (wgpu-native here) does not
        // re-zero a loop-local `var s: array<f32, SPT>;` on every iteration.
        var s = array<f32, SPT>();
        for (var d0 = 0u; d0 < HD; d0 += DC) {
            for (var i = li; i < BQ * DC; i += WG) {
                var rr = i / DC;
                var c = i % DC;
                if (p.q_dim != 1u) {
                    rr = i % BQ;
                    c = i / BQ;
                }
                let t = q0 + rr;
                let d = d0 + c;
                var x = 0.0;
                if (t < p.T && d < HD) {
                    x = q[qb + t * p.q_tok + d * p.q_dim];
                }
                st[rr * KS + c] = x;
            }
            for (var i = li; i < BK * DC; i += WG) {
                var jj = i / DC;
                var c = i % DC;
                if (p.k_dim != 1u) {
                    jj = i % BK;
                    c = i / BK;
                }
                let j = j0 + jj;
                let d = d0 + c;
                var x = 0.0;
                if (j < jend && d < HD) {
                    x = k[kb + j * p.k_tok + d * p.k_dim];
                }
                st[(BQ + jj) * KS + c] = x;
            }
            workgroupBarrier();
            for (var c = 0u; c < DC; c++) {
                let qv = st[r * KS + c];
                for (var i = 0u; i < SPT; i++) {
                    s[i] = fma(qv, st[(BQ + l + TPR * i) * KS + c], s[i]);
                }
            }
            workgroupBarrier();
        }

        // 2. Online softmax.
        var mloc = NEG;
        for (var i = 0u; i < SPT; i++) {
            if (j0 + l + TPR * i < jend) {
                s[i] *= p.scale;
            } else {
                s[i] = NEG;
            }
            mloc = max(mloc, s[i]);
        }
        red[li] = mloc;
        workgroupBarrier();
        var mnew = m;
        for (var i = 0u; i < TPR; i++) {
            mnew = max(mnew, red[r * TPR + i]);
        }
        let alpha = exp2(m - mnew);
        m = mnew;
        var sum = 0.0;
        for (var i = 0u; i < SPT; i++) {
            let e = exp2(s[i] - mnew);
            ps[r * BK + l + TPR * i] = e;
            sum += e;
        }
        lsum = lsum * alpha + sum;
        for (var i = 0u; i < DPT; i++) {
            acc[i] *= alpha;
        }
        workgroupBarrier();

        // 3. O += P·V, V staged VK keys at a time.
        let kn = min(BK, jend - j0);
        for (var jj0 = 0u; jj0 < kn; jj0 += VK) {
            let cnt = min(VK, kn - jj0);
            for (var i = li; i < VK * HD; i += WG) {
                var jj = i / HD;
                var d = i % HD;
                if (p.v_dim != 1u) {
                    jj = i % VK;
                    d = i / VK;
                }
                var x = 0.0;
                if (jj < cnt) {
                    x = v[vb + (j0 + jj0 + jj) * p.v_tok + d * p.v_dim];
                }
                st[jj * HD + d] = x;
            }
            workgroupBarrier();
            for (var jj = 0u; jj < cnt; jj++) {
                let pv = ps[r * BK + jj0 + jj];
                for (var i = 0u; i < DPT; i++) {
                    let d = l + TPR * i;
                    if (d < HD) {
                        acc[i] = fma(pv, st[jj * HD + d], acc[i]);
                    }
                }
            }
            workgroupBarrier();
        }
    }

    // The row's denominator is the sum of its threads' shares.
    red[li] = lsum;
    workgroupBarrier();
    var total = 0.0;
    for (var i = 0u; i < TPR; i++) {
        total += red[r * TPR + i];
    }
    let t = q0 + r;
    if (t < p.T && p.splits > 1) {
        let row = (split * p.B * p.NH + bh) * p.T + t;
        for (var i = 0u; i < DPT; i++) {
            let d = l + TPR * i;
            if (d < HD) {
                o[row * HD + d] = acc[i];
            }
        }
        if (l == 0u) {
            o[p.ml_off + 2u * row] = m;
            o[p.ml_off + 2u * row + 1u] = total;
        }
    } else if (t < p.T) {
        let inv = 1.0 / total;
        let ob = p.o_off + b * p.o_batch + h * p.o_head + t * p.o_tok;
        for (var i = 0u; i < DPT; i++) {
            let d = l + TPR * i;
            if (d < HD) {
                o[ob + d * p.o_dim] = acc[i] * inv;
            }
        }
    }
}

@compute @workgroup_size(256)
fn combine(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) li: u32) {
    let i = flat_wg(wid, nwg) * 256u + li;
    let rows = p.B * p.NH * p.T;
    if (i >= rows * HD) {
        return;
    }
    let d = i % HD;
    let row = i / HD; // bh·T + t
    let t = row % p.T;
    let bh = row / p.T;
    var mx = NEG;
    for (var s = 0u; s < p.splits; s++) {
        mx = max(mx, q[p.ml_off + 2u * (s * rows + row)]);
    }
    var num = 0.0;
    var den = 0.0;
    for (var s = 0u; s < p.splits; s++) {
        let r = s * rows + row;
        let w = exp2(q[p.ml_off + 2u * r] - mx);
        num += w * q[r * HD + d];
        den += w * q[p.ml_off + 2u * r + 1u];
    }
    let h = bh % p.NH;
    let b = bh / p.NH;
    o[p.o_off + b * p.o_batch + h * p.o_head + t * p.o_tok + d * p.o_dim] = num / den;
}
