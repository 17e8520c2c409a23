"""Batch normalisation over sub-batches: Shuffle-BN in a single process."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from coretune_mm.core import check_int
from coretune_mm.registry import register_model

__all__ = ['SplitBatchNorm2d']


@register_model
class SplitBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics come from ``num_splits`` equal
    sub-batches, as if each were on its own device.

    MoCo's Shuffle-BN relies on each GPU normalising its own share of the
    batch: the key encoder sees a shuffled batch, so a query and its key are
    normalised with statistics of different samples and cannot exploit them
    to match. In one process, splitting the batch into sub-batches gives
    the same effect together with MoCo's in-batch shuffle. In evaluation it
    is a plain BatchNorm2d; its state dict has BatchNorm2d's keys, so a
    checkpoint loads into a model with ordinary batch norm.

    Registered as ``SplitBatchNorm2d`` for ``norm_cfg``, e.g.
    ``norm_cfg=dict(type='SplitBatchNorm2d', num_splits=4)``.

    Args:
        num_features (int): Channels C.
        num_splits (int): Sub-batches per batch; the batch size must be a
            multiple of it in training. Defaults to 8.
        **kwargs: Options of :class:`torch.nn.BatchNorm2d`.
    """

    def __init__(self, num_features: int, num_splits: int = 8, **kwargs):
        check_int('num_splits', num_splits, 1)
        super().__init__(num_features, **kwargs)
        self.num_splits = num_splits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.num_splits == 1:
            return super().forward(x)
        num, channels, height, width = x.shape
        if num % self.num_splits:
            raise ValueError(
                f'SplitBatchNorm2d: batch size {num} is not a multiple of '
                f'num_splits={self.num_splits} (use drop_last=True and a '
                'batch size divisible by it)')
        splits = self.num_splits
        # each sub-batch's channels become channels of their own
        running_mean = self.running_mean.repeat(splits)
        running_var = self.running_var.repeat(splits)
        weight = self.weight.repeat(splits) if self.affine else None
        bias = self.bias.repeat(splits) if self.affine else None
        if self.track_running_stats:
            self.num_batches_tracked.add_(1)
        momentum = self.momentum if self.momentum is not None else \
            1.0 / float(self.num_batches_tracked)
        out = F.batch_norm(
            x.reshape(-1, channels * splits, height, width), running_mean,
            running_var, weight, bias, True, momentum, self.eps)
        if self.track_running_stats:
            # the running statistics average those of the sub-batches
            self.running_mean.copy_(
                running_mean.view(splits, channels).mean(dim=0))
            self.running_var.copy_(
                running_var.view(splits, channels).mean(dim=0))
        return out.view(num, channels, height, width)

    def extra_repr(self) -> str:
        return super().extra_repr() + f', num_splits={self.num_splits}'
