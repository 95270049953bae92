// attention_tiled: attention.wgsl's contract (strided q, k, v, o views; the
// same Params; the same split-over-keys partials, merged by attention.wgsl's
// combine) with register tiles, for head dims up to 128 on devices that give
// a workgroup 32 KiB.
//
// Why. attention.wgsl gives each thread one query row and a strip of keys:
// every fma reads one value from workgroup memory, which caps it at a
// quarter of the FMA rate (7 TFLOP/s at the DiT's shape on an H100). Here,
// as in matmul_reg (18–20 TFLOP/s there), a thread owns a 4×4 block: 64
// queries × 64 keys per workgroup, thread (ty, tx) of 16×16 holding rows
// ty + 16i and keys tx + 16j (i, j < 4), so a step of the head dim loads 8
// values for 16 fmas; O += P·V likewise loads 4 P and DPT V values for
// 4·DPT fmas (dims tx + 16k).
// Per key block of 64:
//   1. S = Q·Kᵀ, the head dim in chunks of 16 staged as [16][65] (padded
//      rows: conflict-free stores of either layout);
//   2. online softmax: row maxima through `red` [64][16], P = exp2(S − m)
//      to `ps` [64 rows][64 keys], accumulators and this thread's share of
//      the denominators rescaled by exp2(m_old − m_new);
//   3. O += P·V with V staged VK keys at a time as [VK][HD].
// Workgroup memory: ps 16 KiB + red 4 KiB + the staging area (≤ 12 KiB, the
// host picks VK), so 32 KiB. Keys past the split's end score −3e38, query
// rows past T are computed but not stored, as in attention.wgsl.
//
// Holes: {{HD}} head dim, {{VK}} keys per V stage, {{STAGE}} staging floats.

struct Params {
    B: u32,
    T: u32,
    NH: u32,
    nqb: u32,    // query blocks of 64 per (b, h)
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
    kspan: u32,
    splits: u32,
    ml_off: u32,
}

@group(0) @binding(0) var<storage, read_write> o: array<f32>;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

const HD: u32 = {{HD}}u;
const VK: u32 = {{VK}}u;
const BQ: u32 = 64u;
const BK: u32 = 64u;
const DC: u32 = 16u;
const QS: u32 = BQ + 1u;            // padded row of a staged Q chunk
const KOFF: u32 = DC * QS;          // the K chunk follows
const DPT: u32 = (HD + 15u) / 16u;  // output dims per thread
const NACC: u32 = 4u * DPT;
const NEG: f32 = -3.0e38;

