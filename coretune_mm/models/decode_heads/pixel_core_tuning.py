"""Pixel-level Core-tuning for any MMSegmentation decode head."""
from typing import Optional, Tuple

import torch
import torch.distributed as dist
import torch.nn.functional as F
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, SampleList

from coretune_mm.core import (CoreTuning, check_bools, check_sampler_args,
                              check_weights, class_frequencies,
                              core_tuning_default, labels_at, pixel_rows,
                              sample_pixels, smooth_classifier_loss,
                              to_soft_labels)
from coretune_mm.core.distributed import is_distributed
from coretune_mm.models.losses import build_contrast_loss
from coretune_mm.models.losses.focal_supcon_loss import DEFAULT_CONTRAST_LOSS

__all__ = ['PixelCoreTuningMixin', 'label_boundaries']

BUDGETS = ('global', 'per_rank')


def label_boundaries(labels: torch.Tensor) -> torch.Tensor:
    """(N, h, w) bool: pixels with another label in their 3x3 neighbourhood.

    The image border is not a boundary (edges are replicated).
    """
    padded = F.pad(labels[:, None].float(), (1, 1, 1, 1), mode='replicate')
    high = F.max_pool2d(padded, 3, stride=1)
    low = -F.max_pool2d(-padded, 3, stride=1)
    return (high != low)[:, 0]


