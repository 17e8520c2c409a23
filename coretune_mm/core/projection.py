"""The contrastive projection head ``g`` ("contrastor")."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from .checks import check_int
from .mixup import MixupPlan, apply_mixup_plan

__all__ = ['ProjectionHead']


class ProjectionHead(nn.Module):
    """Linear(D, H) -> ReLU -> Linear(H, d), then L2 normalisation.

    Used only in training; it holds the only parameters Core-tuning adds.

    Args:
        in_channels (int): D.
        hidden_channels (int, optional): H. Defaults to ``in_channels``.
        out_channels (int): d. Defaults to 256.
    """

    def __init__(self,
                 in_channels: int,
                 hidden_channels: Optional[int] = None,
                 out_channels: int = 256):
        super().__init__()
        if hidden_channels is None:
            hidden_channels = in_channels
        check_int('in_channels', in_channels, 1)
        check_int('hidden_channels', hidden_channels, 1)
        check_int('out_channels', out_channels, 1)
        self.layers = nn.Sequential(
            nn.Linear(in_channels, hidden_channels), nn.ReLU(inplace=True),
            nn.Linear(hidden_channels, out_channels))

    def forward(self,
                features: torch.Tensor,
                plan: Optional[MixupPlan] = None) -> torch.Tensor:
        """Map (N, D) features to (N, d) unit-norm embeddings.

        With ``plan``, ``features`` are the N originals of a
        :func:`hard_pair_mixup` step and the result is the embeddings of
        all its kN samples: the first (affine) layer runs on the originals
        and its outputs are mixed with the plan's weights, which equals the
        layer on the mixed samples (the weights sum to 1) at a k-th of the
        cost of the widest layer.
        """
        if plan is None:
            return F.normalize(self.layers(features), dim=1)
        first, *rest = self.layers
        hidden = apply_mixup_plan(first(features), plan)
        for layer in rest:
            hidden = layer(hidden)
        return F.normalize(hidden, dim=1)
