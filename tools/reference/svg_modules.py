"""PyTorch reference twins of the SVG model (arXiv 2510.15301, github.com/shiml20/SVG).

Written from scratch for novae's parity tests. Module / parameter names are chosen so that `state_dict()` keys
and shapes are identical to the official checkpoints:
  * DiT            -> models/models_SVG.py (DiT, checkpoint saved by train_svg.py as {"ema": state_dict})
  * Decoder        -> autoencoder/ldm/modules/diffusionmodules/model.py (LDM Decoder)
  * DinoV3ViT      -> facebookresearch/dinov3 dinov3/models/vision_transformer.py (+ dinov3/layers/*)
  * ResidualViT    -> torchvision.models.VisionTransformer as built by create_small_vit_s() in
                      autoencoder/ldm/models/dino_decoder.py
  * SVGAutoencoder -> DinoDecoder (same file), Lightning checkpoint {"state_dict": ...}
  * rf_sample      -> rectified_flow/rectified_flow.py RectifiedFlow.sample + sample_svg.py

Only inference (eval) behaviour is reproduced: no dropout, no label dropout, no RoPE jitter, no token masking.
Runs on torch 1.13 (no F.scaled_dot_product_attention: attention is written out).
See tools/reference/README.md for the conventions and where each one comes from.
"""
import math
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def sdpa(q, k, v, scale=None):
    """softmax(q k^T * scale) v over the last two dims; scale defaults to head_dim^-1/2 (as torch's SDPA)."""
    if scale is None:
        scale = q.shape[-1] ** -0.5
    w = torch.matmul(q, k.transpose(-2, -1)) * scale
    return torch.matmul(w.softmax(dim=-1), v)


# =============================================================================================================
# DiT (models/models_SVG.py)
# =============================================================================================================

def sincos_1d(dim, pos):
    """[len(pos), dim] = [sin(pos*w) | cos(pos*w)], w_k = 10000^(-k/(dim/2)), k < dim/2 (computed in float64)."""
    assert dim % 2 == 0
    w = 1.0 / 10000 ** (np.arange(dim // 2, dtype=np.float64) / (dim / 2.0))
    a = np.outer(pos.reshape(-1).astype(np.float64), w)
    return np.concatenate([np.sin(a), np.cos(a)], axis=1)


def sincos_2d(dim, grid):
    """Fixed DiT/MAE 2-D position table [grid*grid, dim], tokens row-major (n = row*grid + col).
    First dim/2 channels encode the COLUMN index, last dim/2 the ROW index (numpy meshgrid puts w first)."""
    col, row = np.meshgrid(np.arange(grid, dtype=np.float32), np.arange(grid, dtype=np.float32))
    return np.concatenate([sincos_1d(dim // 2, col), sincos_1d(dim // 2, row)], axis=1)


def modulate(x, shift, scale):
    return x * (1 + scale[:, None]) + shift[:, None]


class TimestepEmbedder(nn.Module):
    def __init__(self, hidden, freq_dim=256):
        super().__init__()
        self.freq_dim = freq_dim
        self.mlp = nn.Sequential(nn.Linear(freq_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden))

    @staticmethod
    def frequencies(t, dim, max_period=10000):
        # t is the raw flow time in [0,1] (NOT scaled by 1000). Order is [cos | sin].
        half = dim // 2
        f = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
        a = t.float()[:, None] * f[None]
        e = torch.cat([torch.cos(a), torch.sin(a)], dim=-1)
        if dim % 2:
            e = torch.cat([e, torch.zeros_like(e[:, :1])], dim=-1)
        return e

    def forward(self, t):
        return self.mlp(self.frequencies(t, self.freq_dim))


class LabelEmbedder(nn.Module):
    def __init__(self, num_classes, hidden, dropout_prob):
        super().__init__()
        # one extra row (index num_classes = null class) only when class dropout was used in training
        self.embedding_table = nn.Embedding(num_classes + int(dropout_prob > 0), hidden)

    def forward(self, y):
        return self.embedding_table(y)


class DiTAttention(nn.Module):
    def __init__(self, dim, heads, qk_norm):
        super().__init__()
        self.heads, self.hd = heads, dim // heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=True)
        # per-head LayerNorm over head_dim, affine, eps 1e-5 (nn.LayerNorm default)
        self.q_norm = nn.LayerNorm(self.hd) if qk_norm else nn.Identity()
        self.k_norm = nn.LayerNorm(self.hd) if qk_norm else nn.Identity()
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, _ = x.shape
        q, k, v = self.qkv(x).view(B, N, 3, self.heads, self.hd).permute(2, 0, 3, 1, 4)
        o = sdpa(self.q_norm(q), self.k_norm(k), v)
        return self.proj(o.transpose(1, 2).reshape(B, N, -1))


class TimmMlp(nn.Module):
    """timm Mlp key layout: fc1, fc2."""

    def __init__(self, dim, hidden, act):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = act
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class DiTBlock(nn.Module):
    def __init__(self, hidden, heads, mlp_ratio, qk_norm):
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.attn = DiTAttention(hidden, heads, qk_norm)
        self.norm2 = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.mlp = TimmMlp(hidden, int(hidden * mlp_ratio), nn.GELU(approximate="tanh"))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 6 * hidden))

    def forward(self, x, c):
        sa, ca, ga, sm, cm, gm = self.adaLN_modulation(c).chunk(6, dim=1)
        x = x + ga[:, None] * self.attn(modulate(self.norm1(x), sa, ca))
        return x + gm[:, None] * self.mlp(modulate(self.norm2(x), sm, cm))


class FinalLayer(nn.Module):
    def __init__(self, hidden, out_ch):
        super().__init__()
        self.norm_final = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(hidden, out_ch)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 2 * hidden))

    def forward(self, x, c):
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)
        return self.linear(modulate(self.norm_final(x), shift, scale))


