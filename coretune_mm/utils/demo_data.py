"""Small real-image datasets for demos and tests, built without downloads.

The images are scikit-learn's bundled handwritten digits (1797 8x8 scans of
UCI's optical-digits set), upscaled.
"""
import os
import os.path as osp
from typing import Tuple

import numpy as np
from PIL import Image

__all__ = ['load_digit_images', 'make_digits_folder']


def load_digit_images(size: int = 32) -> Tuple[np.ndarray, np.ndarray]:
    """The digits as uint8 grey images.

    Args:
        size (int): Output side in pixels. Defaults to 32.

    Returns:
        tuple[ndarray, ndarray]: images (N, size, size) uint8 and labels (N, ).
    """
    from sklearn.datasets import load_digits
    digits = load_digits()
    scans = (digits.images * (255.0 / 16.0)).astype(np.uint8)
    images = np.stack([
        np.asarray(Image.fromarray(s).resize((size, size), Image.BICUBIC))
        for s in scans
    ])
    return images, digits.target.astype(np.int64)


def make_digits_folder(root: str,
                       size: int = 32,
                       val_every: int = 5,
                       limit: int = 0) -> str:
    """Write an image-folder dataset ``root/{train,val}/<digit>/<i>.png``.

    Deterministic: every ``val_every``-th image goes to ``val``. Existing
    files are kept, so repeated calls are cheap.

    Args:
        root (str): Output folder.
        size (int): Image side. Defaults to 32.
        val_every (int): Validation split period. Defaults to 5.
        limit (int): Use only the first ``limit`` images (0: all).

    Returns:
        str: ``root``.
    """
    if val_every < 2:
        raise ValueError(f'val_every must be >= 2, got {val_every}')
    images, labels = load_digit_images(size)
    if limit:
        images, labels = images[:limit], labels[:limit]
    for index, (image, label) in enumerate(zip(images, labels)):
        split = 'val' if index % val_every == 0 else 'train'
        path = osp.join(root, split, str(label), f'{index:04d}.png')
        if osp.exists(path):
            continue
        os.makedirs(osp.dirname(path), exist_ok=True)
        Image.fromarray(image).convert('RGB').save(path)
    return root
