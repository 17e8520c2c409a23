"""Feature-space diagnostics: class compactness and separation."""
from typing import Dict

import torch
import torch.nn.functional as F

__all__ = ['feature_space_stats']


def feature_space_stats(features: torch.Tensor,
                        labels: torch.Tensor) -> Dict[str, float]:
    """Cosine-distance compactness and separation of labelled features.

    With unit features f and class means mu_c of the unit features:

    * ``intra``: mean over samples of ``1 - cos(f_i, mu_{y_i})``;
    * ``inter_mean`` / ``inter_min``: mean / minimum over class pairs of
      ``1 - cos(mu_a, mu_b)``;
    * ``ratio``: ``intra / inter_mean`` (lower is better).

    Args:
        features (Tensor): (N, D).
        labels (Tensor): (N, ) class indices.

    Returns:
        dict[str, float]: the four values; the inter-class ones are NaN with
        fewer than two classes.
    """
    if features.dim() != 2 or labels.shape != features.shape[:1]:
        raise ValueError('features (N, D) and labels (N, ) expected, got '
                         f'{tuple(features.shape)} and {tuple(labels.shape)}')
    unit = F.normalize(features.float(), dim=1)
    classes, index = labels.unique(return_inverse=True)
    sums = unit.new_zeros(len(classes),
                          unit.size(1)).index_add_(0, index, unit)
    means = F.normalize(sums, dim=1)
    intra = (1 - (unit * means[index]).sum(dim=1)).mean().item()
    if len(classes) < 2:
        nan = float('nan')
        return dict(intra=intra, inter_mean=nan, inter_min=nan, ratio=nan)
    distance = 1 - means @ means.t()
    pairs = torch.triu_indices(
        len(classes), len(classes), offset=1, device=distance.device)
    between = distance[pairs[0], pairs[1]]
    inter_mean = between.mean().item()
    return dict(
        intra=intra,
        inter_mean=inter_mean,
        inter_min=between.min().item(),
        ratio=intra / max(inter_mean, 1e-12))
