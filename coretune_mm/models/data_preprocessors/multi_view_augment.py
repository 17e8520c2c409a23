"""A data preprocessor that augments views in batches (for pre-training)."""
from typing import Sequence, Tuple

import torch
from mmpretrain.models.utils.data_preprocessor import SelfSupDataPreprocessor
from mmpretrain.registry import MODELS

from coretune_mm.core import check_int
from ..utils.batch_augment import augment_views

__all__ = ['MultiViewAugmentPreprocessor']


@MODELS.register_module()
class MultiViewAugmentPreprocessor(SelfSupDataPreprocessor):
    """Build a self-supervised model's views from un-augmented images.

    A drop-in for :class:`SelfSupDataPreprocessor` when the dataset's
    pipeline yields each image once, un-augmented (e.g. only
    ``PackInputs``): in training it draws ``num_views`` random resized
    crops with flips and brightness / contrast jitter for the whole batch at
    once (:func:`coretune_mm.models.utils.augment_views`), then normalises
    them. On small images this replaces per-image transforms in dataloader
    workers, which otherwise take most of a step on a few CPU cores.

    Args:
        num_views (int): Views per image (2 for MoCo). Defaults to 2.
        out_size (Sequence[int]): (height, width) of a view.
        crop_scale (tuple[float, float]): Area fraction range of the crops.
            Defaults to (0.2, 1.0).
        flip_prob (float): Horizontal flip probability. Defaults to 0.5.
        brightness (float): Brightness jitter strength. Defaults to 0.4.
        contrast (float): Contrast jitter strength. Defaults to 0.4.
        jitter_prob (float): Probability of the jitter. Defaults to 0.8.
        gray_to_rgb (bool): Repeat a single channel three times (for
            backbones built for colour images). Defaults to True.
        **kwargs: ``mean``, ``std`` and the other options of
            :class:`SelfSupDataPreprocessor`.
    """

    def __init__(self,
                 out_size: Sequence[int],
                 num_views: int = 2,
                 crop_scale: Tuple[float, float] = (0.2, 1.0),
                 flip_prob: float = 0.5,
                 brightness: float = 0.4,
                 contrast: float = 0.4,
                 jitter_prob: float = 0.8,
                 gray_to_rgb: bool = True,
                 **kwargs):
        super().__init__(**kwargs)
        check_int('num_views', num_views, 1)
        out_size = tuple(out_size)
        if len(out_size) != 2 or min(out_size) < 1:
            raise ValueError('out_size must be (height, width) of positive '
                             f'ints, got {out_size}')
        self.num_views = num_views
        self.out_size = out_size
        self.gray_to_rgb = gray_to_rgb
        self.augment = dict(
            crop_scale=tuple(crop_scale),
            flip_prob=flip_prob,
            brightness=brightness,
            contrast=contrast,
            jitter_prob=jitter_prob)
        # fail at build time, not at the first step
        augment_views(
            torch.zeros(1, 1, 2, 2), 1, (1, 1), generator=None, **self.augment)

    def forward(self, data: dict, training: bool = False) -> dict:
        """Augment (in training) and normalise a batch.

        Args:
            data (dict): ``inputs`` (a (N, C, H, W) tensor or N (C, H, W)
                tensors, values in [0, 255]) and ``data_samples``.
            training (bool): Draw the views.

        Returns:
            dict: ``inputs`` (a list of ``num_views`` (N, C, h, w) tensors
            in training, of one un-augmented batch otherwise) and
            ``data_samples``.
        """
        data = self.cast_data(data)
        images = data['inputs']
        if isinstance(images, (list, tuple)):
            images = torch.stack(list(images))
        images = images.float()
        if self.gray_to_rgb and images.size(1) == 1:
            images = images.expand(-1, 3, -1, -1)
        elif self._channel_conversion:
            images = images[:, [2, 1, 0]]
        if training:
            views = list(
                augment_views(images, self.num_views, self.out_size,
                              **self.augment))
        else:
            views = [images]
        if self._enable_normalize:
            views = [(view - self.mean) / self.std for view in views]
        return dict(inputs=views, data_samples=data['data_samples'])
