"""Training-side modules around the reference twins (tools/reference/svg_modules.py).

The networks that get exported are the twins themselves (DinoV3ViT, ResidualViT, Decoder, DiT), so their
state_dict keys are the official ones. This file only adds what training needs on top:
  * dino_tokens: DINOv3 forward with iBOT patch masking (the official `mask_token` replaces masked patches),
  * DINOHead: DINO projection head (MLP -> L2 normalise -> weight-normed prototypes),
  * DinoNet: backbone + DINO head + iBOT head, one forward for a multi-crop batch (so DDP sees one call),
  * AENet: residual ViT + decoder (+ official training-time `mask_token`) on top of a frozen DINO,
  * fp32 GroupNorm under bf16 autocast, and the builders from a preset.
"""
import copy
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

import presets as P
import svg_modules as S
from svg_modules import (DiT, Decoder, DinoV3ViT, ResidualViT, SVGAutoencoder, match_distribution,  # noqa: F401
                         rf_sample, tokens_to_map)


# ------------------------------------------------------------------------------------------------------------------
# Device-aware versions of two twin methods (the twins build their tables on the CPU; same math)
# ------------------------------------------------------------------------------------------------------------------

def _frequencies(t, dim, max_period=10000):
    half = dim // 2
    f = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    a = t.float()[:, None] * f[None]
    e = torch.cat([torch.cos(a), torch.sin(a)], dim=-1)
    if dim % 2:
        e = torch.cat([e, torch.zeros_like(e[:, :1])], dim=-1)
    return e


def _rope_forward(self, H, W):
    dev = self.periods.device
    ch = torch.arange(0.5, H, dtype=torch.float32, device=dev) / H
    cw = torch.arange(0.5, W, dtype=torch.float32, device=dev) / W
    coords = torch.stack(torch.meshgrid(ch, cw, indexing="ij"), dim=-1).flatten(0, 1)
    coords = 2.0 * coords - 1.0
    ang = 2 * math.pi * coords[:, :, None] / self.periods[None, None, :]
    ang = ang.flatten(1, 2).tile(2)
    return torch.sin(ang), torch.cos(ang)


S.TimestepEmbedder.frequencies = staticmethod(_frequencies)
S.RopeEmbed.forward = _rope_forward


# ------------------------------------------------------------------------------------------------------------------
# bf16 helpers
# ------------------------------------------------------------------------------------------------------------------

class FP32GroupNorm(nn.GroupNorm):
    """GroupNorm computed in float32 even inside bf16 autocast (same parameters / keys as nn.GroupNorm)."""

    def forward(self, x):
        with torch.autocast(device_type=x.device.type, enabled=False):
            return F.group_norm(x.float(), self.num_groups, self.weight, self.bias, self.eps)


class FP32LayerNorm(nn.LayerNorm):
    """LayerNorm computed in float32 inside bf16 autocast (CPU autocast in torch 1.13 leaves layer_norm alone and
    then fails on a bf16 input with fp32 weights, e.g. the DiT's per-head q/k norms)."""

    def forward(self, x):
        with torch.autocast(device_type=x.device.type, enabled=False):
            return F.layer_norm(x.float(), self.normalized_shape, self.weight, self.bias, self.eps)


def fp32_norms(module):
    """Swap every GroupNorm / LayerNorm for its fp32 twin (same parameters, same state_dict keys)."""
    for m in module.modules():
        if type(m) is nn.GroupNorm:
            m.__class__ = FP32GroupNorm
        elif type(m) is nn.LayerNorm:
            m.__class__ = FP32LayerNorm
    return module


# ------------------------------------------------------------------------------------------------------------------
# DINOv3 backbone: init + masked forward
# ------------------------------------------------------------------------------------------------------------------

def build_dino(cfg):
    d = cfg["dino"]
    m = fp32_norms(DinoV3ViT(**P.dino_cfg(cfg)))
    # DINOv3-style init: trunc-normal 0.02 linear weights, zero biases, tokens N(0, 0.02^2)
    for n, p in m.named_parameters():
        if n.endswith("ls1.gamma") or n.endswith("ls2.gamma"):
            nn.init.constant_(p, d["ls_init"])
        elif "norm" in n:
            continue
        elif n.endswith("bias"):
            nn.init.zeros_(p)
        elif p.ndim >= 2 or "token" in n:
            nn.init.trunc_normal_(p, std=0.02)
    return m


def dino_tokens(vit, x, masks=None):
    """DinoV3ViT.forward_features with optional iBOT masking. x [B,3,H,W] ImageNet-normalised; masks [B,N] bool
    (True = patch replaced by mask_token). Returns the final-normed tokens [B, 1+S+N, D] and the list of block
    outputs (pre-norm), used by the perceptual loss."""
    t, H, W = vit.patch_embed(x)
    if masks is not None:
        t = torch.where(masks[..., None], vit.mask_token.to(t.dtype)[None], t)
    B = t.shape[0]
    pre = [vit.cls_token.expand(B, -1, -1)]
    if vit.n_storage_tokens > 0:
        pre.append(vit.storage_tokens.expand(B, -1, -1))
    h = torch.cat(pre + [t.to(pre[0].dtype)], dim=1)
    rope = vit.rope_embed(H, W)
    feats = []
    for blk in vit.blocks:
        h = blk(h, rope)
        feats.append(h)
    return vit.norm(h), feats


