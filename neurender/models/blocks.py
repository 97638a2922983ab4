"""Building blocks shared by the generators: convolution stages, the CSPup block, FiLM, the parameter MLP."""

from __future__ import annotations

import torch
from torch import nn

from neurender.layout import N_PARAMS


def clamp_unit(x: torch.Tensor) -> torch.Tensor:
    """Clamp to [0, 1] in the forward pass, identity gradient in the backward pass (straight-through).

    A sigmoid output saturates on the black background that covers most pixels: its logits run to -inf and
    the object pixels' gradients vanish with them, so training collapses to an all-black image.
    """
    return x + (x.clamp(0, 1) - x).detach()


def window_points(origin: torch.Tensor, size: int, resolution: int, margin: int = 0) -> torch.Tensor:
    """NDC centres of the pixels of square windows of an R x R frame (as ``scene.pixel_centres_ndc``, rows
    negated), row by row: origin (B, 2) int64 top-left pixels (row, column) -> (B, (S + 2m)^2, 2) float32 for
    windows of S = `size` pixels widened by `margin` on each side. Pixels outside the frame continue its grid."""
    span = torch.arange(-margin, size + margin, device=origin.device)
    rows = (origin[:, :1] + span).double()
    cols = (origin[:, 1:] + span).double()
    x = ((cols + 0.5) / resolution * 2 - 1).float()
    y = (-((rows + 0.5) / resolution * 2 - 1)).float()
    n = len(span)
    return torch.stack([x[:, None, :].expand(-1, n, -1), y[:, :, None].expand(-1, -1, n)], -1).view(-1, n * n, 2)


def zero_linear(layer: nn.Linear) -> nn.Linear:
    """The layer with weight and bias set to 0 (a head or modulation that starts as a no-op); returns it."""
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class _ClampTowards(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, low: float, high: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.low, ctx.high = low, high
        return x.clamp(low, high)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (x,) = ctx.saved_tensors
        passes = ((x >= ctx.low) | (grad < 0)) & ((x <= ctx.high) | (grad > 0))
        return grad * passes, None, None


def clamp_towards(x: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """Clamp to [low, high] in the forward pass; in the backward pass the gradient passes where x is in range
    or where a descent step moves it back towards the range, and is 0 where it would push x further out.

    So a clamped output is exact (a kink, not a smooth bend) and still learns its way back when it is clamped
    on the wrong side, without drifting without bound where the clamp is right.
    """
    return _ClampTowards.apply(x, low, high)


def norm_layer(kind: str, channels: int) -> nn.Module:
    """'batch', 'instance' (affine) or 'none'."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    return nn.Identity()


def conv_block(c_in: int, c_out: int, norm: str, kernel: int = 3) -> nn.Sequential:
    """Convolution (same padding) + normalisation + LeakyReLU(0.2)."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=norm == "none"),
                         norm_layer(norm, c_out), nn.LeakyReLU(0.2, inplace=True))


class ParamNorm(nn.Module):
    """Standardises the parameter vector with statistics of the training data: (B, 10) -> (B, 10).

    The encoding's scales are fixed across presets, so within one preset some columns barely vary (on `easy` the
    sphere position has 1/16 of the spread of the colours) and a network learns them slowly. The trainer calls
    `fit` once on the training split; mean and std are buffers, saved and restored with the weights.
    """

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.zeros(N_PARAMS))
        self.register_buffer("std", torch.ones(N_PARAMS))

    def fit(self, params: torch.Tensor) -> None:
        """params: (N, 10) encoded training scenes."""
        self.mean.copy_(params.mean(0))
        self.std.copy_(params.std(0).clamp(min=1e-3))

    def forward(self, params: torch.Tensor) -> torch.Tensor:
        return (params - self.mean) / self.std


def param_embedding(width: int) -> nn.Sequential:
    """Two-layer MLP from the parameter vector to a scene embedding: (B, 10) -> (B, width)."""
    return nn.Sequential(nn.Linear(N_PARAMS, width), nn.LeakyReLU(0.2, inplace=True),
                         nn.Linear(width, width), nn.LeakyReLU(0.2, inplace=True))


class ParamsToMap(nn.Module):
    """MLP from the parameter vector to a 4x4 feature map: (B, 10) -> (B, C, 4, 4)."""

    def __init__(self, channels: int, hidden: int = 256):
        super().__init__()
        self.channels = channels
        self.mlp = nn.Sequential(nn.Linear(N_PARAMS, hidden), nn.LeakyReLU(0.2, inplace=True),
                                 nn.Linear(hidden, channels * 16), nn.LeakyReLU(0.2, inplace=True))

    def forward(self, params: torch.Tensor) -> torch.Tensor:
        return self.mlp(params).view(-1, self.channels, 4, 4)


class CSPUp(nn.Module):
    """Cross-stage-partial upsampling (Scaled-YOLOv4 style): (B, C_in, H, W) -> (B, C_out, 2H, 2W).

    The channels are split in two halves: one is only upsampled (a cheap shortcut), the other is upsampled and
    goes through `depth` convolution blocks; the halves are concatenated and mixed by a 1x1 transition.
    """

    def __init__(self, c_in: int, c_out: int, norm: str, depth: int = 2):
        super().__init__()
        self.half = c_in // 2
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.blocks = nn.Sequential(*[conv_block(c_in - self.half if i == 0 else c_out // 2, c_out // 2, norm)
                                      for i in range(depth)])
        self.transition = conv_block(self.half + c_out // 2, c_out, norm, kernel=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut, rest = self.up(x).split([self.half, x.shape[1] - self.half], dim=1)
        return self.transition(torch.cat([shortcut, self.blocks(rest)], dim=1))


class FiLM(nn.Module):
    """Feature-wise modulation by an embedding: x * (1 + gamma(e)) + beta(e), x (B, C, H, W), e (B, E)."""

    def __init__(self, embedding: int, channels: int):
        super().__init__()
        self.affine = zero_linear(nn.Linear(embedding, 2 * channels))

    def forward(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.affine(e)[:, :, None, None].chunk(2, dim=1)
        return x * (1 + gamma) + beta
