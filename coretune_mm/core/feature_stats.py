"""Feature-space diagnostics: class compactness and separation, and how
strongly each loss pulls on the features."""
from typing import Dict

import torch
import torch.nn.functional as F

__all__ = ['feature_space_stats', 'grad_norm_ratio']


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


def grad_norm_ratio(numerator: torch.Tensor, denominator: torch.Tensor,
                    features: torch.Tensor) -> torch.Tensor:
    """``||d numerator / d features|| / ||d denominator / d features||``.

    How strongly one loss (e.g. the weighted contrastive loss) pulls on the
    features compared with another (the classification loss): the Frobenius
    norms of their gradients with respect to ``features``. The graph is kept
    for the training backward pass; only the part between the losses and
    ``features`` is traversed, not the backbone behind them.

    Args:
        numerator (Tensor): Scalar loss.
        denominator (Tensor): Scalar loss.
        features (Tensor): Tensor both losses depend on (requires grad).

    Returns:
        Tensor: detached float32 scalar; 0 when either gradient is zero
        (finite for the log whatever the batch).
    """
    norms = []
    for loss in (numerator, denominator):
        (grad, ) = torch.autograd.grad(
            loss, features, retain_graph=True, allow_unused=True)
        norms.append(
            features.new_zeros((
            ), dtype=torch.float32) if grad is None else grad.float().norm())
    ratio = norms[0] / norms[1].clamp_min(torch.finfo(torch.float32).tiny)
    return torch.where(norms[1] > 0, ratio, torch.zeros_like(ratio)).detach()
