"""A conditional neural field: a per-pixel network evaluated in a frame that it places on the image.

The generator sees only the scene encoding (``scene.encode_params``, plus the fixed functions of it in
``scene_features``) and the fixed NDC coordinates of the camera's pixel centres. From the encoding an MLP
computes a scene embedding ``e``; a learned affine frame (a spatial transformer) maps each pixel's coordinates
``p`` to ``q = A(e) (p - t(e))``; an MLP over ``q``, its squared length and Fourier features of ``q``,
modulated by FiLM from ``e``, gives per-pixel features; a coverage logit and an RGB colour are read from them,
the colour through an output layer whose weights are a function of ``e`` (so the diffuse colour can scale the
shading). The image is the colour where the coverage logit is positive, black elsewhere.

Two output layers (``shading``): ``free`` reads RGB directly; ``phong`` (the ``phong_field`` architecture)
reads two scalars per pixel, a diffuse factor ``a`` and a specular term ``s``, and composes them the way the
scene's shading does: ``clamp(AMBIENT + kd a + s, 0, 1)`` with ``a`` and ``s`` clamped to [0, 1] and ``kd`` the
scene's diffuse colour (a decoding of the input). The clamps make the terminator, the ambient floor and the
saturated highlights exact kinks where a smooth network draws bends, and those bends are what an edge detector
sees in the 8-bit image. The network still computes every per-pixel quantity itself.

The near plane cuts spheres that come within ``near`` of the camera, and the camera sees through the cut (back
faces are culled). The cut's outline is the projection of the circle where the plane meets the sphere, a circle
in the image since the plane is parallel to it: ``near_cut`` gives its centre and radius, fixed functions of the
parameters like ``u`` and ``rho``. With ``cut`` (the ``phong_field`` architecture) a second learned frame
starts there and the coverage logit is the smaller of the sphere's and the cut's, so covered means inside the
sphere's outline and outside the cut's.

The frame starts at the sphere centre's projection ``u`` with scale ``1 / rho`` (``rho`` the apparent radius,
both in ``scene_features``); learned heads move, scale and shear it from there. Trained well, the silhouette is
the unit circle of the frame, and the shading is a function of ``q`` and the scene.

Because every pixel is computed independently, the network trains on a sample of pixels per scene
(``forward(params, pixels)``) and renders whole frames at inference (``forward(params)``).

With ``coverage_cap`` B the learned part of the coverage logit is capped smoothly at B (``B - softplus(B -
c)``) and the slope is held at SLOPE_FLOOR or more, so the logit ``<= B + slope (1 - r2)`` is positive only
where ``r2 < 1 + B / slope <= 1 + B / SLOPE_FLOOR``: an ellipse in the image for every scene, known before any
pixel is evaluated (``coverage_spans``). (Trained without the floor, a field lets the slope fall towards 0 on
scenes whose sphere is out of sight and keeps its learned part far below 0 there instead.) Whole frames without
gradients then evaluate only the pixels inside it (grown by a pixel) and leave the rest black, which is what
evaluating them would give: the same images, several times faster (``render_frames``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from neurender.layout import N_PARAMS
from neurender.models.blocks import ParamNorm, clamp_towards, clamp_unit, zero_linear
from neurender.models.projection import N_FEATURES, near_cut, scene_features
from neurender.scene import AMBIENT, DEFAULT_CAMERA, encoded_diffuse, pixel_centres_ndc

INFERENCE_IMAGES = 4  # images per chunk when rendering whole frames without gradients, at 128 px...
INFERENCE_PIXELS = INFERENCE_IMAGES * 128 * 128  # ... and pixels per chunk at any size: larger frames are
# evaluated in pieces of at most this many pixels, so that memory does not grow with the resolution
Q_LIMIT = 8.0  # frame coordinates seen by the per-pixel layers are clamped to +-this (radii)...
R2_LIMIT = 32.0  # ... and their squared length to this: far pixels of tiny spheres reach |q| ~ 100
SHARPNESS_LIMIT = 6.0  # the coverage slope is 20 exp(sharpness), sharpness clamped to at most this
SLOPE_FLOOR = 1.0  # with coverage_cap, the coverage slope is at least this: the covered ellipse r2 < 1 + cap
SCENE_ROWS = 16  # batches of scenes, and pixel counts per scene in whole frames, are padded to a multiple of this
CUT_SLOPE = 4.0  # the near-plane cut's coverage logit per pixel from its outline, before its learned sharpness
SHADINGS = {"free": 3, "phong": 2}  # output layers and the values per pixel they read


class Trunk(NamedTuple):
    """The per-pixel network's values at K points of B scenes."""

    e: torch.Tensor  # (B, E) scene embedding
    q: torch.Tensor  # (B, K, 2) frame coordinates, clamped to +-Q_LIMIT
    r2: torch.Tensor  # (B, K, 1) their squared length, clamped to R2_LIMIT
    x: torch.Tensor  # (B, K, W) the last layer's features
    logit: torch.Tensor  # (B, K) coverage logit
    out: torch.Tensor  # (B, K, C) the output layer's values (SHADINGS: C = 3 RGB or 2 Phong terms)


