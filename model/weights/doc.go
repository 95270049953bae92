// Package weights stores novae's tensors: safetensors files
// (https://huggingface.co/docs/safetensors, spec in the safetensors README),
// sharded sets for the browser, and the project's quantization convention.
//
// # Files
//
// A safetensors file is an 8-byte little-endian header length N, N bytes of
// JSON {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__":
// {string: string}} padded with spaces to a multiple of 8, then the data.
// The reader trusts nothing in the header: lengths, shapes and offsets are
// checked against the file before anything is allocated, and the tensors must
// cover the data exactly (no overlap, no hole). The writer is deterministic:
// tensors are laid out by decreasing element size, then by name, so every
// tensor starts aligned to its element size.
//
// # Sharded sets
//
// WriteSharded splits a model into shards of at most DefaultShardBytes (64 MiB)
// plus a manifest, model.json:
//
//	{"format": "novae-weights", "version": 1, "metadata": {...},
//	 "shards": [{"file": "model-00001.safetensors", "bytes": N,
//	             "sha256": "<hex>", "tensors": ["a", "b"]}]}
//
// The metadata lives in the manifest only. Open accepts a .safetensors file or
// a manifest; a shard whose size or sha256 differs from the manifest is an
// error naming the shard, never data.
//
// # Quantization convention
//
// This is THE naming convention of novae; the WGSL dequantization kernels
// follow it exactly. A quantized weight K (e.g. blocks.0.attn.qkv.weight, a
// PyTorch Linear weight of logical shape [out,in]) is stored as the tensor K
// plus, for the integer kinds, the F32 tensor K.scales. The metadata key
// "quant" holds JSON with one entry per quantized tensor:
//
//	{"K": {"kind": "int8"|"int4"|"f16", "group": G, "shape": [out, in]}}
//
// "shape" is the logical shape. A weight of rank > 2 (a conv [out,in,kh,kw])
// is quantized as the row-major matrix [out, in·kh·kw]; below, in is that
// product. Scales are symmetric (no zero point), computed in float32.
//
//   - f16: K is F16 with the logical shape and no scales; G is 0. Values are
//     rounded to nearest even.
//   - int8: K is I8 [out, in]. G = 0 gives one scale per output row, K.scales
//     F32 [out]; G > 0 (G divides in) gives one scale per G consecutive input
//     columns, K.scales F32 [out, in/G]. scale = max|w|/127 over the block,
//     q = clamp(round(w/scale), −127, 127) with round half away from zero;
//     a block of zeros has scale 0 and q = 0. w = q·scale.
//   - int4: K is U8 [out, in/2]; in is even and G > 0 divides it (32 or 64
//     typically). K.scales is F32 [out, in/G], scale = max|w|/7,
//     q = clamp(round(w/scale), −8, 7), stored as the nibble q+8 in 0..15:
//     column 2j is the LOW nibble of byte j of the row, column 2j+1 the HIGH
//     nibble. w = (nibble − 8)·scale.
//
// Which tensors to quantize is the caller's choice (Quantize, SetQuant).
// File.F32 dequantizes K to its logical shape; File.Raw returns the stored
// bytes for upload to the GPU.
package weights
