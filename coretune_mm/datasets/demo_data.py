"""Small real-image datasets for demos and tests, built without downloads.

The images are scikit-learn's bundled handwritten digits (1797 8x8 scans of
UCI's optical-digits set), upscaled.
"""
import os
import os.path as osp
from typing import Dict, Tuple

import numpy as np
from PIL import Image

__all__ = [
    'load_digit_images', 'make_digits_folder', 'make_digits_voc',
    'write_voc_scenes'
]


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


def write_voc_scenes(root: str,
                     pools: Dict[str, Tuple[np.ndarray, np.ndarray]],
                     counts: Dict[str, int],
                     canvas: int = 64,
                     max_objects: int = 3,
                     mask_threshold: float = 0.5,
                     seed: int = 0,
                     grey: bool = False) -> str:
    """Write a PASCAL-VOC-format scene dataset of grey object images.

    Each canvas holds 1 to ``max_objects`` objects, pasted in a random
    colour on a noisy background. The objects of a split come from that
    split's pool only, so splits given disjoint pools share no source
    image. Labels: background 0, object class ``c`` is class ``c + 1`` (VOC's
    21 classes hold up to 20), and a one-pixel ring around each object is
    255 (ignored), like VOC's object boundaries. Deterministic for a seed;
    scenes are drawn split after split in the order of ``counts``.

    Layout: ``JPEGImages/*.jpg``, ``SegmentationClass/*.png`` (palette PNGs)
    and ``ImageSets/Segmentation/<split>.txt`` for each split of ``counts``.

    Args:
        root (str): Output folder (the ``VOC2012`` level).
        pools (dict): ``{split: (images (N, s, s) uint8, labels (N, ))}``.
        counts (dict): ``{split: number of scenes}``, in drawing order.
        canvas (int): Image side. Defaults to 64.
        max_objects (int): Most objects per image. Defaults to 3.
        mask_threshold (float): A pixel belongs to an object where its ink
            (0..1) exceeds this. Defaults to 0.5.
        seed (int): Random seed. Defaults to 0.
        grey (bool): Write grey scenes (the mean of the colour channels),
            for backbones pre-trained on grey images. Defaults to False.

    Returns:
        str: ``root``.
    """
    if not 0 <= mask_threshold < 1:
        raise ValueError(
            f'mask_threshold must lie in [0, 1), got {mask_threshold}')
    for split in counts:
        if split not in pools or not len(pools[split][0]):
            raise ValueError(f'pools: no object images for split {split!r}')
        size = pools[split][0].shape[1]
        if size > canvas:
            raise ValueError(f'objects of {size} px do not fit a canvas of '
                             f'{canvas} px')
    rng = np.random.default_rng(seed)
    palette = _voc_palette()
    for sub in ('JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation'):
        os.makedirs(osp.join(root, sub), exist_ok=True)
    index = 0
    for split, count in counts.items():
        images, labels = pools[split]
        size = images.shape[1]
        names = []
        for _ in range(count):
            name = f'{split}_{index:05d}'
            index += 1
            names.append(name)
            image = rng.normal(40, 12, (canvas, canvas, 3)).clip(0, 255)
            label = np.zeros((canvas, canvas), np.uint8)
            for _ in range(rng.integers(1, max_objects + 1)):
                k = rng.integers(len(images))
                y, x = rng.integers(0, canvas - size + 1, size=2)
                ink = images[k].astype(np.float64) / 255.0
                colour = rng.uniform(120, 255, size=3)
                window = (slice(y, y + size), slice(x, x + size))
                image[window] = image[window] * (1 - ink[..., None]) + \
                    colour * ink[..., None]
                mask = ink > mask_threshold
                ring = _dilate(mask) & ~mask
                label[window][ring] = 255
                label[window][mask] = labels[k] + 1
            if grey:
                image = image.mean(axis=2, keepdims=True).repeat(3, axis=2)
            Image.fromarray(image.astype(np.uint8)).save(
                osp.join(root, 'JPEGImages', f'{name}.jpg'), quality=95)
            png = Image.fromarray(label, mode='P')
            png.putpalette(palette)
            png.save(osp.join(root, 'SegmentationClass', f'{name}.png'))
        with open(
                osp.join(root, 'ImageSets', 'Segmentation', f'{split}.txt'),
                'w') as f:
            f.write('\n'.join(names) + '\n')
    return root


def make_digits_voc(root: str,
                    num_train: int = 64,
                    num_val: int = 16,
                    num_test: int = 0,
                    canvas: int = 64,
                    digit_size: int = 24,
                    max_digits: int = 3,
                    mask_threshold: float = 0.5,
                    seed: int = 0) -> str:
    """Write a PASCAL-VOC-format scene dataset of handwritten digits
    (:func:`write_voc_scenes`; digit ``d`` is class ``d + 1``).

    Every split draws from all 1797 digit images, so a validation or test
    scene may reuse an image a training scene used: the scenes suit demos
    and tests, not held-out evidence (see the Fashion-MNIST scenes of
    ``tools/experiments/reproduce_fashion_mnist.py`` for that). The training
    and validation scenes do not depend on ``num_test``.

    Args:
        root (str): Output folder (the ``VOC2012`` level).
        num_train (int): Training images. Defaults to 64.
        num_val (int): Validation images. Defaults to 16.
        num_test (int): Held-out test images (``test.txt``, written only
            when > 0). Defaults to 0.
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
    if digit_size > canvas:
        raise ValueError(f'digit_size ({digit_size}) must not exceed canvas '
                         f'({canvas})')
    pool = load_digit_images(digit_size)
    counts = dict(train=num_train, val=num_val)
    if num_test:
        counts['test'] = num_test
    return write_voc_scenes(root, {split: pool
                                   for split in counts}, counts, canvas,
                            max_digits, mask_threshold, seed)


def _dilate(mask: np.ndarray) -> np.ndarray:
    """3x3 binary dilation."""
    padded = np.pad(mask, 1)
    h, w = mask.shape
    return np.any(
        [padded[dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)],
        axis=0)
