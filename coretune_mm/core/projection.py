"""The contrastive projection head ``g`` ("contrastor")."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from .checks import check_int

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

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Map (N, D) features to (N, d) unit-norm embeddings."""
        return F.normalize(self.layers(features), dim=1)