class DiT(nn.Module):
    """SVG DiT with patch size 1. Official: num_patches is hard-coded to 256 (16x16); here it is a parameter so a
    reduced model can use a 4x4 grid (pos_embed is then [1, 16, H])."""

    def __init__(self, in_channels=392, hidden_size=1152, depth=28, num_heads=16, mlp_ratio=4.0,
                 class_dropout_prob=0.1, num_classes=1000, learn_sigma=True, qk_norm=False, num_patches=256):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = 2 * in_channels if learn_sigma else in_channels
        self.learn_sigma = learn_sigma
        self.num_classes = num_classes
        self.t_embedder = TimestepEmbedder(hidden_size)
        self.y_embedder = LabelEmbedder(num_classes, hidden_size, class_dropout_prob)
        self.num_patches = num_patches
        g = int(round(num_patches ** 0.5))
        assert g * g == num_patches
        # a frozen nn.Parameter in the official model -> saved in the state dict as "pos_embed"
        self.pos_embed = nn.Parameter(torch.from_numpy(sincos_2d(hidden_size, g)).float()[None], requires_grad=False)
        self.blocks = nn.ModuleList([DiTBlock(hidden_size, num_heads, mlp_ratio, qk_norm) for _ in range(depth)])
        self.ln1 = nn.Linear(in_channels, hidden_size)  # the input projection ("x_embedder")
        self.final_layer = FinalLayer(hidden_size, self.out_channels)

    def forward(self, x, t, y):
        """x [N,T,C] (T must equal num_patches), t [N] float in [0,1], y [N] int64 -> [N,T,out_channels]."""
        h = self.ln1(x) + self.pos_embed
        c = self.t_embedder(t) + self.y_embedder(y)
        for blk in self.blocks:
            h = blk(h, c)
        return self.final_layer(h, c)


# =============================================================================================================
# LDM conv decoder (autoencoder/ldm/modules/diffusionmodules/model.py)
# =============================================================================================================

def group_norm(ch):
    return nn.GroupNorm(32, ch, eps=1e-6, affine=True)


def swish(x):
    return x * torch.sigmoid(x)


class ResnetBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.norm1 = group_norm(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1)
        self.norm2 = group_norm(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        if cin != cout:
            self.nin_shortcut = nn.Conv2d(cin, cout, 1, 1, 0)

    def forward(self, x):
        h = self.conv1(swish(self.norm1(x)))
        h = self.conv2(swish(self.norm2(h)))
        if hasattr(self, "nin_shortcut"):
            x = self.nin_shortcut(x)
        return x + h


class AttnBlock(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.norm = group_norm(ch)
        self.q = nn.Conv2d(ch, ch, 1)
        self.k = nn.Conv2d(ch, ch, 1)
        self.v = nn.Conv2d(ch, ch, 1)
        self.proj_out = nn.Conv2d(ch, ch, 1)

    def forward(self, x):
        B, C, H, W = x.shape
        h = self.norm(x)
        q, k, v = [m(h).reshape(B, C, H * W).transpose(1, 2) for m in (self.q, self.k, self.v)]  # [B,HW,C]
        o = sdpa(q, k, v, scale=C ** -0.5)  # single head over all H*W positions
        return x + self.proj_out(o.transpose(1, 2).reshape(B, C, H, W))


class Upsample(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, 1, 1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Decoder(nn.Module):
    """z [B, z_channels, r, r] -> image [B, out_ch, r*2^(L-1), ...], L = len(ch_mult).
    `resolution` is the OUTPUT resolution; attention is used at levels whose resolution is in attn_resolutions
    (the level resolution is resolution // 2^(L-1-level)). Mid attention is always present."""

    def __init__(self, z_channels=392, ch=128, out_ch=3, ch_mult=(1, 1, 2, 2, 4), num_res_blocks=2,
                 attn_resolutions=(16,), resolution=256, **ignored):
        super().__init__()
        L = len(ch_mult)
        self.num_res_blocks = num_res_blocks
        block_in = ch * ch_mult[-1]
        res = resolution // 2 ** (L - 1)
        self.conv_in = nn.Conv2d(z_channels, block_in, 3, 1, 1)
        self.mid = nn.Module()
        self.mid.block_1 = ResnetBlock(block_in, block_in)
        self.mid.attn_1 = AttnBlock(block_in)
        self.mid.block_2 = ResnetBlock(block_in, block_in)
        ups = [None] * L
        for lvl in reversed(range(L)):
            up = nn.Module()
            up.block = nn.ModuleList()
            up.attn = nn.ModuleList()
            block_out = ch * ch_mult[lvl]
            for _ in range(num_res_blocks + 1):
                up.block.append(ResnetBlock(block_in, block_out))
                block_in = block_out
                if res in attn_resolutions:
                    up.attn.append(AttnBlock(block_in))
            if lvl != 0:
                up.upsample = Upsample(block_in)
                res *= 2
            ups[lvl] = up
        self.up = nn.ModuleList(ups)  # up[0] = full resolution, up[L-1] = lowest resolution
        self.norm_out = group_norm(block_in)
        self.conv_out = nn.Conv2d(block_in, out_ch, 3, 1, 1)

    def forward(self, z):
        h = self.conv_in(z)
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(h)))
        for lvl in reversed(range(len(self.up))):
            up = self.up[lvl]
            for j in range(self.num_res_blocks + 1):
                h = up.block[j](h)
                if len(up.attn) > 0:
                    h = up.attn[j](h)
            if lvl != 0:
                h = up.upsample(h)
        return self.conv_out(swish(self.norm_out(h)))


# =============================================================================================================
# DINOv3 ViT (facebookresearch/dinov3: models/vision_transformer.py, layers/*.py)
# =============================================================================================================

class LinearKMaskedBias(nn.Linear):
    """qkv Linear whose bias is multiplied by the persistent buffer `bias_mask` (1 for q and v, 0 for k)."""

    def __init__(self, cin, cout):
        super().__init__(cin, cout, bias=True)
        m = torch.ones(cout)
        m[cout // 3: 2 * cout // 3] = 0
        self.register_buffer("bias_mask", m)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias * self.bias_mask)


class RopeEmbed(nn.Module):
    """2-D RoPE, base mode, normalize_coords='separate', eval (no shift/jitter/rescale)."""

    def __init__(self, embed_dim, num_heads, base=100.0):
        super().__init__()
        assert embed_dim % (4 * num_heads) == 0
        d_head = embed_dim // num_heads
        k = torch.arange(d_head // 4, dtype=torch.float32)
        self.register_buffer("periods", base ** (2 * k / (d_head // 2)))  # persistent, [d_head/4]

    def forward(self, H, W):
        ch = torch.arange(0.5, H, dtype=torch.float32) / H
        cw = torch.arange(0.5, W, dtype=torch.float32) / W
        coords = torch.stack(torch.meshgrid(ch, cw, indexing="ij"), dim=-1).flatten(0, 1)  # [HW, 2] (row, col)
        coords = 2.0 * coords - 1.0
        ang = 2 * math.pi * coords[:, :, None] / self.periods[None, None, :]  # [HW, 2, d/4]
        ang = ang.flatten(1, 2).tile(2)  # [HW, d]: [row angles | col angles | row angles | col angles]
        return torch.sin(ang), torch.cos(ang)


def rotate_half(x):
    a, b = x.chunk(2, dim=-1)
    return torch.cat([-b, a], dim=-1)


class DinoAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = LinearKMaskedBias(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, rope):
        B, N, C = x.shape
        q, k, v = self.qkv(x).view(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        sin, cos = rope
        p = N - sin.shape[0]  # prefix tokens (cls + storage) are not rotated
        q = torch.cat([q[:, :, :p], q[:, :, p:] * cos + rotate_half(q[:, :, p:]) * sin], dim=2)
        k = torch.cat([k[:, :, :p], k[:, :, p:] * cos + rotate_half(k[:, :, p:]) * sin], dim=2)
        o = sdpa(q, k, v)
        return self.proj(o.transpose(1, 2).reshape(B, N, C))


class LayerScale(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), 1e-5))

    def forward(self, x):
        return x * self.gamma


class SwiGLUFFN(nn.Module):
    def __init__(self, dim, hidden, align_to=8):
        super().__init__()
        d = int(hidden * 2 / 3)
        d = d + (-d % align_to)
        self.w1 = nn.Linear(dim, d)
        self.w2 = nn.Linear(dim, d)
        self.w3 = nn.Linear(d, dim)

    def forward(self, x):
        return self.w3(F.silu(self.w1(x)) * self.w2(x))


class DinoBlock(nn.Module):
    def __init__(self, dim, heads, ffn_ratio, eps):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = DinoAttention(dim, heads)
        self.ls1 = LayerScale(dim)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = SwiGLUFFN(dim, int(dim * ffn_ratio))
        self.ls2 = LayerScale(dim)

    def forward(self, x, rope):
        x = x + self.ls1(self.attn(self.norm1(x), rope))
        return x + self.ls2(self.mlp(self.norm2(x)))


class PatchEmbed(nn.Module):
    def __init__(self, patch, in_chans, dim):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, dim, patch, patch)

    def forward(self, x):
        x = self.proj(x)  # [B, D, h, w]
        return x.flatten(2).transpose(1, 2), x.shape[2], x.shape[3]  # row-major tokens


class DinoV3ViT(nn.Module):
    """DinoVisionTransformer restricted to the SVG configuration family (swiglu FFN, layerscale, mask_k_bias,
    RoPE base mode, tied norms). Defaults = dinov3_vits16plus."""

    def __init__(self, patch_size=16, in_chans=3, embed_dim=384, depth=12, num_heads=6, ffn_ratio=6.0,
                 n_storage_tokens=4, rope_base=100.0, norm_eps=1e-5):
        super().__init__()
        self.n_storage_tokens = n_storage_tokens
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        if n_storage_tokens > 0:
            self.storage_tokens = nn.Parameter(torch.zeros(1, n_storage_tokens, embed_dim))
        self.mask_token = nn.Parameter(torch.zeros(1, embed_dim))  # unused at inference, but in the state dict
        self.patch_embed = PatchEmbed(patch_size, in_chans, embed_dim)
        self.rope_embed = RopeEmbed(embed_dim, num_heads, rope_base)
        self.blocks = nn.ModuleList([DinoBlock(embed_dim, num_heads, ffn_ratio, norm_eps) for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dim, eps=norm_eps)

    def forward_features(self, x):
        t, H, W = self.patch_embed(x)
        B = t.shape[0]
        pre = [self.cls_token.expand(B, -1, -1)]
        if self.n_storage_tokens > 0:
            pre.append(self.storage_tokens.expand(B, -1, -1))
        h = torch.cat(pre + [t], dim=1)
        rope = self.rope_embed(H, W)
        for blk in self.blocks:
            h = blk(h, rope)
        hn = self.norm(h)  # one norm over all tokens (untie_cls_and_patch_norms=False)
        p = 1 + self.n_storage_tokens
        return {"x_norm_clstoken": hn[:, 0], "x_storage_tokens": hn[:, 1:p], "x_norm_patchtokens": hn[:, p:],
                "x_prenorm": h}


# =============================================================================================================
# Residual ViT (torchvision VisionTransformer layout, create_small_vit_s in dino_decoder.py)
# =============================================================================================================

class TVEncoderBlock(nn.Module):
    def __init__(self, dim, heads, mlp_dim):
        super().__init__()
        self.heads = heads
        self.ln_1 = nn.LayerNorm(dim, eps=1e-6)
        # nn.MultiheadAttention only for its parameter layout: in_proj_weight [3D,D], in_proj_bias, out_proj.*
        self.self_attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Dropout(0.0), nn.Linear(mlp_dim, dim),
                                 nn.Dropout(0.0))

    def forward(self, x):
        B, N, D = x.shape
        a = self.self_attention
        h = F.linear(self.ln_1(x), a.in_proj_weight, a.in_proj_bias)
        q, k, v = h.view(B, N, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        o = sdpa(q, k, v).transpose(1, 2).reshape(B, N, D)
        x = x + a.out_proj(o)
        return x + self.mlp(self.ln_2(x))


class TVEncoder(nn.Module):
    def __init__(self, seq_len, layers, heads, dim, mlp_dim):
        super().__init__()
        self.pos_embedding = nn.Parameter(torch.zeros(1, seq_len, dim))
        self.layers = nn.Sequential(OrderedDict(
            (f"encoder_layer_{i}", TVEncoderBlock(dim, heads, mlp_dim)) for i in range(layers)))
        self.ln = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x):
        return self.ln(self.layers(x + self.pos_embedding))


class ResidualViT(nn.Module):
    """Defaults = SVG's create_small_vit_s(output_dim=8): image 256 (hard-coded), patch 16, 6 layers, 8 heads,
    width 384, mlp 1536; heads = Linear(D,D), GELU(exact), Linear(D,out). Output [B, out, N] (channels first)."""

    def __init__(self, image_size=256, patch_size=16, num_layers=6, num_heads=8, hidden_dim=384, mlp_dim=1536,
                 output_dim=8):
        super().__init__()
        self.image_size, self.patch_size = image_size, patch_size
        self.class_token = nn.Parameter(torch.zeros(1, 1, hidden_dim))
        self.conv_proj = nn.Conv2d(3, hidden_dim, patch_size, patch_size)
        self.encoder = TVEncoder((image_size // patch_size) ** 2 + 1, num_layers, num_heads, hidden_dim, mlp_dim)
        self.heads = nn.Sequential(nn.Linear(hidden_dim, hidden_dim), nn.GELU(), nn.Linear(hidden_dim, output_dim))

    def forward(self, x):
        assert x.shape[2] == self.image_size and x.shape[3] == self.image_size  # torchvision asserts this too
        t = self.conv_proj(x).flatten(2).transpose(1, 2)
        t = torch.cat([self.class_token.expand(t.shape[0], -1, -1), t], dim=1)
        t = self.encoder(t)[:, 1:]
        return self.heads(t).transpose(1, 2)


def match_distribution(h, h_vit, eps=1e-6):
    """h [B,D1,N] (DINO), h_vit [B,D2,N]. Per-channel mean / UNBIASED std over (batch, tokens), averaged over
    channels to one scalar each; statistics of the CURRENT BATCH. eps is added to the residual std only."""
    m_h = h.mean(dim=(0, 2)).mean()
    s_h = h.std(dim=(0, 2)).mean()
    m_v = h_vit.mean(dim=(0, 2)).mean()
    s_v = h_vit.std(dim=(0, 2)).mean()
    return (h_vit - m_v) / (s_v + eps) * s_h + m_h


class SVGAutoencoder(nn.Module):
    """DinoDecoder (inference part). state_dict() == official Lightning "state_dict" minus the training-loss
    module (`loss.*`: LPIPS, discriminator, logvar) which converters must ignore."""

    def __init__(self, dino_cfg, vit_cfg, dec_cfg, embed_dim=32, mask_ratio=0.1, use_outnorm=True):
        super().__init__()
        self.encoder = DinoV3ViT(**dino_cfg)
        self.extra_vit = ResidualViT(**vit_cfg)
        out = vit_cfg.get("output_dim", 8)
        if mask_ratio > 0:
            self.mask_token = nn.Parameter(torch.zeros(1, out, 1))  # training-only
        # unused in forward; official size is output_dim + embed_dim (embed_dim = config "embed_dim", 32)
        self.norm_vit = nn.LayerNorm(out + embed_dim)
        self.use_outnorm = use_outnorm
        self.decoder = Decoder(**dec_cfg)

    def encode_parts(self, x):
        """x: ImageNet-normalised images [B,3,H,W]. Returns dict with dino [B,N,D1], residual_raw [B,N,D2],
        residual [B,N,D2] (aligned), latent [B,N,D1+D2] and latent_map [B,D1+D2,H/16,W/16]."""
        h = self.encoder.forward_features(x)["x_norm_patchtokens"].transpose(1, 2)  # [B,D1,N]
        hv_raw = self.extra_vit(x)  # [B,D2,N]
        hv = match_distribution(h, hv_raw) if self.use_outnorm else hv_raw
        z = torch.cat([h, hv], dim=1)
        p = self.encoder.patch_embed.proj.kernel_size[0]
        zmap = z.reshape(z.shape[0], -1, x.shape[2] // p, x.shape[3] // p)
        return {"dino": h.transpose(1, 2), "residual_raw": hv_raw.transpose(1, 2), "residual": hv.transpose(1, 2),
                "latent": z.transpose(1, 2), "latent_map": zmap}

    def encode(self, x):
        return self.encode_parts(x)["latent_map"]

    def decode(self, z):
        return self.decoder(z)


# =============================================================================================================
# Rectified-flow sampler (rectified_flow/rectified_flow.py, sample_svg.py)
# =============================================================================================================

def shift_time(b, s):
    """t = s*b / (1 + (s-1)*b); identity when s <= 0. Python float (double) arithmetic as in the official code."""
    if s <= 0:
        return b
    return (s * b) / (1 + (s - 1) * b)


def time_grid(steps, shift):
    """Official prepare_t_seq: base = float32 linspace(0,1,steps+1); each value shifted in double precision and
    stored back as float32; dt = float32 differences."""
    base = torch.linspace(0, 1, steps + 1)
    t = torch.tensor([shift_time(b.item(), shift) for b in base], dtype=torch.float32)
    return t, t[1:] - t[:-1]


def cfg_scale(cfg_mode, w, step_i, steps, t_now):
    """Guidance scale for one model evaluation. t_now: time of that evaluation (t_i, or t_{i+1} for the Heun
    corrector, which is passed the SAME step_i). Returns None for the cfg_star branch (handled by caller)."""
    if cfg_mode == "constant":
        return w
    if cfg_mode == "late":
        return w if (step_i + 1) / steps > 0.5 else 1.0
    if "early" in cfg_mode:
        return w if t_now > float(cfg_mode.split("-")[1]) else 1.0
    if cfg_mode == "linear":
        return 1.0 + (w - 1.0) * (step_i + 1) / steps
    if "cfg_star" in cfg_mode:
        return None
    raise ValueError(f"Unknown cfg_mode: {cfg_mode}")


def guided_velocity(model, z, t_now, y, y_null, w, cfg_mode, step_i, steps, log=None):
    B, T, C = z.shape
    tt = torch.full((B,), float(t_now))

    def v(lbl):
        out = model(z, tt, lbl)
        return out[..., :C] if out.shape[2] != C else out  # learn_sigma: first half of the channels

    vc = v(y)
    if y_null is None:
        return vc
    vu = v(y_null)
    if log is not None:
        log.append((vc, vu))
    s = cfg_scale(cfg_mode, w, step_i, steps, float(tt[0]))
    if s is None:  # "cfg_star-<skip>-<ratio>"
        _, skip, ratio = cfg_mode.split("-")
        return -vu * float(ratio) if step_i < int(skip) else (1 - w) * vu + w * vc
    return vu + s * (vc - vu)


@torch.no_grad()
def rf_sample(model, z, y, y_null=None, steps=25, cfg=4.0, mode="euler", shift=0.15, cfg_mode="constant",
              trajectory=None, vlog=None):
    """z: noise at t=0 [B,T,C] (normalised latent space). Returns z at t=1. trajectory: optional list receiving
    z after every step; vlog: optional list receiving (v_cond, v_uncond) of every model evaluation."""
    t, dt = time_grid(steps, shift)
    for i in range(steps):
        v0 = guided_velocity(model, z, t[i], y, y_null, cfg, cfg_mode, i, steps, vlog)
        if mode == "euler":
            z = z + dt[i] * v0
        elif mode == "heun":  # corrector also on the last step (t_{N} = 1)
            zp = z + dt[i] * v0
            v1 = guided_velocity(model, zp, t[i + 1], y, y_null, cfg, cfg_mode, i, steps, vlog)
            z = z + 0.5 * dt[i] * (v0 + v1)
        else:
            raise NotImplementedError(mode)
        if trajectory is not None:
            trajectory.append(z.clone())
    return z


def denormalize(z, mean, std):
    """z [B,T,C] normalised -> raw latent; mean/std as in dinov3_sp_stats.pt ([1,1,C'] sliced to C)."""
    C = z.shape[2]
    return z * std[:, :, :C] + mean[:, :, :C]


def tokens_to_map(z):
    """[B,T,C] (row-major tokens) -> [B,C,h,w]."""
    B, T, C = z.shape
    g = int(round(T ** 0.5))
    return z.permute(0, 2, 1).reshape(B, C, g, g)
