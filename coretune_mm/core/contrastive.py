"""Focal supervised contrastive loss (Core-tuning, Eq. 2 of the paper)."""
import math
from typing import Dict, Optional

import torch

__all__ = [
    'focal_supcon_loss', 'positive_pair_mask', 'check_focal_supcon_args'
]

NORMALIZE_MODES = ('all', 'positives')
PAIR_LABEL_MODES = ('dominant', 'exact')


def check_focal_supcon_args(temperature: float = 0.07,
                            gamma: float = 1.0,
                            normalize: str = 'all',
                            pair_label: str = 'dominant') -> None:
    """Validate the options of :func:`focal_supcon_loss`; raise ValueError."""
    for name, value in (('temperature', temperature), ('gamma', gamma)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value):
            raise ValueError(f'{name} must be a finite number, got {value!r}')
    if not temperature > 0:
        raise ValueError(f'temperature must be > 0, got {temperature}')
    if not gamma >= 0:
        raise ValueError(f'gamma must be >= 0, got {gamma}')
    if normalize not in NORMALIZE_MODES:
        raise ValueError(f'normalize must be one of {NORMALIZE_MODES}, '
                         f'got {normalize!r}')
    if pair_label not in PAIR_LABEL_MODES:
        raise ValueError(f'pair_label must be one of {PAIR_LABEL_MODES}, '
                         f'got {pair_label!r}')


def positive_pair_mask(labels: torch.Tensor,
                       pair_label: str = 'dominant') -> torch.Tensor:
    """Which pairs count as positives (the diagonal included).

    Args:
        labels (Tensor): (N, ) class indices or (N, C) soft labels.
        pair_label (str): For soft labels, ``'dominant'`` compares the argmax
            class; ``'exact'`` requires equal label vectors (the reference's
            rule, without its float32 power-of-ten encoding that overflows
            past ~38 classes). Defaults to ``'dominant'``.

    Returns:
        Tensor: bool (N, N).
    """
    if pair_label not in PAIR_LABEL_MODES:
        raise ValueError(f'pair_label must be one of {PAIR_LABEL_MODES}, '
                         f'got {pair_label!r}')
    if labels.dim() == 2:
        if pair_label == 'dominant':
            labels = labels.argmax(dim=1)
        else:
            labels = torch.unique(labels, dim=0, return_inverse=True)[1]
    elif labels.dim() != 1:
        raise ValueError('labels: expected (N, ) class indices or (N, C) '
                         f'soft labels, got shape {tuple(labels.shape)}')
    return labels[:, None] == labels[None, :]


def focal_supcon_loss(z: torch.Tensor,
                      labels: torch.Tensor,
                      *,
                      temperature: float = 0.07,
                      gamma: float = 1.0,
                      normalize: str = 'all',
                      pair_label: str = 'dominant',
                      stats: Optional[Dict[str, torch.Tensor]] = None
                      ) -> torch.Tensor:
    """Focal supervised contrastive loss over a batch of embeddings.

    With ``s = z z^T``, for anchor i and positive j != i:
    ``log p_ij = s_ij / tau - log sum_{k != i} exp(s_ik / tau)``,
    ``L_i = - sum_j (1 - p_ij) ** gamma log p_ij / norm_i``, where ``norm_i``
    is N (``'all'``, the reference's mean over columns) or the number of
    positives of i (``'positives'``; with ``gamma = 0`` this is SupCon).
    The result is the mean of ``L_i`` over anchors with at least one
    positive, and 0 (still attached to ``z``) when there is none.

    The math runs in float32, also under autocast.

    Args:
        z (Tensor): (N, d) L2-normalised embeddings.
        labels (Tensor): (N, ) class indices or (N, C) soft labels.
        temperature (float): tau, > 0. Defaults to 0.07.
        gamma (float): Focusing exponent, >= 0; 0 disables the focal weight.
            Defaults to 1.0.
        normalize (str): ``'all'`` or ``'positives'``. Defaults to ``'all'``.
        pair_label (str): ``'dominant'`` or ``'exact'``, see
            :func:`positive_pair_mask`. Defaults to ``'dominant'``.
        stats (dict, optional): When given, receives detached diagnostics:
            ``positives`` (mean positives per anchor) and ``focal_weight``
            (mean ``(1 - p_ij) ** gamma`` over positive pairs).

    Returns:
        Tensor: float32 scalar.
    """
    check_focal_supcon_args(temperature, gamma, normalize, pair_label)
    if z.dim() != 2:
        raise ValueError(f'z: expected shape (N, d), got {tuple(z.shape)}')
    if labels.size(0) != z.size(0):
        raise ValueError(
            f'labels: {labels.size(0)} rows for {z.size(0)} embeddings')
    positive = positive_pair_mask(labels, pair_label)
    num = z.size(0)
    if num < 2:
        return z.float().sum() * 0.0

    with torch.autocast(device_type=z.device.type, enabled=False):
        z = z.float()
        logits = z @ z.t() / temperature
        self_mask = torch.eye(num, dtype=torch.bool, device=z.device)
        positive = positive & ~self_mask
        # The row max is subtracted inside logsumexp; the anchor itself is
        # excluded from the denominator.
        log_denominator = torch.logsumexp(
            logits.masked_fill(self_mask, float('-inf')), dim=1)
        # Dense over the (N, N) pairs with the non-positive ones zeroed, so
        # that no step depends on how many positives there are: no host
        # synchronisation (selecting the pairs would need one). log p <= 0 on
        # every kept pair, so exp never overflows.
        log_prob = torch.where(positive, logits - log_denominator[:, None],
                               logits.new_zeros(()))
        if gamma == 0:
            focal = None
            pair_loss = -log_prob
        else:
            weight = (1 - log_prob.exp()).clamp_min(0)
            focal = weight if gamma == 1 else weight.pow(gamma)
            # zero on the non-positive pairs: log p = 0 there
            pair_loss = -focal * log_prob
        num_positives = positive.sum(dim=1)
        if stats is not None:
            stats['positives'] = num_positives.float().mean().detach()
            pairs = num_positives.sum()
            stats['focal_weight'] = torch.where(
                pairs > 0, (focal * positive).sum() / pairs.clamp_min(1),
                logits.new_ones(())).detach() if focal is not None \
                else logits.new_ones(())
        per_anchor = pair_loss.sum(dim=1)
        if normalize == 'all':
            per_anchor = per_anchor / num
        else:
            per_anchor = per_anchor / num_positives.clamp_min(1)
        has_positive = (num_positives > 0).float()
        return (per_anchor *
                has_positive).sum() / has_positive.sum().clamp_min(1)
