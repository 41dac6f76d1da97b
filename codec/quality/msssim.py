"""Differentiable MS-SSIM against a fixed target, for encoder-side refinement and training.

Refinement scores hundreds of candidate reconstructions of one image, training each
iteration's reconstructions of the same patches: the target's half
of every SSIM statistic (its Gaussian-blurred mean and variance at each scale) is the same
each time, so it is computed once here, and the candidate's three blurred maps (R, R², R·X)
go through one depthwise convolution per direction instead of pytorch-msssim's ten.
Same definition as pytorch-msssim (its window, constants, weights and relu; tests check
value and gradient against it): at Kodak's size the forward and backward pass take about 3x
less time (`python -m codec.quality.msssim` prints the comparison on this machine).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
K1, K2 = 0.01, 0.03


def gaussian(size: int, sigma: float = 1.5, dtype=torch.float32) -> torch.Tensor:
    """pytorch-msssim's 1-D window."""
    coords = torch.arange(size, dtype=dtype) - size // 2
    g = torch.exp(-(coords ** 2) / (2 * sigma ** 2))
    return g / g.sum()


def _pool(t: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(t, kernel_size=2, padding=[s % 2 for s in t.shape[2:]])


class MSSSIMTo:
    """1 − MS-SSIM of (N, C, H, W) images in [0, 1] against `target` ((1, C, H, W): every
    image is compared with it), differentiable in the image; `win`: the window size
    (pytorch-msssim's condition on the size holds). Training compares a batch of B patches
    after each of T iterations with the same B patches: as (T, B·C, H, W) against
    (1, B·C, H, W), since every channel is filtered on its own."""

    def __init__(self, target: torch.Tensor, win: int):
        if min(target.shape[-2:]) <= (win - 1) * 16:
            raise ValueError(f"MS-SSIM with a {win}-pixel window needs images over {(win - 1) * 16} pixels a side")
        self.g = gaussian(win, dtype=target.dtype).to(target.device)
        self._kernels: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self.weights = torch.tensor(WEIGHTS, dtype=target.dtype, device=target.device).view(-1, 1, 1)
        self.scales = []  # (target, its blurred mean, its blurred variance) at each scale
        x = target.detach()
        for i in range(len(WEIGHTS)):
            mu = self._blur(x)
            self.scales.append((x, mu, self._blur(x * x) - mu * mu))
            x = _pool(x)

    def _blur(self, t: torch.Tensor) -> torch.Tensor:
        c = t.shape[1]
        if c not in self._kernels:  # contiguous depthwise kernels: an expanded view is copied per call
            k = self.g.numel()
            self._kernels[c] = (self.g.view(1, 1, 1, k).repeat(c, 1, 1, 1), self.g.view(1, 1, k, 1).repeat(c, 1, 1, 1))
        across, down = self._kernels[c]
        # channels last: oneDNN's depthwise kernels for it are ~10x its planar ones (the same sums)
        t = t.contiguous(memory_format=torch.channels_last)
        return F.conv2d(F.conv2d(t, across, groups=c), down, groups=c)

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        return 1 - self.similarity(image).mean()

    def similarity(self, image: torch.Tensor) -> torch.Tensor:
        """MS-SSIM per image and channel, (N, C): pytorch-msssim's before its mean over channels."""
        c1, c2 = K1 ** 2, K2 ** 2
        n = image.shape[0]
        factors = []
        for i, (x, mu_x, var_x) in enumerate(self.scales):
            # the three maps one after another in the batch: whole blocks to copy in any layout
            blurred = self._blur(torch.cat([image, image * image, image * x], 0))
            mu, e_sq, e_xy = blurred.split(n)
            mu_sq = mu * mu
            cs_map = (2 * (e_xy - mu * mu_x) + c2) / (e_sq - mu_sq + var_x + c2)
            if i < len(self.scales) - 1:
                factors.append(torch.relu(cs_map.flatten(2).mean(-1)))
                image = _pool(image)
            else:
                ssim_map = (2 * mu * mu_x + c1) / (mu_sq + mu_x * mu_x + c1) * cs_map
                factors.append(torch.relu(ssim_map.flatten(2).mean(-1)))
        return torch.prod(torch.stack(factors) ** self.weights, dim=0)


def _compare(height: int = 512, width: int = 768, repeats: int = 5) -> None:
    import time

    from pytorch_msssim import ms_ssim
    x = torch.rand(1, 3, height, width)
    y = (x + 0.05 * torch.randn_like(x)).clamp(0, 1)
    loss = MSSSIMTo(x, 11)

    def best(fn):
        times = []
        for _ in range(repeats):
            z = y.clone().requires_grad_(True)
            t0 = time.perf_counter()
            torch.autograd.grad(fn(z), z)
            times.append(time.perf_counter() - t0)
        return min(times)

    a = best(lambda z: 1 - ms_ssim(z, x, data_range=1.0, win_size=11))
    b = best(loss)
    print(f"MS-SSIM forward + backward, {width}x{height}: pytorch-msssim {a * 1e3:.1f} ms, "
          f"against a fixed target {b * 1e3:.1f} ms ({a / b:.2f}x)")


if __name__ == "__main__":
    torch.set_num_threads(2)
    _compare()