var<workgroup> ps: array<f32, 4096>;       // P [BQ][BK]
var<workgroup> red: array<f32, 1024>;      // [BQ][16] row reductions
var<workgroup> st: array<f32, {{STAGE}}>;  // Q [DC][QS] + K [DC][QS], then V [VK][HD]

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let flat = flat_wg(wid, nwg);
    let per = p.nqb * p.splits;
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
    let tx = li % 16u;
    let ty = li / 16u;

    var m = array<f32, 4>(NEG, NEG, NEG, NEG); // running row maxima (log2 units)
    var l = array<f32, 4>();                   // this thread's shares of the denominators
    var acc = array<f32, NACC>();              // [row i][dim k]

    for (var j0 = jbeg; j0 < jend; j0 += BK) {
        // 1. S = Q·Kᵀ for this block.
        var s = array<f32, 16>();
        for (var d0 = 0u; d0 < HD; d0 += DC) {
            for (var i = li; i < DC * BQ; i += 256u) {
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
                st[c * QS + rr] = x;
            }
            for (var i = li; i < DC * BK; i += 256u) {
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
                st[KOFF + c * QS + jj] = x;
            }
            workgroupBarrier();
            for (var c = 0u; c < DC; c++) {
                var a: array<f32, 4>;
                var kk: array<f32, 4>;
                for (var i = 0u; i < 4u; i++) {
                    a[i] = st[c * QS + ty + 16u * i];
                    kk[i] = st[KOFF + c * QS + tx + 16u * i];
                }
                for (var i = 0u; i < 4u; i++) {
                    for (var j = 0u; j < 4u; j++) {
                        s[i * 4u + j] = fma(a[i], kk[j], s[i * 4u + j]);
                    }
                }
            }
            workgroupBarrier();
        }

        // 2. Online softmax.
        for (var i = 0u; i < 4u; i++) {
            var mloc = NEG;
            for (var j = 0u; j < 4u; j++) {
                if (j0 + tx + 16u * j < jend) {
                    s[i * 4u + j] *= p.scale;
                } else {
                    s[i * 4u + j] = NEG;
                }
                mloc = max(mloc, s[i * 4u + j]);
            }
            red[(ty + 16u * i) * 16u + tx] = mloc;
        }
        workgroupBarrier();
        for (var i = 0u; i < 4u; i++) {
            var mnew = m[i];
            for (var x = 0u; x < 16u; x++) {
                mnew = max(mnew, red[(ty + 16u * i) * 16u + x]);
            }
            let alpha = exp2(m[i] - mnew);
            m[i] = mnew;
            var sum = 0.0;
            for (var j = 0u; j < 4u; j++) {
                let e = exp2(s[i * 4u + j] - mnew);
                ps[(ty + 16u * i) * BK + tx + 16u * j] = e;
                sum += e;
            }
            l[i] = l[i] * alpha + sum;
            for (var kd = 0u; kd < DPT; kd++) {
                acc[i * DPT + kd] *= alpha;
            }
        }
        workgroupBarrier();

        // 3. O += P·V, V staged VK keys at a time.
        let kn = min(BK, jend - j0);
        for (var jj0 = 0u; jj0 < kn; jj0 += VK) {
            let cnt = min(VK, kn - jj0);
            for (var i = li; i < VK * HD; i += 256u) {
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
                var a: array<f32, 4>;
                for (var i = 0u; i < 4u; i++) {
                    a[i] = ps[(ty + 16u * i) * BK + jj0 + jj];
                }
                for (var kd = 0u; kd < DPT; kd++) {
                    let d = tx + 16u * kd;
                    if (d < HD) {
                        let vv = st[jj * HD + d];
                        for (var i = 0u; i < 4u; i++) {
                            acc[i * DPT + kd] = fma(a[i], vv, acc[i * DPT + kd]);
                        }
                    }
                }
            }
            workgroupBarrier();
        }
    }

    // Each row's denominator is the sum of its 16 threads' shares.
    for (var i = 0u; i < 4u; i++) {
        red[(ty + 16u * i) * 16u + tx] = l[i];
    }
    workgroupBarrier();
    for (var i = 0u; i < 4u; i++) {
        var total = 0.0;
        for (var x = 0u; x < 16u; x++) {
            total += red[(ty + 16u * i) * 16u + x];
        }
        let t = q0 + ty + 16u * i;
        if (t >= p.T) {
            continue;
        }
        if (p.splits > 1u) {
            let row = (split * p.B * p.NH + bh) * p.T + t;
            for (var kd = 0u; kd < DPT; kd++) {
                let d = tx + 16u * kd;
                if (d < HD) {
                    o[row * HD + d] = acc[i * DPT + kd];
                }
            }
            if (tx == 0u) {
                o[p.ml_off + 2u * row] = m[i];
                o[p.ml_off + 2u * row + 1u] = total;
            }
        } else {
            let inv = 1.0 / total;
            let ob = p.o_off + b * p.o_batch + h * p.o_head + t * p.o_tok;
            for (var kd = 0u; kd < DPT; kd++) {
                let d = tx + 16u * kd;
                if (d < HD) {
                    o[ob + d * p.o_dim] = acc[i * DPT + kd] * inv;
                }
            }
        }
    }
}
