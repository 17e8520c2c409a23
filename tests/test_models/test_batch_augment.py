"""Batched augmentation against slow per-pixel / per-image references."""
import math

import pytest
import torch
import torchvision.transforms.functional as TF

from coretune_mm.models.utils import (CropParams, adjust_brightness_contrast,
                                      augment_views, color_jitter,
                                      draw_crop_params, resized_crop)


def slow_resized_crop(image, center, size, flip, out_h, out_w):
    """Bilinear sampling, pixel by pixel, of the box of one image; samples
    outside the image take the nearest border pixel."""
    channels, height, width = image.shape
    out = torch.zeros(channels, out_h, out_w, dtype=torch.float64)
    for i in range(out_h):
        for j in range(out_w):
            # centre of output pixel (i, j) in [-1, 1]
            xo = (2 * j + 1) / out_w - 1
            yo = (2 * i + 1) / out_h - 1
            if flip:
                xo = -xo
            x = center[0] + size[0] * xo
            y = center[1] + size[1] * yo
            # to input pixel coordinates (pixel centres at integers)
            u = min(max(((x + 1) * width - 1) / 2, 0), width - 1)
            v = min(max(((y + 1) * height - 1) / 2, 0), height - 1)
            u0, v0 = math.floor(u), math.floor(v)
            u1, v1 = min(u0 + 1, width - 1), min(v0 + 1, height - 1)
            du, dv = u - u0, v - v0
            out[:, i, j] = ((1 - du) * (1 - dv) * image[:, v0, u0] + du *
                            (1 - dv) * image[:, v0, u1] +
                            (1 - du) * dv * image[:, v1, u0] +
                            du * dv * image[:, v1, u1])
    return out


def test_resized_crop_matches_slow_bilinear():
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(4, 2, 7, 6, generator=gen, dtype=torch.float64)
    params = draw_crop_params(4, scale=(0.2, 1.0), generator=gen)
    params = params._replace(flip=torch.tensor([True, False, True, False]))
    out = resized_crop(images, params, (5, 4))
    for n in range(4):
        expected = slow_resized_crop(images[n], params.center[n].tolist(),
                                     params.size[n].tolist(),
                                     bool(params.flip[n]), 5, 4)
        torch.testing.assert_close(out[n], expected)


def test_full_box_is_identity_and_flip_mirrors():
    images = torch.arange(2 * 1 * 4 * 5, dtype=torch.float32).view(2, 1, 4, 5)
    params = CropParams(
        torch.zeros(2, 2), torch.ones(2, 2), torch.tensor([False, True]))
    out = resized_crop(images, params, (4, 5))
    torch.testing.assert_close(out[0], images[0])
    torch.testing.assert_close(out[1], images[1].flip(-1))


def test_crop_params_stay_inside_and_follow_scale():
    gen = torch.Generator().manual_seed(1)
    params = draw_crop_params(
        20000,
        scale=(0.2, 1.0),
        ratio=(1.0, 1.0),
        flip_prob=0.25,
        generator=gen)
    # inside the image
    assert bool(((params.center.abs() + params.size) <= 1 + 1e-6).all())
    # square boxes: area fraction = w * h, uniform in [0.2, 1]
    area = params.size.prod(dim=1)
    assert area.min() >= 0.2 - 1e-6 and area.max() <= 1 + 1e-6
    assert abs(float(area.mean()) - 0.6) < 0.01
    assert abs(float(params.flip.float().mean()) - 0.25) < 0.01


@pytest.mark.parametrize('option', [
    dict(scale=(0.0, 1.0)),
    dict(scale=(0.5, 0.2)),
    dict(ratio=(2.0, 1.0)),
    dict(flip_prob=1.5)
])
def test_crop_params_refuse_bad_options(option):
    with pytest.raises(ValueError):
        draw_crop_params(2, **option)


@pytest.mark.parametrize('channels', [1, 3])
def test_brightness_contrast_match_torchvision(channels):
    gen = torch.Generator().manual_seed(2)
    images = torch.rand(5, channels, 6, 6, generator=gen)
    bright = torch.tensor([0.6, 1.0, 1.4, 0.8, 1.2])
    contr = torch.tensor([1.3, 0.7, 1.0, 1.4, 0.6])
    out = adjust_brightness_contrast(images, bright, contr, max_value=1.0)
    for n in range(5):
        expected = TF.adjust_contrast(
            TF.adjust_brightness(images[n], float(bright[n])), float(contr[n]))
        torch.testing.assert_close(out[n], expected, atol=1e-5, rtol=1e-5)


def test_color_jitter_probability_and_range():
    gen = torch.Generator().manual_seed(3)
    images = torch.rand(2000, 1, 4, 4, generator=gen) * 255
    out = color_jitter(images, prob=0.3, generator=gen)
    changed = (out != images).flatten(1).any(dim=1).float().mean()
    assert abs(float(changed) - 0.3) < 0.04
    assert out.min() >= 0 and out.max() <= 255
    with pytest.raises(ValueError, match='brightness'):
        color_jitter(images, brightness=1.5)


def test_augment_views_are_independent_and_reproducible():
    images = torch.rand(8, 3, 28, 28) * 255
    a = augment_views(
        images, 2, (20, 20), generator=torch.Generator().manual_seed(4))
    b = augment_views(
        images, 2, (20, 20), generator=torch.Generator().manual_seed(4))
    assert len(a) == 2 and a[0].shape == (8, 3, 20, 20)
    torch.testing.assert_close(a[0], b[0])
    assert not torch.allclose(a[0], a[1])
