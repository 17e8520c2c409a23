"""Core-tuning classification heads for MMPretrain."""
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
from mmpretrain.evaluation.metrics import Accuracy
from mmpretrain.models.heads import LinearClsHead, VisionTransformerClsHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from coretune_mm.core import (CoreTuning, check_bools, check_int,
                              check_weights, core_tuning_default,
                              grad_norm_ratio, smooth_classifier_loss,
                              to_soft_labels)
from coretune_mm.models.losses import build_contrast_loss
from coretune_mm.models.losses.focal_supcon_loss import DEFAULT_CONTRAST_LOSS

__all__ = [
    'ClsCoreTuningMixin', 'CoreTuneClsHead', 'CoreTuneVisionTransformerClsHead'
]


class ClsCoreTuningMixin:
    """Adds Core-tuning to an MMPretrain classification head.

    Put it first in the bases of a ``ClsHead`` whose ``pre_logits`` gives
    the feature h (N, D) and whose last linear layer, named by
    :attr:`classifier`, maps h to the logits: ``forward`` and ``predict``
    are the head's own, so inference and deployment are unchanged; the
    projection head ``projector`` is the only extra state and is used in
    training only. ``loss`` computes, from one backbone forward:

    * ``loss_cls``: soft-label CE of the classifier over the originals and
      the
      generated hard samples (smooth classifier), or over the originals only
      when ``smooth_classifier=False``. The generated rows' logits are offset
      by :func:`coretune_mm.core.prior_correction` (``prior_correction``), so
      that their class mix, which other-class partners skew toward the rare
      classes, does not move the classifier's class prior;
    * ``loss_contrast``: ``contrast_weight`` times the focal supervised
      contrastive loss of the projected originals and generated samples.

    Ablations: ``contrast_weight=0`` is plain CE (no mixup, no projector);
    ``contrast_loss=None`` keeps the generated samples for the smooth
    classifier without the contrastive term (with ``mixup=dict(
    partner='random', hn_lambda_min=0.0, hard_positives=False)`` and
    ``prior_correction=False`` that is plain feature mixup);
    ``mixup=dict(hard_negatives=False, hard_positives=False)`` with
    ``contrast_loss=dict(type='FocalSupConLoss', gamma=0,
    normalize='positives')`` is CE + SupCon; ``gamma=0`` removes the focal
    weight; ``hard_positives`` / ``hard_negatives`` switch each generator;
    ``smooth_classifier=False`` trains the classifier on the originals only.

    Args:
        contrast_weight (float): eta, the weight of the contrastive loss.
            Defaults to 0.1.
        contrast_loss (dict, optional): Config of the contrastive loss; None
            for no contrastive term (the smooth classifier alone). Defaults
            to ``dict(type='FocalSupConLoss')``.
        mixup (dict, optional): Options of
            :func:`coretune_mm.core.hard_pair_mixup` (``alpha``,
            ``hn_lambda_min``, ``hp_lambda_min``, ``partner``,
            ``hard_negatives``, ``hard_positives``). Defaults to the spec's
            values.
        smooth_classifier (bool): Train the classifier on the generated
            samples too.
            Defaults to True.
        prior_correction (bool): Offset the generated rows' logits by the
            log ratio of their and the batch's class frequencies. Defaults
            to True.
        projector (dict, optional): ``hidden_channels`` (defaults to D) and
            ``out_channels`` (defaults to 256) of the projection head.
        grad_ratio_interval (int): Every this many training steps, log
            ``core_grad_ratio``: the norm of the contrastive loss's gradient
            on this rank's features h over that of the classification loss
            (two extra backward passes through the head only). 0 never.
            Defaults to 0.
        gather_across_ranks (bool): Under distributed training, compute the
            Core-tuning losses on the batch of all ranks (gradients equal
            those of one process on it). No-op in a single process.
            Defaults to True.
        **kwargs: The head's own arguments. Its classification loss
            receives soft targets (N, C); it defaults to
            ``dict(type='CrossEntropyLoss', use_soft=True)``. The projector
            keeps PyTorch's default initialisation, drawn from Core-tuning's
            own stream, whatever the head's ``init_cfg``.
    """

    def __init__(
            self,
            *,
            contrast_weight: float = core_tuning_default('contrast_weight'),
            contrast_loss: dict = DEFAULT_CONTRAST_LOSS,
            mixup: Optional[dict] = None,
            smooth_classifier: bool = True,
            prior_correction: bool = True,
            projector: Optional[dict] = None,
            grad_ratio_interval: int = 0,
            gather_across_ranks: bool = core_tuning_default(
                'gather_across_ranks'),
            **kwargs):
        check_bools(
            smooth_classifier=smooth_classifier,
            prior_correction=prior_correction,
            gather_across_ranks=gather_across_ranks)
        check_int('grad_ratio_interval', grad_ratio_interval, 0)
        kwargs.setdefault(
            'loss',
            dict(type='CrossEntropyLoss', use_soft=True, loss_weight=1.0))
        try:
            super().__init__(**kwargs)
        except TypeError as err:
            raise TypeError(f'{type(self).__name__}: {err}') from None
        self.smooth_classifier = smooth_classifier
        self.prior_correction = prior_correction
        self.grad_ratio_interval = grad_ratio_interval
        self._steps = 0
        # With eta = 0 the head is plain CE: no projector, so that DDP sees
        # no parameter without a gradient.
        self.core_tuning: Optional[CoreTuning] = None
        if check_weights(contrast_weight):
            self.core_tuning = CoreTuning(
                self.classifier.in_features,
                None if contrast_loss is None else build_contrast_loss(
                    contrast_loss, MODELS),
                contrast_weight=contrast_weight,
                mixup=mixup,
                projector=projector,
                gather_across_ranks=gather_across_ranks)

    @property
    def classifier(self) -> nn.Linear:
        """The linear layer that maps h to the logits."""
        raise NotImplementedError

    def init_weights(self) -> None:
        """Initialise the head exactly as the stock head does (the same draws
        from the global generator as the CE baseline), then the projector from
        Core-tuning's own stream."""
        core = self.core_tuning
        self.core_tuning = None
        try:
            super().init_weights()
        finally:
            self.core_tuning = core
        if core is not None:
            core.reset_parameters()

    def _log_grad_ratio(self, features: torch.Tensor) -> bool:
        """Whether this training step logs ``core_grad_ratio``."""
        if not (self.grad_ratio_interval and self.core_tuning is not None
                and self.core_tuning.projector is not None
                and features.requires_grad and torch.is_grad_enabled()):
            return False
        self._steps += 1
        return (self._steps - 1) % self.grad_ratio_interval == 0

    def _soft_targets(self, data_samples: List[DataSample]) -> torch.Tensor:
        """(N, C) targets from ``gt_score`` when present, else ``gt_label``."""
        if 'gt_score' in data_samples[0]:
            target = torch.stack([s.gt_score for s in data_samples])
        else:
            target = torch.cat([s.gt_label for s in data_samples])
        return to_soft_labels(target, self.num_classes)

    def loss(self, feats: Tuple[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> dict:
        """Compute the Core-tuning losses.

        Args:
            feats (tuple[Tensor]): Backbone/neck features; the last is (N, D).
            data_samples (list[DataSample]): Annotations of the batch.
            **kwargs: Passed to the classification loss.

        Returns:
            dict[str, Tensor]: ``loss_cls``, ``loss_contrast`` and the
            logged ``core_*`` diagnostics (when ``contrast_weight > 0``:
            classes in the batch, mean mixing weights, positives per
            anchor, mean focal weight, and every ``grad_ratio_interval``
            steps the gradient ratio) and, with ``cal_acc``, the top-k
            accuracy of the originals.
        """
        features = h = self.pre_logits(feats)
        targets = self._soft_targets(data_samples).to(features.device)
        losses = dict()
        if self.core_tuning is None:
            samples, sample_targets = features, targets
        else:
            out = self.core_tuning(features, targets)
            losses['loss_contrast'] = out.loss_contrast
            # logged, not losses: what the step did (see CoreTuningOutput)
            losses.update({f'core_{k}': v for k, v in out.stats.items()})
            samples, sample_targets = out.samples, out.targets
            features, targets = samples[:out.num_original], \
                sample_targets[:out.num_original]
        num = features.size(0)

        def classification_loss(score, target):
            return self.loss_module(
                score, target, avg_factor=score.size(0), **kwargs)

        # soft targets stay float32, also under autocast
        if self.smooth_classifier:
            cls_score = self.classifier(samples)
            losses['loss_cls'] = smooth_classifier_loss(
                cls_score,
                sample_targets,
                num,
                correct=self.prior_correction,
                loss_fn=classification_loss)
        else:
            cls_score = self.classifier(features)
            losses['loss_cls'] = classification_loss(cls_score, targets)
        if self._log_grad_ratio(h):
            losses['core_grad_ratio'] = grad_norm_ratio(
                losses['loss_contrast'], losses['loss_cls'], h)
        if self.cal_acc:
            acc = Accuracy.calculate(
                cls_score[:num].detach(),
                targets.argmax(dim=1),
                topk=self.topk)
            # one threshold: acc[i] is [top-k accuracy]
            losses.update({
                f'accuracy_top-{k}': a[0]
                for k, a in zip(self.topk, acc)
            })
        return losses


@MODELS.register_module()
class CoreTuneClsHead(ClsCoreTuningMixin, LinearClsHead):
    """:class:`LinearClsHead` trained with Core-tuning (h: the pooled backbone
    feature; classifier: ``fc``).

    A drop-in for ``LinearClsHead`` with the options of
    :class:`ClsCoreTuningMixin`.

    Args:
        num_classes (int): Number of categories.
        in_channels (int): Feature dimension D.
        init_cfg (dict, optional): Initialisation of ``fc``. Defaults to
            LinearClsHead's N(0, 0.01).
        **kwargs: The options of :class:`ClsCoreTuningMixin` and of
            :class:`ClsHead` (``topk``, ``cal_acc``, ``loss``).
    """
    # the head a stripped checkpoint loads into
    # (tools/model_converters/strip_core_tuning.py)
    stock_type = 'LinearClsHead'

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 init_cfg: Optional[dict] = dict(
                     type='Normal', layer='Linear', std=0.01),
                 **kwargs):
        super().__init__(
            num_classes=num_classes,
            in_channels=in_channels,
            init_cfg=init_cfg,
            **kwargs)

    @property
    def classifier(self) -> nn.Linear:
        return self.fc


@MODELS.register_module()
class CoreTuneVisionTransformerClsHead(ClsCoreTuningMixin,
                                       VisionTransformerClsHead):
    """:class:`VisionTransformerClsHead` trained with Core-tuning, for ViTs
    from MoCo v3, DINO and the like.

    h is the head's ``pre_logits``: the class token (with ``hidden_dim``,
    after the hidden layer and its activation); the classifier is
    ``layers.head``. Inference is the stock head's.

    Args:
        num_classes (int): Number of categories.
        in_channels (int): Width of the class token.
        **kwargs: The options of :class:`ClsCoreTuningMixin` and of
            :class:`VisionTransformerClsHead` (``hidden_dim``, ``act_cfg``,
            ``init_cfg``) and :class:`ClsHead`.
    """
    stock_type = 'VisionTransformerClsHead'

    def __init__(self, num_classes: int, in_channels: int, **kwargs):
        super().__init__(
            num_classes=num_classes, in_channels=in_channels, **kwargs)

    @property
    def classifier(self) -> nn.Linear:
        return self.layers.head
