"""Small real-image datasets for demos and tests, built without downloads.

The images are scikit-learn's bundled handwritten digits (1797 8x8 scans of
UCI's optical-digits set), upscaled.
"""
import os
import os.path as osp
from typing import Tuple

import numpy as np
from PIL import Image

__all__ = ['load_digit_images', 'make_digits_folder', 'make_digits_voc']


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

    Deterministic and stratified by digit: of every ``val_every`` images of
    a digit, the second goes to ``val``, so both splits hold every digit
    that has at least two images (an image folder names its classes after
    its subfolders: a digit missing from ``val`` would shift every later
    label there). Existing files are kept, so repeated calls are cheap; a
    folder written with another split is refused, not mixed.

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
    seen = np.zeros(int(labels.max()) + 1, dtype=np.int64)
    for index, (image, label) in enumerate(zip(images, labels)):
        split = 'val' if seen[label] % val_every == 1 else 'train'
        seen[label] += 1
        name = osp.join(str(label), f'{index:04d}.png')
        other = osp.join(root, 'train' if split == 'val' else 'val', name)
        if osp.exists(other):
            raise ValueError(
                f'{root}: {other} belongs to the other split here (the '
                'folder was written with another split or val_every); '
                'remove the folder or choose another root')
        path = osp.join(root, split, name)
        if osp.exists(path):
            continue
        os.makedirs(osp.dirname(path), exist_ok=True)
        Image.fromarray(image).convert('RGB').save(path)
    return root


def _voc_palette() -> list:
    """PASCAL VOC's colour map (the bit-interleaving one of its devkit)."""
    palette = []
    for index in range(256):
        r = g = b = 0
        c = index
        for bit in range(8):
            r |= ((c >> 0) & 1) << (7 - bit)
            g |= ((c >> 1) & 1) << (7 - bit)
            b |= ((c >> 2) & 1) << (7 - bit)
            c >>= 3
        palette += [r, g, b]
    return palette


def make_digits_voc(root: str,
                    num_train: int = 64,
                    num_val: int = 16,
                    num_test: int = 0,
                    canvas: int = 64,
                    digit_size: int = 24,
                    max_digits: int = 3,
                    mask_threshold: float = 0.5,
                    seed: int = 0) -> str:
    """Write a PASCAL-VOC-format scene dataset of handwritten digits.

    Each canvas holds 1 to ``max_digits`` digits on a noisy background.
    Labels: background 0, digit ``d`` is class ``d + 1`` (VOC's 21 classes
    hold the 10 digits), and a one-pixel ring around each digit is 255
    (ignored), like VOC's object boundaries. Deterministic for a seed.

    Layout: ``JPEGImages/*.jpg``, ``SegmentationClass/*.png`` (palette PNGs)
    and ``ImageSets/Segmentation/{train,val,test}.txt`` (``test.txt`` with
    ``num_test > 0`` only). The training and validation scenes do not depend
    on ``num_test``.

    Args:
        root (str): Output folder (the ``VOC2012`` level).
        num_train (int): Training images. Defaults to 64.
        num_val (int): Validation images. Defaults to 16.
        num_test (int): Held-out test images. Defaults to 0.
        canvas (int): Image side. Defaults to 64.
        digit_size (int): Digit side. Defaults to 24.
        max_digits (int): Most digits per image. Defaults to 3.
        mask_threshold (float): A pixel belongs to a digit where its ink
            (0..1) exceeds this; lower values give thicker masks. Defaults
            to 0.5.
        seed (int): Random seed. Defaults to 0.

    Returns:
        str: ``root``.
    """
    if not 0 <= mask_threshold < 1:
        raise ValueError(
            f'mask_threshold must lie in [0, 1), got {mask_threshold}')
    if digit_size > canvas:
        raise ValueError(f'digit_size ({digit_size}) must not exceed canvas '
                         f'({canvas})')
    images, labels = load_digit_images(digit_size)
    rng = np.random.default_rng(seed)
    palette = _voc_palette()
    for sub in ('JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation'):
        os.makedirs(osp.join(root, sub), exist_ok=True)
    names = {'train': [], 'val': []}
    if num_test:
        names['test'] = []
    for index in range(num_train + num_val + num_test):
        split = 'train' if index < num_train else \
            'val' if index < num_train + num_val else 'test'
        name = f'{split}_{index:05d}'
        names[split].append(name)
        image = rng.normal(40, 12, (canvas, canvas, 3)).clip(0, 255)
        label = np.zeros((canvas, canvas), np.uint8)
        for _ in range(rng.integers(1, max_digits + 1)):
            k = rng.integers(len(images))
            y, x = rng.integers(0, canvas - digit_size + 1, size=2)
            ink = images[k].astype(np.float64) / 255.0
            colour = rng.uniform(120, 255, size=3)
            window = (slice(y, y + digit_size), slice(x, x + digit_size))
            image[window] = image[window] * (1 - ink[..., None]) + \
                colour * ink[..., None]
            mask = ink > mask_threshold
            ring = _dilate(mask) & ~mask
            label[window][ring] = 255
            label[window][mask] = labels[k] + 1
        Image.fromarray(image.astype(np.uint8)).save(
            osp.join(root, 'JPEGImages', f'{name}.jpg'), quality=95)
        png = Image.fromarray(label, mode='P')
        png.putpalette(palette)
        png.save(osp.join(root, 'SegmentationClass', f'{name}.png'))
    for split, split_names in names.items():
        with open(
                osp.join(root, 'ImageSets', 'Segmentation', f'{split}.txt'),
                'w') as f:
            f.write('\n'.join(split_names) + '\n')
    return root


def _dilate(mask: np.ndarray) -> np.ndarray:
    """3x3 binary dilation."""
    padded = np.pad(mask, 1)
    h, w = mask.shape
    return np.any(
        [padded[dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)],
        axis=0)
