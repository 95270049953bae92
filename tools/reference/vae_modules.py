"""PyTorch reference twin of the KL-regularised autoencoder of latent diffusion (Rombach et al. 2022,
arXiv 2112.10752; github.com/CompVis/latent-diffusion and the Stable Diffusion VAE):
  * Encoder                     -> ldm/modules/diffusionmodules/model.py Encoder (double_z)
  * Downsample                  -> same file, Downsample(with_conv=True): F.pad(x, (0,1,0,1)), conv3x3 stride 2
  * DiagonalGaussian            -> ldm/modules/distributions/distributions.py DiagonalGaussianDistribution
  * AutoencoderKL               -> ldm/models/autoencoder.py AutoencoderKL (encoder, decoder, quant_conv,
                                   post_quant_conv); Lightning checkpoint {"state_dict": ...} plus loss.*
The decoder, ResnetBlock and AttnBlock are svg_modules' (the same LDM file), so state_dict() keys and shapes are
the official ones: encoder.conv_in, encoder.down.{i}.block.{j}.{norm1,conv1,norm2,conv2,nin_shortcut},
encoder.down.{i}.attn.{j}.{norm,q,k,v,proj_out}, encoder.down.{i}.downsample.conv, encoder.mid.{block_1,attn_1,
block_2}, encoder.norm_out, encoder.conv_out, quant_conv, post_quant_conv, decoder.*.

GroupNorm groups: LDM's Normalize(ch, num_groups=32). `groups(n)` builds modules with n groups instead (the tiny
Go parity fixtures use 8 so that 16-channel networks stay small); trained models keep 32.
Inference behaviour only (no dropout, timestep embedding absent as in the autoencoder: temb_ch = 0).
"""
import contextlib

import torch
import torch.nn as nn
import torch.nn.functional as F

import svg_modules as S


@contextlib.contextmanager
def groups(n):
    """Build LDM blocks (ours and svg_modules') with GroupNorm(n, ...) instead of 32 inside this context."""
    old = S.group_norm
    S.group_norm = lambda ch: nn.GroupNorm(n, ch, eps=1e-6, affine=True)
    try:
        yield
    finally:
        S.group_norm = old


class Downsample(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, 2, 0)  # no asymmetric padding in torch conv: done by hand below

    def forward(self, x):
        return self.conv(F.pad(x, (0, 1, 0, 1), mode="constant", value=0))


class Encoder(nn.Module):
    """x [B,in_channels,R,R] -> moments [B, 2*z_channels (double_z) or z_channels, R/2^(L-1), ...]."""

    def __init__(self, ch=128, ch_mult=(1, 2, 4, 4), num_res_blocks=2, attn_resolutions=(), in_channels=3,
                 resolution=256, z_channels=4, double_z=True, **ignored):
        super().__init__()
        L = len(ch_mult)
        self.num_res_blocks = num_res_blocks
        self.conv_in = nn.Conv2d(in_channels, ch, 3, 1, 1)
        in_ch_mult = (1,) + tuple(ch_mult)
        res = resolution
        self.down = nn.ModuleList()
        block_in = ch
        for lvl in range(L):
            down = nn.Module()
            down.block = nn.ModuleList()
            down.attn = nn.ModuleList()
            block_in = ch * in_ch_mult[lvl]
            block_out = ch * ch_mult[lvl]
            for _ in range(num_res_blocks):
                down.block.append(S.ResnetBlock(block_in, block_out))
                block_in = block_out
                if res in attn_resolutions:
                    down.attn.append(S.AttnBlock(block_in))
            if lvl != L - 1:
                down.downsample = Downsample(block_in)
                res //= 2
            self.down.append(down)
        self.mid = nn.Module()
        self.mid.block_1 = S.ResnetBlock(block_in, block_in)
        self.mid.attn_1 = S.AttnBlock(block_in)
        self.mid.block_2 = S.ResnetBlock(block_in, block_in)
        self.norm_out = S.group_norm(block_in)
        self.conv_out = nn.Conv2d(block_in, 2 * z_channels if double_z else z_channels, 3, 1, 1)

    def forward(self, x):
        h = self.conv_in(x)
        for lvl, down in enumerate(self.down):
            for j in range(self.num_res_blocks):
                h = down.block[j](h)
                if len(down.attn) > 0:
                    h = down.attn[j](h)
            if lvl != len(self.down) - 1:
                h = down.downsample(h)
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(h)))
        return self.conv_out(S.swish(self.norm_out(h)))


class DiagonalGaussian:
    """moments [B,2C,h,w] = mean | logvar (logvar clamped to [-30, 20]); sample() = mean + std * eps; mode() =
    mean; kl() = 0.5 * sum(mean^2 + var - 1 - logvar) over (C,h,w), one value per sample."""

    def __init__(self, moments):
        self.mean, logvar = torch.chunk(moments, 2, dim=1)
        self.logvar = torch.clamp(logvar, -30.0, 20.0)
        self.std = torch.exp(0.5 * self.logvar)
        self.var = torch.exp(self.logvar)

    def sample(self, generator=None):
        return self.mean + self.std * torch.randn(self.mean.shape, generator=generator).to(self.mean.device)

    def mode(self):
        return self.mean

    def kl(self):
        return 0.5 * torch.sum(self.mean.pow(2) + self.var - 1.0 - self.logvar, dim=[1, 2, 3])


class AutoencoderKL(nn.Module):
    """ddconfig: the official keys (ch, ch_mult, num_res_blocks, attn_resolutions, in_channels, out_ch, resolution,
    z_channels, double_z); embed_dim: the latent's channels. Images in [-1,1] (LDM convention)."""

    def __init__(self, ddconfig, embed_dim):
        super().__init__()
        dd = dict(ddconfig)
        self.encoder = Encoder(**dd)
        self.decoder = S.Decoder(z_channels=dd["z_channels"], ch=dd["ch"], out_ch=dd.get("out_ch", 3),
                                 ch_mult=dd["ch_mult"], num_res_blocks=dd["num_res_blocks"],
                                 attn_resolutions=dd["attn_resolutions"], resolution=dd["resolution"])
        self.quant_conv = nn.Conv2d(2 * dd["z_channels"], 2 * embed_dim, 1)
        self.post_quant_conv = nn.Conv2d(embed_dim, dd["z_channels"], 1)
        self.embed_dim = embed_dim

    def encode(self, x):
        return DiagonalGaussian(self.quant_conv(self.encoder(x)))

    def decode(self, z):
        return self.decoder(self.post_quant_conv(z))

    def forward(self, x, sample_posterior=True, generator=None):
        post = self.encode(x)
        z = post.sample(generator) if sample_posterior else post.mode()
        return self.decode(z), post


def latent_tokens(z):
    """[B,C,h,w] -> [B,h*w,C] (row-major tokens, the DiT's layout)."""
    return z.flatten(2).transpose(1, 2)