class SceneTerms(NamedTuple):
    """The per-pixel network's per-scene inputs, for B scenes."""

    e: torch.Tensor  # (B, E) scene embedding
    centre: torch.Tensor  # (B, 2) the frame's centre, NDC
    matrix: torch.Tensor  # (B, 2, 2) the frame's matrix: q = matrix (p - centre)
    films: list[tuple[torch.Tensor, torch.Tensor]]  # per layer: FiLM scale and shift, (B, 1, W) each
    slope: torch.Tensor  # (B, 1) the coverage logit's slope across the frame's unit circle
    cut: tuple[torch.Tensor, ...] | None  # the near-plane cut: learned centre (B, 2), exact radius (B, 1; 0 where
    # the plane misses the sphere), learned radius change (B, 1), slope per pixel (B, 1); None without ``cut``
    w: torch.Tensor  # (B, C, W + 1) the per-scene output layer's weights and bias


class FieldGenerator(nn.Module):
    """(B, 10) encoded scenes -> (B, 3, R, R) images, or (B, K, 3) colours and (B, K) coverage logits for the
    K pixels (flat indices row * R + column) chosen per scene."""

    samples_pixels = True  # the trainer may train it on sampled pixels
    family = "field"  # field, phong_field and conv_field share the trunk's weights (init_from across them)
    any_resolution = True  # every pixel is computed from its own coordinates: built at any R, the weights draw R x R

    def __init__(self, resolution: int, width: int = 64, depth: int = 4, embedding: int = 128, frequencies: int = 4,
                 shading: str = "free", cut: bool = False, coverage_cap: float | None = None,
                 trained_resolution: int | None = None):
        super().__init__()
        if shading not in SHADINGS:
            raise ValueError(f"unknown shading {shading!r}; known: {', '.join(SHADINGS)}")
        if coverage_cap is not None and not 0 < coverage_cap < math.inf:
            raise ValueError(f"coverage_cap must be a positive number, got {coverage_cap}")
        self.shading, self.coverage_cap = shading, coverage_cap
        self.resolution, self.width, self.frequencies = resolution, width, frequencies
        # the near cut's learned offsets are in pixels of the size the weights trained at, whatever R draws
        self.cut_pixel = 2 / (trained_resolution or resolution)
        self.tan_half_fov, self.near = DEFAULT_CAMERA.tan_half_fov, DEFAULT_CAMERA.near
        self.param_norm = ParamNorm()
        self.embed = nn.Sequential(nn.Linear(N_FEATURES, embedding), nn.SiLU(), nn.Linear(embedding, embedding),
                                   nn.SiLU(), nn.Linear(embedding, embedding), nn.SiLU())
        self.frame = zero_linear(nn.Linear(embedding, 6))  # offset (2, in radii) and 2x2 residual of the matrix
        # log-slope of the coverage logit across the frame's unit circle
        self.sharpness = zero_linear(nn.Linear(embedding, 1))
        # the near-plane cut's circle: centre offset (2) and radius change (1) in pixels, log-sharpness (1)
        self.cut = zero_linear(nn.Linear(embedding, 4)) if cut else None
        n_pixel = 3 + 4 * frequencies
        self.layers = nn.ModuleList(nn.Linear(n_pixel if i == 0 else width, width) for i in range(depth))
        self.films = nn.ModuleList(zero_linear(nn.Linear(embedding, 2 * width)) for _ in range(depth))
        self.coverage = nn.Linear(width, 1)
        # per-scene output layer (weights and bias): RGB, or the diffuse factor and specular term
        self.colour = nn.Linear(embedding, SHADINGS[shading] * (width + 1))
        if shading == "phong":  # starts at the ambient colour, and the trunk's gradients at 0
            zero_linear(self.colour)
        ndc = pixel_centres_ndc(resolution).to(torch.float32)
        y, x = torch.meshgrid(-ndc, ndc, indexing="ij")
        self.register_buffer("pixels", torch.stack([x, y], -1).reshape(-1, 2), persistent=False)

    def pixel_outputs(self, params: torch.Tensor, pixels: torch.Tensor | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        """params (B, 10), pixels (B, K) int64 or None (every pixel) -> colour (B, K, 3), logit (B, K)."""
        p = self.pixels[None] if pixels is None else self.pixels[pixels]
        trunk = self.trunk(params, p)
        return self.compose(params, trunk.out), trunk.logit

    def scene_terms(self, params: torch.Tensor) -> SceneTerms:
        """The per-scene half of the network, (B, 10) -> ``SceneTerms``. Computed on the batch padded to a
        multiple of SCENE_ROWS rows (repeating the last), so that a scene's terms do not depend on how many
        scenes share its batch: small matrix products take other kernels, which round differently."""
        rows = len(params)
        padded = torch.cat([params, params[-1:].expand(-SCENE_ROWS * (-rows // SCENE_ROWS) - rows, -1)])
        features = scene_features(padded, self.tan_half_fov)
        features = torch.cat([self.param_norm(features[:, :N_PARAMS]), features[:, N_PARAMS:]], 1)
        e = self.embed(features)
        u, log_rho = features[:, N_PARAMS:N_PARAMS + 2], features[:, N_PARAMS + 2:N_PARAMS + 3]
        rho = log_rho.exp()
        frame = self.frame(e)
        centre = u + rho * frame[:, :2]
        matrix = (torch.eye(2, device=params.device) + frame[:, 2:].view(-1, 2, 2)) / rho[:, :, None]
        films = [film(e)[:rows, None].chunk(2, -1) for film in self.films]
        slope = 20 * self.sharpness(e).clamp(max=SHARPNESS_LIMIT).exp()
        if self.coverage_cap is not None:
            slope = slope.clamp(min=SLOPE_FLOOR)
        cut = None
        if self.cut is not None:
            cut_centre, cut_radius = near_cut(padded, self.tan_half_fov, self.near)
            shift, pixel = self.cut(e), self.cut_pixel
            cut = ((cut_centre + pixel * shift[:, :2])[:rows], cut_radius[:rows], (pixel * shift[:, 2:3])[:rows],
                   (CUT_SLOPE * shift[:, 3:].clamp(max=SHARPNESS_LIMIT).exp())[:rows])
        w = self.colour(e).view(-1, SHADINGS[self.shading], self.width + 1)[:rows]
        return SceneTerms(e[:rows], centre[:rows], matrix[:rows], films, slope[:rows], cut, w)

    def coverage_spans(self, params: torch.Tensor, margin: float = 0.0) -> torch.Tensor:
        """params (B, 10) -> (B, R, 2) int64: per row of the image the columns [left, right) outside which every
        pixel's coverage logit is provably <= -margin (needs ``coverage_cap``; see the module's docstring; margin
        >= 0, in logit units). No gradients.

        The logit is at most ``cap + slope (1 - |q|^2)``, so the pixels whose logit can exceed -margin lie in the
        ellipse |q|^2 < b = 1 + (coverage_cap + margin) / slope; the spans are the pixel centres inside that
        ellipse grown by a pixel (in q units: a pixel times the frame matrix's largest singular value), so
        rounding in the network's own arithmetic cannot reach past them. The whole frame where b reaches the
        clamp of r2 (R2_LIMIT) or the frame is degenerate; empty rows where the ellipse misses them."""
        with torch.no_grad():
            terms = self.scene_terms(params)
        r, pixel = self.resolution, 2 / self.resolution
        matrix, centre = terms.matrix.double(), terms.centre.double()
        bound = 1 + (self.coverage_cap + margin) / terms.slope.double()[:, 0]  # (B,)
        grown = (bound.sqrt() + pixel * torch.linalg.matrix_norm(matrix, ord=2)) ** 2
        quad = matrix.transpose(1, 2) @ matrix  # |q|^2 = d^T quad d, d = p - centre
        a, b, c = quad[:, 0, 0, None], quad[:, 0, 1, None], quad[:, 1, 1, None]
        dy = (1 - (2 * torch.arange(r, dtype=torch.float64, device=params.device) + 1) / r) - centre[:, 1:]  # (B, R)
        disc = (b * dy) ** 2 - a * (c * dy * dy - grown[:, None])
        half = disc.clamp(min=0).sqrt()
        x_lo, x_hi = centre[:, :1] + (-b * dy - half) / a, centre[:, :1] + (-b * dy + half) / a
        # pixel column j has its centre at x = (2j + 1) / r - 1
        left = (((x_lo + 1) * r - 1) / 2).ceil().clamp(0, r)
        right = (((x_hi + 1) * r - 1) / 2).floor().add(1).clamp(0, r)
        spans = torch.stack([left, torch.where(disc >= 0, right, left)], -1)
        whole = ~(torch.isfinite(spans).all((1, 2)) & (a[:, 0] > 0) & (bound < R2_LIMIT))
        spans[whole] = torch.tensor([0.0, r], dtype=spans.dtype, device=spans.device)
        return spans.long()

    def coverable_pixels(self, params: torch.Tensor, margin: float = 0.0) -> list[torch.Tensor]:
        """params (B, 10) -> per scene the flat indices (K_b,) int64, on the CPU, of the pixels inside its
        ``coverage_spans``: every pixel whose coverage logit can exceed -margin, row by row."""
        r = self.resolution
        spans = self.coverage_spans(params, margin).cpu()
        lengths = (spans[..., 1] - spans[..., 0]).clamp(min=0)  # (B, R)
        starts = torch.arange(r)[None] * r + spans[..., 0]
        flat = lengths.flatten()
        offsets = torch.repeat_interleave(flat.cumsum(0) - flat, flat)
        pixels = (torch.arange(int(flat.sum())) - offsets + torch.repeat_interleave(starts.flatten(), flat))
        return list(pixels.split(lengths.sum(1).tolist()))

    def pixel_groups(self, params: torch.Tensor, margin: float = 0.0
                     ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """The ``coverable_pixels`` of B scenes, packed for evaluation: yields (scenes (G,), pixels (G, K), slots
        (G, K)), int64 on the scenes' device. A scene's pixels are cut into pieces of at most INFERENCE_PIXELS
        (one piece per scene up to 256 x 256), and the pieces are packed by pixel count into groups of at most
        INFERENCE_PIXELS pixels, so that memory does not grow with R. Each piece is padded to its group's largest
        count, rounded up to a multiple of SCENE_ROWS (so every matrix product has a row count that keeps its
        rounding), by repeating its first pixel. ``scenes`` names each piece's scene (one scene may fill several
        rows); ``slots`` are where each value goes in a flat (R * R + 1) frame: the pixel itself, and R * R (a
        slot to drop) for the padding, so that padding neither writes a pixel twice nor adds a gradient. Scenes
        with no such pixel are in no group."""
        n = self.resolution ** 2
        pieces = [(scene, piece) for scene, pixels in enumerate(self.coverable_pixels(params, margin))
                  for piece in pixels.split(INFERENCE_PIXELS) if len(piece)]
        counts = [-SCENE_ROWS * (-len(piece) // SCENE_ROWS) for _, piece in pieces]
        order = sorted(range(len(pieces)), key=counts.__getitem__)
        while order:
            size = 1
            while size < len(order) and (size + 1) * counts[order[size]] <= INFERENCE_PIXELS:
                size += 1
            group, order = order[:size], order[size:]
            k = counts[group[-1]]
            rows = [pieces[j][1] for j in group]
            pixels = torch.stack([torch.cat([p, p[:1].expand(k - len(p))]) for p in rows])
            slots = torch.stack([F.pad(p, (0, k - len(p)), value=n) for p in rows])
            scenes = torch.tensor([pieces[j][0] for j in group], device=params.device)
            yield scenes, pixels.to(params.device), slots.to(params.device)

    def render_frames(self, params: torch.Tensor) -> torch.Tensor:
        """Whole frames through ``pixel_groups``: (B, 10) -> (B, 3, R, R), equal to ``gated_image`` of every
        pixel."""
        r = self.resolution
        image = torch.zeros(len(params), r * r + 1, 3, device=params.device)
        for scenes, pixels, slots in self.pixel_groups(params):
            image[scenes[:, None], slots] = gated_image(*self.pixel_outputs(params[scenes], pixels))
        return image[:, :-1].reshape(-1, r, r, 3).permute(0, 3, 1, 2)

    def trunk(self, params: torch.Tensor, p: torch.Tensor) -> Trunk:
        """The per-pixel network at NDC points p (B or 1, K, 2), which may lie outside the frame: see ``Trunk``."""
        s = self.scene_terms(params)
        q = torch.einsum("bij,bkj->bki", s.matrix, p - s.centre[:, None])
        r2 = (q * q).sum(-1, keepdim=True).clamp(max=R2_LIMIT)
        x = torch.cat([q.clamp(-Q_LIMIT, Q_LIMIT), r2] + [f(q * (math.pi * 2 ** k)) for k in range(self.frequencies)
                                                         for f in (torch.sin, torch.cos)], -1)
        for layer, (gamma, beta) in zip(self.layers, s.films, strict=True):
            x = F.silu(layer(x) * (1 + gamma) + beta)
        learned = self.coverage(x).squeeze(-1)
        if self.coverage_cap is not None:
            learned = self.coverage_cap - F.softplus(self.coverage_cap - learned)
        logit = learned + s.slope * (1 - r2.squeeze(-1))
        if s.cut is not None:  # pixels outside the cut's outline, times a slope of CUT_SLOPE per pixel at first
            centre, radius, change, slope = s.cut
            pixel = 2 / self.resolution
            outside = ((p - centre[:, None]).norm(dim=-1) - radius - change) / pixel
            cut_logit = slope * outside.clamp(-self.resolution, self.resolution)
            logit = torch.where(radius > 0, torch.minimum(logit, cut_logit), logit)
        out = torch.einsum("bcw,bkw->bkc", s.w[:, :, :-1], x) + s.w[:, None, :, -1]
        return Trunk(s.e, q.clamp(-Q_LIMIT, Q_LIMIT), r2, x, logit, out)

    def compose(self, params: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """The output layer's values (B, K, C) -> colour (B, K, 3): RGB as read (free), or the Phong composition
        of the diffuse factor and the specular term (phong)."""
        if self.shading == "free":
            return out
        diffuse, specular = clamp_towards(out, 0.0, 1.0).unbind(-1)
        kd = encoded_diffuse(params)[:, None]
        return clamp_towards(AMBIENT + kd * diffuse[..., None] + specular[..., None], 0.0, 1.0)

    def forward(self, params: torch.Tensor, pixels: torch.Tensor | None = None):
        """(B, 10) -> (B, 3, R, R): ``gated_image`` of every pixel. Without gradients: with ``coverage_cap``
        through ``render_frames`` (the same images from the pixels that can be covered), without it in chunks of
        INFERENCE_PIXELS pixels (whole frames up to 256 x 256, pieces of a frame past that).

        With pixels (B, K): ``pixel_outputs`` for those pixels (through forward, so DDP sees the call)."""
        if pixels is not None:
            return self.pixel_outputs(params, pixels)
        if not torch.is_grad_enabled() and self.coverage_cap is not None:
            return self.render_frames(params)
        r = self.resolution
        if not torch.is_grad_enabled():
            frames = max(1, INFERENCE_PIXELS // (r * r))
            if len(params) > frames:
                return torch.cat([self(chunk) for chunk in params.split(frames)])
            if r * r > INFERENCE_PIXELS:  # one frame, in pieces of INFERENCE_PIXELS
                pieces = torch.arange(r * r, device=params.device).split(INFERENCE_PIXELS)
                image = torch.cat([gated_image(*self.pixel_outputs(params, piece.expand(len(params), -1)))
                                   for piece in pieces], 1)
                return image.view(-1, r, r, 3).permute(0, 3, 1, 2)
        colour, logit = self.pixel_outputs(params)
        return gated_image(colour, logit).view(-1, r, r, 3).permute(0, 3, 1, 2)


def gated_image(colour: torch.Tensor, logit: torch.Tensor) -> torch.Tensor:
    """colour (..., 3) clamped to [0, 1] where the coverage logit (...) is > 0, else black: (..., 3). The step's
    gradient is the sigmoid's (straight-through), so image losses and a discriminator reach the coverage too. The
    gate's value is exactly 0 or 1 (the sigmoid's own rounding, which differs between vectorized and scalar code,
    does not reach the image)."""
    soft = torch.sigmoid(logit)
    gate = (logit > 0).float() + (soft - soft.detach())
    return clamp_unit(colour) * gate[..., None]


def field(resolution: int, width: int = 64, depth: int = 4, embedding: int = 128, frequencies: int = 4
          ) -> FieldGenerator:
    """The conditional neural field with the free RGB output layer (FiLM and the per-scene output layer carry the
    scene)."""
    return FieldGenerator(resolution, width, depth, embedding, frequencies)


def phong_field(resolution: int, width: int = 64, depth: int = 4, embedding: int = 128, frequencies: int = 4,
                coverage_cap: float | None = None, trained_resolution: int | None = None) -> FieldGenerator:
    """The conditional neural field with the Phong-composed output layer and the near plane's cut; with
    ``coverage_cap``, whole frames evaluate only the pixels that can be covered."""
    return FieldGenerator(resolution, width, depth, embedding, frequencies, shading="phong", cut=True,
                          coverage_cap=coverage_cap, trained_resolution=trained_resolution)
