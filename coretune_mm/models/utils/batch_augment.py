"""Batched image augmentation for contrastive pre-training on small images.

Per-image PIL transforms in dataloader workers dominate a contrastive
pre-training step on small images when the workers share the CPU cores with
the model. These functions draw per-image parameters and apply them to a
whole (N, C, H, W) batch with one ``grid_sample`` and a few elementwise
operations: random resized crop, horizontal flip, and brightness / contrast
jitter.
"""
import math
from typing import NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

__all__ = [
    'CropParams', 'draw_crop_params', 'resized_crop',
    'adjust_brightness_contrast', 'color_jitter', 'augment_views'
]


class CropParams(NamedTuple):
    """Per-image crop boxes in normalised coordinates ([-1, 1] spans the image,
    as in ``grid_sample`` with ``align_corners=False``).

    Attributes:
        center (Tensor): (N, 2) crop centres (x, y).
        size (Tensor): (N, 2) crop widths and heights as fractions of the
            image side (in (0, 1]).
        flip (Tensor): (N, ) bool, mirror the crop horizontally.
    """
    center: torch.Tensor
    size: torch.Tensor
    flip: torch.Tensor


def draw_crop_params(num: int,
                     scale: Tuple[float, float] = (0.08, 1.0),
                     ratio: Tuple[float, float] = (3 / 4, 4 / 3),
                     flip_prob: float = 0.5,
                     device: Optional[torch.device] = None,
                     generator: Optional[torch.Generator] = None
                     ) -> CropParams:
    """Random resized crop boxes, as ``RandomResizedCrop`` draws them.

    The area fraction is uniform in ``scale`` and the aspect ratio
    log-uniform in ``ratio``; a side that would exceed the image is clipped
    to it (instead of the per-image retry loop). The crop lies inside the
    image, its position uniform.

    Args:
        num (int): Number of images N.
        scale (tuple[float, float]): Range of the crop's area fraction.
        ratio (tuple[float, float]): Range of its aspect ratio (w / h).
        flip_prob (float): Probability of a horizontal flip.
        device (torch.device, optional): Where to draw.
        generator (torch.Generator, optional): Randomness source.

    Returns:
        CropParams: the boxes.
    """
    if not 0 < scale[0] <= scale[1] <= 1:
        raise ValueError(f'scale must satisfy 0 < min <= max <= 1, got '
                         f'{tuple(scale)}')
    if not 0 < ratio[0] <= ratio[1]:
        raise ValueError(f'ratio must satisfy 0 < min <= max, got '
                         f'{tuple(ratio)}')
    if not 0 <= flip_prob <= 1:
        raise ValueError(f'flip_prob must lie in [0, 1], got {flip_prob}')

    def uniform(low: float, high: float) -> torch.Tensor:
        u = torch.rand(num, device=device, generator=generator)
        return low + (high - low) * u

    area = uniform(*scale)
    aspect = uniform(math.log(ratio[0]), math.log(ratio[1])).exp()
    size = torch.stack([(area * aspect).sqrt(), (area / aspect).sqrt()],
                       dim=1).clamp(max=1.0)
    # centre uniform over the positions that keep the box in the image
    room = 1.0 - size
    center = (2 * torch.rand(num, 2, device=device, generator=generator) -
              1) * room
    flip = torch.rand(num, device=device, generator=generator) < flip_prob
    return CropParams(center, size, flip)


def resized_crop(images: torch.Tensor, params: CropParams,
                 out_size: Sequence[int]) -> torch.Tensor:
    """Crop each image to its box and resize it to ``out_size`` (bilinear).

    Args:
        images (Tensor): (N, C, H, W) float images.
        params (CropParams): One box per image.
        out_size (Sequence[int]): (height, width) of the output.

    Returns:
        Tensor: (N, C, *out_size) crops.
    """
    num = images.size(0)
    sign = 1.0 - 2.0 * params.flip.to(images.dtype)
    theta = images.new_zeros(num, 2, 3)
    theta[:, 0, 0] = params.size[:, 0] * sign
    theta[:, 1, 1] = params.size[:, 1]
    theta[:, :, 2] = params.center
    grid = F.affine_grid(
        theta, [num, images.size(1), *out_size], align_corners=False)
    return F.grid_sample(
        images,
        grid,
        mode='bilinear',
        padding_mode='border',
        align_corners=False)


