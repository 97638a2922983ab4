"""Pool of easy scenes whose exact image is dim (max luma < 0.4) and whose strongest Canny gradient lies near
Canny's high threshold (0.2): [0.12, 0.32]. Seed 777 (no test or training seed)."""
import numpy as np, torch, sys, time
import torch.nn.functional as F
from neurender.presets import PRESETS, sample_scenes
from neurender.raster import render_spheres_uint8
torch.set_num_threads(2)
x = torch.arange(-4, 5, dtype=torch.float64); g = torch.exp(-x**2/2); g /= g.sum()
def magnitude(l):  # (N, H, W) float64 -> (N,) max Sobel magnitude of Gaussian-smoothed luma
    s = l[:, None]
    s = F.conv2d(F.pad(s, (4, 4, 0, 0)), g.view(1, 1, 1, 9))
    s = F.conv2d(F.pad(s, (0, 0, 4, 4)), g.view(1, 1, 9, 1))
    p = F.pad(s, (1, 1, 1, 1), mode="replicate")
    kx = torch.tensor([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=torch.float64)
    gx = F.conv2d(p, kx.view(1, 1, 3, 3)); gy = F.conv2d(p, kx.t().reshape(1, 1, 3, 3))
    return torch.hypot(gx, gy).amax((1, 2, 3))
keep = []; t0 = time.time(); n = int(sys.argv[1]); chunk = 8192
w = torch.tensor([0.2125, 0.7154, 0.0721], dtype=torch.float64)
for start in range(0, n, chunk):
    p = sample_scenes(PRESETS["easy"], 777, np.arange(start, start + chunk))
    img = render_spheres_uint8(torch.from_numpy(p))[..., :3].double() / 255
    l = img @ w
    dim = (l.amax((1, 2)) < 0.4).numpy()
    m = magnitude(l[dim])
    keep.append(p[dim][((m > 0.12) & (m < 0.32)).numpy()])
pool = np.concatenate(keep); np.save(sys.argv[2], pool)
print(len(pool), "of", n, "in %.0f s" % (time.time() - t0))
