"""Training patches: random crops (with flips) from a folder of photos, held in memory."""
from __future__ import annotations

import numpy as np

from codec.imaging.imageio import find_images, load_rgb


class PatchSampler:
    """Draws batches of random `size` x `size` crops, images weighted by their area, half of
    them mirrored left-right (no vertical flips: photos have an up).

    All photos are decoded once into RAM (the shared training set is ~0.4 GB as uint8),
    so a batch costs a few microseconds of numpy slicing, not file I/O.
    """

    def __init__(self, root, size: int = 32, seed: int = 0, max_images: int | None = None):
        paths = find_images(root)[:max_images]
        self.images = []
        for p in paths:
            img = load_rgb(p).pixels
            if min(img.shape[:2]) >= size:
                self.images.append(img)
        if not self.images:
            raise ValueError(f"no image of at least {size}x{size} pixels found under {root}")
        areas = np.array([i.shape[0] * i.shape[1] for i in self.images], dtype=np.float64)
        self.weights = areas / areas.sum()
        self.size = size
        self.rng = np.random.default_rng(seed)

    def batch(self, n: int) -> np.ndarray:
        """uint8 array (n, 3, size, size)."""
        s, out = self.size, np.empty((n, 3, self.size, self.size), np.uint8)
        for k, idx in enumerate(self.rng.choice(len(self.images), n, p=self.weights)):
            img = self.images[idx]
            y = self.rng.integers(0, img.shape[0] - s + 1)
            x = self.rng.integers(0, img.shape[1] - s + 1)
            crop = img[y:y + s, x:x + s]
            if self.rng.random() < 0.5:
                crop = crop[:, ::-1]
            out[k] = crop.transpose(2, 0, 1)
        return out