def adjust_brightness_contrast(images: torch.Tensor,
                               brightness_factor: torch.Tensor,
                               contrast_factor: torch.Tensor,
                               max_value: float = 255.0) -> torch.Tensor:
    """Scale each image's brightness, then its contrast, by its factors.

    torchvision's definitions, batched: brightness multiplies the image;
    contrast blends it with the mean of its grey-scale version (ITU-R 601
    weights for three channels, the channel itself for one). Each result is
    clipped to ``[0, max_value]``.

    Args:
        images (Tensor): (N, C, H, W) float images in ``[0, max_value]``.
        brightness_factor (Tensor): (N, ) factors (1 keeps the image).
        contrast_factor (Tensor): (N, ) factors (1 keeps the image).
        max_value (float): Upper clip. Defaults to 255.

    Returns:
        Tensor: the adjusted images.
    """
    shape = (-1, 1, 1, 1)
    out = (images * brightness_factor.view(shape)).clamp(0, max_value)
    if out.size(1) == 3:
        weights = out.new_tensor([0.2989, 0.587, 0.114]).view(1, 3, 1, 1)
        gray = (out * weights).sum(dim=1, keepdim=True)
    else:
        gray = out.mean(dim=1, keepdim=True)
    mean = gray.mean(dim=(1, 2, 3), keepdim=True)
    return ((out - mean) * contrast_factor.view(shape) +
            mean).clamp(0, max_value)


def color_jitter(images: torch.Tensor,
                 brightness: float = 0.4,
                 contrast: float = 0.4,
                 prob: float = 0.8,
                 max_value: float = 255.0,
                 generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Brightness then contrast jitter, applied to each image with ``prob``.

    The factors are uniform in ``[1 - brightness, 1 + brightness]`` and
    ``[1 - contrast, 1 + contrast]`` (:func:`adjust_brightness_contrast`;
    torchvision's ColorJitter without its random order).

    Args:
        images (Tensor): (N, C, H, W) float images in ``[0, max_value]``.
        brightness (float): Brightness strength, in [0, 1]. Defaults to 0.4.
        contrast (float): Contrast strength, in [0, 1]. Defaults to 0.4.
        prob (float): Probability of jittering an image. Defaults to 0.8.
        max_value (float): Upper clip. Defaults to 255.
        generator (torch.Generator, optional): Randomness source.

    Returns:
        Tensor: the jittered images.
    """
    for name, value in (('brightness', brightness), ('contrast', contrast),
                        ('prob', prob)):
        if not 0 <= value <= 1:
            raise ValueError(f'{name} must lie in [0, 1], got {value}')
    num, device = images.size(0), images.device

    def factor(strength: float) -> torch.Tensor:
        u = torch.rand(num, device=device, generator=generator)
        return 1 - strength + 2 * strength * u

    apply = torch.rand(num, device=device, generator=generator) < prob
    jittered = adjust_brightness_contrast(images, factor(brightness),
                                          factor(contrast), max_value)
    return torch.where(apply.view(-1, 1, 1, 1), jittered, images)


def augment_views(images: torch.Tensor,
                  num_views: int,
                  out_size: Sequence[int],
                  crop_scale: Tuple[float, float] = (0.2, 1.0),
                  flip_prob: float = 0.5,
                  brightness: float = 0.4,
                  contrast: float = 0.4,
                  jitter_prob: float = 0.8,
                  generator: Optional[torch.Generator] = None
                  ) -> Tuple[torch.Tensor, ...]:
    """``num_views`` independently augmented views of a batch.

    Args:
        images (Tensor): (N, C, H, W) float images in ``[0, 255]``.
        num_views (int): Number of views.
        out_size (Sequence[int]): (height, width) of each view.
        crop_scale (tuple[float, float]): Area fraction range of the crops.
        flip_prob (float): Horizontal flip probability.
        brightness (float): Brightness jitter strength.
        contrast (float): Contrast jitter strength.
        jitter_prob (float): Probability of the jitter.
        generator (torch.Generator, optional): Randomness source.

    Returns:
        tuple[Tensor, ...]: ``num_views`` tensors (N, C, *out_size).
    """
    views = []
    for _ in range(num_views):
        params = draw_crop_params(
            images.size(0),
            scale=crop_scale,
            flip_prob=flip_prob,
            device=images.device,
            generator=generator)
        view = resized_crop(images, params, out_size)
        views.append(
            color_jitter(
                view, brightness, contrast, jitter_prob, generator=generator))
    return tuple(views)