def patch_features(vit, x):
    """x_norm_patchtokens [B,N,D] (no masking)."""
    hn, _ = dino_tokens(vit, x)
    return hn[:, 1 + vit.n_storage_tokens:]


class DINOHead(nn.Module):
    """DINO projection head: 3-layer MLP (GELU) -> bottleneck -> L2 normalise -> weight-normed Linear to K
    prototypes with the norm fixed to 1 (norm_last_layer)."""

    def __init__(self, in_dim, out_dim, hidden, bottleneck):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
                                 nn.Linear(hidden, bottleneck))
        for m in self.mlp:
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
        self.last_layer = nn.utils.weight_norm(nn.Linear(bottleneck, out_dim, bias=False))
        self.last_layer.weight_g.data.fill_(1.0)
        self.last_layer.weight_g.requires_grad = False

    def forward(self, x):
        x = F.normalize(self.mlp(x), dim=-1, p=2)
        return self.last_layer(x)


class DinoNet(nn.Module):
    """Backbone + DINO (class token) head + iBOT (masked patch) head."""

    def __init__(self, cfg):
        super().__init__()
        d = cfg["dino"]
        self.backbone = build_dino(cfg)
        self.dino_head = DINOHead(d["embed_dim"], d["head_out"], d["head_hidden"], d["head_bottleneck"])
        self.ibot_head = DINOHead(d["embed_dim"], d["head_out"], d["head_hidden"], d["head_bottleneck"])
        self.n_prefix = 1 + d["n_storage_tokens"]

    def forward(self, globals_, locals_=None, masks=None, apply_mask=True):
        """globals_ [2B,3,G,G], locals_ [nB,3,L,L] or None, masks [2B,Ng] bool or None.
        Returns cls logits [(2+n)B, K] (globals first) and patch logits at masked positions [M, K].
        The student applies the masks to its input; the teacher (apply_mask=False) sees the full image and only
        reads its patch outputs at the masked positions."""
        g, _ = dino_tokens(self.backbone, globals_, masks if apply_mask else None)
        cls = [g[:, 0]]
        if locals_ is not None:
            loc, _ = dino_tokens(self.backbone, locals_)
            cls.append(loc[:, 0])
        cls = torch.cat(cls).float()
        out_cls = self.dino_head(cls)
        out_patch = None
        if masks is not None:
            out_patch = self.ibot_head(g[:, self.n_prefix:][masks].float())
        return out_cls, out_patch, g[:, 0]


def koleo(x, eps=1e-8):
    """KoLeo regulariser (DINOv2): -mean log distance of each L2-normalised feature to its nearest neighbour in the
    batch; spreads the class tokens and works against the uniform-output plateau of small DINO runs."""
    x = F.normalize(x.float(), dim=-1)
    sim = x @ x.T
    sim.fill_diagonal_(-2.0)
    nn_idx = sim.argmax(dim=1)
    return -torch.log((x - x[nn_idx]).norm(dim=-1) + eps).mean()


def new_teacher(student, cfg):
    """A fresh DinoNet with the student's weights (deepcopy does not work on weight-normed modules)."""
    t = DinoNet(cfg)
    t.load_state_dict(student.state_dict())
    for p in t.parameters():
        p.requires_grad = False
    return t


# ------------------------------------------------------------------------------------------------------------------
# Autoencoder: residual ViT + decoder on top of a frozen DINO
# ------------------------------------------------------------------------------------------------------------------

def build_resvit(cfg):
    m = fp32_norms(ResidualViT(**P.vit_cfg(cfg)))
    nn.init.normal_(m.encoder.pos_embedding, std=0.02)  # torchvision init
    return m


def build_decoder(cfg):
    return fp32_norms(Decoder(**P.dec_cfg(cfg)))


