// Package convert builds novae weights files: from the official SVG
// checkpoints (Convert), or with random values at any configuration
// (Random, for tests and benchmarks).
//
// A novae weights file is one safetensors file (or a sharded set with a
// model.json manifest, see model/weights) holding
//
//	dit.*        the DiT, official keys (from the DiT checkpoint, "ema" preferred)
//	decoder.*    the LDM decoder      (autoencoder checkpoint, Lightning "state_dict")
//	encoder.*    DINOv3               (autoencoder checkpoint, or a DINOv3 .pth alone)
//	extra_vit.*  the residual ViT     (autoencoder checkpoint)
//	latent.mean, latent.std [C]       (dinov3_sp_stats.pt, sliced to the DiT's channels)
//
// and the metadata "format": "novae", "config" (model.Config as JSON),
// "sources" (JSON: role → source file name) and, when Linear weights are
// quantized, "quant" (model/weights' convention).
//
// A model of latent kind "vae" (model/vae.go: the LDM KL autoencoder, the
// VAE-latent twin of an SVG model) holds instead of DINOv3 and the residual
// ViT the autoencoder's LDM keys as they are: encoder.* (the LDM Encoder),
// quant_conv.*, post_quant_conv.*, decoder.*; latent.mean/std come from a
// {"mean", "std"} statistics file. The converter recognises it by
// post_quant_conv and infers its config from the shapes (TestOfficialKeysVAE
// checks the key list against the official AutoencoderKL at SD-VAE size).
//
// What the converter changes on the way (everything else is copied exactly):
//   - DINOv3's attn.qkv.bias_mask is multiplied into attn.qkv.bias and
//     dropped; encoder.mask_token (training only) is dropped.
//   - Autoencoder keys the inference never uses are left out and reported:
//     loss.* (the training loss), the top-level mask_token and norm_vit.*.
//   - latent.mean/std are the [1,1,C] statistics flattened to [C] and cut to
//     the DiT's in-channels.
//   - With a quantization kind, the Linear weights (model.Param.Linear) are
//     stored f16, int8 or int4; every other tensor stays F32.
//
// The configuration is inferred from the tensor shapes (depth from the block
// count; widths, channels, classes, qk_norm, learn_sigma, the decoder's
// levels and attention, DINOv3's heads from its RoPE periods). What shapes
// cannot tell — the DiT's head count without qk_norm, the residual ViT's
// head count, GroupNorm groups — comes from a preset or a config file, and
// explicit overrides beat both. The assembled set is then checked key by key
// against the model's own parameter list (model.Check), so a converted file
// always loads.
//
// testdata/official_*.txt are the official SVG-XL checkpoints' keys and
// shapes, written at full size from the official code by
// tools/reference/official_keys.py; TestOfficialKeys* check that the svg-xl
// parameter list is exactly those keys (less the ones dropped above) and
// that conversion of such files infers SVG-XL's config and validates.
package convert