class PixelCoreTuningMixin:
    """Adds Core-tuning's pixel-level losses to a ``BaseDecodeHead``.

    Put it first in the bases of a decode head whose ``_forward_feature``
    returns the pre-classifier map (N, channels, h, w) and whose ``forward``
    is ``cls_seg(_forward_feature(inputs))``. Inference is untouched; in
    ``loss``, besides the head's own dense losses and ``acc_seg``, it adds

    * ``loss_contrast``: ``contrast_weight`` times the focal contrastive loss
      of a class-balanced pixel sample and its generated hard pairs, through
      the projection head (:class:`coretune_mm.core.CoreTuning`);
    * ``loss_mix`` (``mix_loss=True``, the pixel form of the paper's smooth
      classifier): ``mix_weight`` times the
      soft-label CE of ``conv_seg`` on the generated pixel features, with
      the logits offset by :func:`coretune_mm.core.prior_correction` so that
      it does not pull the classifier's class prior toward the generated
      pixels' class mix (``prior_correction=False`` turns that off);
    * ``core_pixels`` and ``core_boundary`` (logged, not losses): pixels in
      the contrast and the share of them on a label boundary, and the
      step's ``core_classes``, ``core_lambda_hn`` / ``core_lambda_hp``
      (mean mixing weights), ``core_positives`` (per anchor) and
      ``core_focal_weight``.

    The segmentation default is contrast only (``mix_loss=False``):
    see ``docs/results.md`` for the paired-seed comparison that chose it.
    The projector is the only extra state; checkpoints load into the plain
    head with ``tools/model_converters/strip_core_tuning.py`` (or
    non-strictly).

    Args:
        contrast_weight (float): eta. 0 turns Core-tuning off (the plain
            head). Defaults to 0.1.
        mix_weight (float): mu, weight of the smooth-classifier loss (kept
            by the :class:`CoreTuning` module, ``core_tuning.mix_weight``).
            Defaults to 1.0.
        contrast_loss (dict): Config of the contrastive loss. Defaults to
            ``dict(type='FocalSupConLoss')``.
        mixup (dict, optional): Options of
            :func:`coretune_mm.core.hard_pair_mixup`.
        mix_loss (bool): Add ``loss_mix``. Defaults to False. (The
            classification head's ``smooth_classifier`` adds the generated
            samples to ``loss_cls`` instead; a separate name keeps the two
            meanings apart.)
        prior_correction (bool): Offset ``loss_mix``'s logits by the log
            ratio of the generated pixels' and the batch's class
            frequencies. Defaults to True.
        mix_detach (bool): Stop ``loss_mix``'s gradient into the features
            (it trains ``conv_seg`` only). Defaults to False.
        projector (dict, optional): ``hidden_channels`` and ``out_channels``
            of the projection head. Defaults to
            ``channels -> channels -> 256``.
        pixel_sampler (dict, optional): ``max_samples`` (the budget M,
            default 1024) and ``min_pixels`` (default 2) of
            :func:`coretune_mm.core.sample_pixels`.
        pixel_budget (str): ``'global'``: M is the budget of the whole
            contrast, each of W ranks samples M // W, so the gathered set and
            the (3M)^2 matrices do not grow with the number of GPUs (with
            ``gather_across_ranks=False`` each rank contrasts alone, so each
            samples M); ``'per_rank'``: each rank samples M. Defaults to
            ``'global'``.
        gather_across_ranks (bool): Under distributed training, contrast the
            sampled pixels of all ranks. No-op in a single process.
            Defaults to True.
        **kwargs: Arguments of the decode head.
    """

    def __init__(
            self,
            *,
            contrast_weight: float = core_tuning_default('contrast_weight'),
            mix_weight: float = 1.0,
            contrast_loss: dict = DEFAULT_CONTRAST_LOSS,
            mixup: Optional[dict] = None,
            mix_loss: bool = False,
            prior_correction: bool = True,
            mix_detach: bool = False,
            projector: Optional[dict] = None,
            pixel_sampler: Optional[dict] = None,
            pixel_budget: str = 'global',
            gather_across_ranks: bool = core_tuning_default(
                'gather_across_ranks'),
            **kwargs):
        if 'smooth_classifier' in kwargs:
            raise ValueError(
                f'{type(self).__name__}: smooth_classifier is called mix_loss '
                'in the segmentation heads (a separate loss_mix weighted by '
                'mix_weight)')
        try:
            super().__init__(**kwargs)
        except TypeError as err:
            raise TypeError(f'{type(self).__name__}: {err}') from None
        enabled = check_weights(contrast_weight, mix_weight)
        check_bools(
            mix_loss=mix_loss,
            prior_correction=prior_correction,
            mix_detach=mix_detach,
            gather_across_ranks=gather_across_ranks)
        if pixel_budget not in BUDGETS:
            raise ValueError(f'pixel_budget must be one of {BUDGETS}, got '
                             f'{pixel_budget!r}')
        try:
            self.pixel_sampler = check_sampler_args(**(pixel_sampler or {}))
        except (TypeError, ValueError) as err:
            raise ValueError(f'pixel_sampler: {err} (got '
                             f'{pixel_sampler})') from None
        self.mix_loss = mix_loss
        self.prior_correction = prior_correction
        self.mix_detach = mix_detach
        self.pixel_budget = pixel_budget
        self.core_tuning: Optional[CoreTuning] = None
        if enabled:
            if self.out_channels != self.num_classes:
                raise ValueError(
                    f'{type(self).__name__}: pixel Core-tuning needs one '
                    f'logit per class (softmax); got out_channels='
                    f'{self.out_channels} for num_classes={self.num_classes}'
                    '. For a binary task use num_classes=2, out_channels=2, '
                    'or contrast_weight=0')
            self.core_tuning = CoreTuning(
                self.channels,
                build_contrast_loss(contrast_loss, MODELS),
                contrast_weight=contrast_weight,
                mix_weight=mix_weight,
                mixup=mixup,
                projector=projector,
                gather_across_ranks=gather_across_ranks)

    def loss(self, inputs: Tuple[torch.Tensor], batch_data_samples: SampleList,
             train_cfg: ConfigType) -> dict:
        """Dense losses of the head plus the pixel Core-tuning losses."""
        features = self._forward_feature(inputs)
        seg_logits = self.cls_seg(features)
        seg_label = self._stack_batch_gt(batch_data_samples)
        self._check_labels(seg_label)
        losses = self.loss_by_feat(seg_logits, batch_data_samples)
        if self.core_tuning is not None:
            losses.update(
                self.loss_core_tuning(features, seg_logits, seg_label))
        return losses

    def _check_labels(self, seg_label: torch.Tensor) -> None:
        """Name the label values no class or ``ignore_index`` accounts for (the
        dense CE would stop with an index error)."""
        bad = (seg_label != self.ignore_index) & (
            (seg_label < 0) | (seg_label >= self.num_classes))
        if bad.any():
            values = seg_label[bad].unique()[:5].tolist()
            raise ValueError(
                f'gt_sem_seg: label values must lie in [0, {self.num_classes})'
                f' (model.decode_head.num_classes) or equal ignore_index='
                f'{self.ignore_index}; got {values}. Check num_classes and '
                "the dataset's reduce_zero_label.")

    def _budget(self) -> int:
        budget = self.pixel_sampler['max_samples']
        # only a gathered contrast spans the ranks: without gathering each
        # rank contrasts its own M pixels
        if self.pixel_budget == 'global' and is_distributed() and \
                self.core_tuning.gather_across_ranks:
            budget = max(1, budget // dist.get_world_size())
        return budget

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
            dict[str, Tensor]: ``loss_contrast``, the logged ``core_pixels``,
            ``core_boundary`` and step diagnostics (``core_classes``,
            ``core_lambda_hn`` / ``_hp``, ``core_positives``,
            ``core_focal_weight``) and, with ``mix_loss``, ``loss_mix``.
        """
        core = self.core_tuning
        shared, local = core.generators(features.device)
        labels = labels_at(seg_label, features.shape[2:])
        index = sample_pixels(
            labels,
            seg_logits.detach().argmax(dim=1),
            ignore_index=self.ignore_index,
            num_classes=self.num_classes,
            min_pixels=self.pixel_sampler['min_pixels'],
            max_samples=self._budget(),
            generator=local)
        pixel_features = pixel_rows(features)[index]
        targets = to_soft_labels(labels.flatten()[index], self.num_classes)
        on_boundary = label_boundaries(labels).flatten()[index].float()
        out = core(pixel_features, targets, generator=shared)
        losses = dict(
            loss_contrast=out.loss_contrast,
            # float32: under bf16, 1023 would log as 1024; filled on the
            # device (a tensor from host data would be a synchronous copy)
            core_pixels=features.new_full((),
                                          index.numel(),
                                          dtype=torch.float32),
            core_boundary=on_boundary.mean()
            if index.numel() else on_boundary.sum())
        losses.update({f'core_{k}': v for k, v in out.stats.items()})
        if self.mix_loss:
            losses['loss_mix'] = core.mix_weight * self._loss_mix(
                out.samples[out.num_original:], out.targets[out.num_original:],
                seg_label)
        return losses

    def _loss_mix(self, generated: torch.Tensor, targets: torch.Tensor,
                  seg_label: torch.Tensor) -> torch.Tensor:
        """Soft-label CE of ``conv_seg`` (no dropout) on generated pixels."""
        if self.mix_detach:
            generated = generated.detach()
        logits = self.conv_seg(generated[:, :, None, None]).flatten(1)
        if generated.size(0) == 0:
            # nothing generated: a zero that still reaches conv_seg
            return logits.float().sum() * 0.0 + \
                self.conv_seg.weight.sum() * 0.0
        prior = class_frequencies(
            seg_label,
            self.num_classes,
            self.ignore_index,
            across_ranks=self.core_tuning.gather_across_ranks
        ) if self.prior_correction else None
        return smooth_classifier_loss(
            logits, targets, 0, prior=prior, correct=self.prior_correction)
