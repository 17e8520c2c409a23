"""Pixel-level Core-tuning for any MMSegmentation decode head."""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, SampleList

from coretune_mm.core import (ProjectionHead, check_mixup_args,
                              gather_across_ranks, hard_pair_mixup,
                              sample_pixels, shared_generator,
                              soft_cross_entropy, to_soft_labels)
from coretune_mm.core.pixel_sampling import check_sampler_args

__all__ = ['PixelCoreTuningMixin']


class PixelCoreTuningMixin:
    """Adds Core-tuning's pixel-level losses to a ``BaseDecodeHead``.

    Put it first in the bases of a decode head whose ``_forward_feature``
    returns the pre-classifier map (N, channels, h, w) and whose ``forward``
    is ``cls_seg(_forward_feature(inputs))``. Inference is untouched; in
    ``loss``, besides the head's own dense losses and ``acc_seg``, it adds

    * ``loss_contrast``: ``contrast_weight`` times the focal contrastive loss
      of a class-balanced pixel sample and its generated hard pairs, through
      the projection head ``projector``;
    * ``loss_mix``: ``mix_weight`` times the soft-label CE of ``conv_seg`` on
      the generated pixel features (the smooth classifier).

    The projector is the only extra state; checkpoints load into the plain
    head with ``tools/strip_core_tuning.py`` (or non-strictly).

    Args:
        contrast_weight (float): eta. 0 turns Core-tuning off (the plain
            head). Defaults to 0.1.
        mix_weight (float): mu, weight of the smooth-classifier loss.
            Defaults to 1.0.
        contrast_loss (dict): Config of the contrastive loss. Defaults to
            ``dict(type='FocalSupConLoss')``.
        mixup (dict, optional): Options of
            :func:`coretune_mm.core.hard_pair_mixup`.
        smooth_classifier (bool): Add ``loss_mix``. Defaults to True.
        projector (dict, optional): ``hidden_channels`` and ``out_channels``
            of the projection head. Defaults to ``channels -> channels -> 256``.
        pixel_sampler (dict, optional): ``max_samples`` (the per-batch budget
            M, default 1024) and ``min_pixels`` (default 2) of
            :func:`coretune_mm.core.sample_pixels`.
        gather_across_ranks (bool): Under distributed training, contrast the
            sampled pixels of all ranks (each rank samples M of its own).
            No-op in a single process. Defaults to True.
        **kwargs: Arguments of the decode head.
    """

    def __init__(self,
                 *,
                 contrast_weight: float = 0.1,
                 mix_weight: float = 1.0,
                 contrast_loss: dict = dict(type='FocalSupConLoss'),
                 mixup: Optional[dict] = None,
                 smooth_classifier: bool = True,
                 projector: Optional[dict] = None,
                 pixel_sampler: Optional[dict] = None,
                 gather_across_ranks: bool = True,
                 **kwargs):
        super().__init__(**kwargs)
        for name, value in (('contrast_weight', contrast_weight),
                            ('mix_weight', mix_weight)):
            if not value >= 0:
                raise ValueError(f'{name} must be >= 0, got {value}')
        self.mixup = dict(mixup or {})
        self.pixel_sampler = dict(pixel_sampler or {})
        for name, cfg, check in (('mixup', self.mixup, check_mixup_args),
                                 ('pixel_sampler', self.pixel_sampler,
                                  check_sampler_args)):
            try:
                check(**cfg)
            except TypeError as err:
                raise ValueError(
                    f'{name}: unknown option in {cfg}: {err}') from None
        self.contrast_weight = contrast_weight
        self.mix_weight = mix_weight
        self.smooth_classifier = smooth_classifier
        self.gather_across_ranks = gather_across_ranks
        self.core_tuning = contrast_weight > 0
        if self.core_tuning:
            self.projector = ProjectionHead(self.channels,
                                            **(projector or {}))
            self.contrast_loss = MODELS.build(contrast_loss)

    def loss(self, inputs: Tuple[torch.Tensor], batch_data_samples: SampleList,
             train_cfg: ConfigType) -> dict:
        """Dense losses of the head plus the pixel Core-tuning losses."""
        features = self._forward_feature(inputs)
        seg_logits = self.cls_seg(features)
        losses = self.loss_by_feat(seg_logits, batch_data_samples)
        if self.core_tuning:
            losses.update(
                self.loss_core_tuning(features, seg_logits,
                                      self._stack_batch_gt(batch_data_samples)))
        return losses

    def loss_core_tuning(self, features: torch.Tensor,
                         seg_logits: torch.Tensor,
                         seg_label: torch.Tensor) -> dict:
        """Pixel contrast and smooth-classifier losses.

        Args:
            features (Tensor): (N, channels, h, w) pre-classifier features.
            seg_logits (Tensor): (N, num_classes, h, w) logits of
                ``features``, used to tell hard pixels.
            seg_label (Tensor): (N, 1, H, W) ground truth.

        Returns:
            dict[str, Tensor]: ``loss_contrast`` and, with the smooth
            classifier, ``loss_mix``.
        """
        labels = F.interpolate(
            seg_label.float(), size=features.shape[2:],
            mode='nearest').squeeze(1).long()
        index = sample_pixels(
            labels,
            seg_logits.detach().argmax(dim=1),
            ignore_index=self.ignore_index,
            **self.pixel_sampler)
        pixel_features = features.permute(0, 2, 3, 1).flatten(0, 2)[index]
        pixel_labels = labels.flatten()[index]
        if self.gather_across_ranks:
            # every rank calls this, also with nothing sampled
            pixel_features, pixel_labels = gather_across_ranks(
                pixel_features, pixel_labels)
        num = pixel_features.size(0)
        if num < 2:
            return self._zero_core_tuning_losses(pixel_features)
        targets = to_soft_labels(pixel_labels, self.num_classes)
        samples, sample_targets = hard_pair_mixup(
            pixel_features,
            targets,
            generator=shared_generator(pixel_features.device),
            **self.mixup)
        losses = dict(loss_contrast=self.contrast_weight * self.contrast_loss(
            self.projector(samples), sample_targets))
        if self.smooth_classifier:
            generated = samples[num:]
            logits = self.conv_seg(generated[:, :, None, None]).flatten(1)
            losses['loss_mix'] = self.mix_weight * soft_cross_entropy(
                logits, sample_targets[num:])
        return losses

    def _zero_core_tuning_losses(self, pixel_features: torch.Tensor) -> dict:
        """Zeros that still reach every added parameter (DDP needs it)."""
        touch = sum(p.sum() for p in self.projector.parameters())
        losses = dict(
            loss_contrast=touch * 0.0 + pixel_features.float().sum() * 0.0)
        if self.smooth_classifier:
            losses['loss_mix'] = self.conv_seg.weight.sum() * 0.0
        return losses