class AENet(nn.Module):
    """Trainable half of SVG's autoencoder. forward(x_norm, dino_patch [B,N,D]) -> recon [B,3,H,W] in ~[-1,1].
    Official training-time masking: with probability mask_ratio a sample's whole residual [8,N] is replaced by
    `mask_token` (before the distribution alignment), so the decoder also learns to decode DINO alone."""

    def __init__(self, cfg):
        super().__init__()
        self.extra_vit = build_resvit(cfg)
        self.decoder = build_decoder(cfg)
        self.mask_ratio = cfg["ae"]["mask_ratio"]
        self.mask_token = nn.Parameter(torch.zeros(1, cfg["resvit"]["output_dim"], 1))
        nn.init.normal_(self.mask_token, std=0.02)
        self.grid = P.latent_grid(cfg)

    def encode(self, x_norm, dino_patch, g=None):
        h = dino_patch.transpose(1, 2).float()  # [B,D,N]
        hv = self.extra_vit(x_norm).float()  # [B,8,N]
        if self.training and self.mask_ratio > 0 and g is not None:
            B, D, N = hv.shape
            f = (torch.rand(B, generator=g) < self.mask_ratio).float().view(B, 1, 1).to(hv.device)
            hv = hv * (1 - f) + self.mask_token.expand(B, D, N) * f
        hv = match_distribution(h, hv)
        z = torch.cat([h, hv], dim=1)
        return z.view(z.shape[0], -1, self.grid, self.grid)

    def forward(self, x_norm, dino_patch, g=None):
        return self.decoder(self.encode(x_norm, dino_patch, g))


# ------------------------------------------------------------------------------------------------------------------
# Frozen encoders from earlier phases
# ------------------------------------------------------------------------------------------------------------------

def load_frozen_dino(ck_dino, cfg, device):
    vit = fp32_norms(DinoV3ViT(**P.dino_cfg(cfg)))
    vit.load_state_dict(ck_dino["teacher_backbone"], strict=True)
    vit.to(device).eval()
    for p in vit.parameters():
        p.requires_grad = False
    return vit


def load_frozen_ae(ck_ae, cfg, device):
    ae = AENet(cfg)
    ae.load_state_dict(ck_ae["model"], strict=True)
    ae.to(device).eval()
    for p in ae.parameters():
        p.requires_grad = False
    return ae


def build_dit(cfg):
    m = fp32_norms(DiT(**P.dit_cfg(cfg)))
    # DiT init: xavier linear weights, zero biases, zero adaLN and final layer (adaLN-Zero), N(0,0.02) embeddings
    for mod in m.modules():
        if isinstance(mod, nn.Linear):
            nn.init.xavier_uniform_(mod.weight)
            if mod.bias is not None:
                nn.init.zeros_(mod.bias)
    nn.init.normal_(m.y_embedder.embedding_table.weight, std=0.02)
    nn.init.normal_(m.t_embedder.mlp[0].weight, std=0.02)
    nn.init.normal_(m.t_embedder.mlp[2].weight, std=0.02)
    for blk in m.blocks:
        nn.init.zeros_(blk.adaLN_modulation[-1].weight)
        nn.init.zeros_(blk.adaLN_modulation[-1].bias)
        if isinstance(blk.attn.q_norm, nn.LayerNorm):
            nn.init.ones_(blk.attn.q_norm.weight), nn.init.zeros_(blk.attn.q_norm.bias)
            nn.init.ones_(blk.attn.k_norm.weight), nn.init.zeros_(blk.attn.k_norm.bias)
    nn.init.zeros_(m.final_layer.adaLN_modulation[-1].weight)
    nn.init.zeros_(m.final_layer.adaLN_modulation[-1].bias)
    nn.init.zeros_(m.final_layer.linear.weight)
    nn.init.zeros_(m.final_layer.linear.bias)
    return m


def copy_module(m):
    c = copy.deepcopy(m)
    for p in c.parameters():
        p.requires_grad = False
    return c


def n_params(m):
    return sum(p.numel() for p in m.parameters())


@torch.no_grad()
def sample_euler(model, noise, y, num_classes, steps=25, cfg=4.0, shift=0.15):
    """Rectified-flow Euler sampler with constant CFG, same grid and convention as the twin's rf_sample
    (t=0 noise, t=1 data; official time grid), device-aware, cond+uncond batched in one forward."""
    t, dt = S.time_grid(steps, shift)
    z = noise
    B, T, C = z.shape
    y_null = torch.full_like(y, num_classes)
    for i in range(steps):
        tt = torch.full((2 * B,), float(t[i]), device=z.device)
        out = model(torch.cat([z, z]), tt, torch.cat([y, y_null]))[..., :C].float()
        vc, vu = out[:B], out[B:]
        z = z + float(dt[i]) * (vu + cfg * (vc - vu))
    return z


def save_grid(path, imgs, nrow):
    """imgs [N,3,H,W] in [-1,1] -> PNG grid."""
    import numpy as np
    from PIL import Image
    x = ((imgs.float().clamp(-1, 1) + 1) * 127.5).round().byte().cpu()
    N, _, H, W = x.shape
    rows = (N + nrow - 1) // nrow
    grid = torch.full((3, rows * (H + 2) + 2, nrow * (W + 2) + 2), 255, dtype=torch.uint8)
    for k in range(N):
        r, c = divmod(k, nrow)
        grid[:, 2 + r * (H + 2):2 + r * (H + 2) + H, 2 + c * (W + 2):2 + c * (W + 2) + W] = x[k]
    Image.fromarray(np.ascontiguousarray(grid.permute(1, 2, 0).numpy())).save(path)
