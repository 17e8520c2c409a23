"""Focal supervised contrastive loss (Core-tuning, Eq.

2 of the paper).
"""
import math

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


def pair_classes(labels: torch.Tensor,
                 pair_label: str = 'dominant') -> torch.Tensor:
    """(N, ) integers, equal exactly for the pairs that count as positives (see
    :func:`positive_pair_mask`)."""
    if pair_label not in PAIR_LABEL_MODES:
        raise ValueError(f'pair_label must be one of {PAIR_LABEL_MODES}, '
                         f'got {pair_label!r}')
    if labels.dim() == 2:
        if pair_label == 'dominant':
            return labels.argmax(dim=1)
        return torch.unique(labels, dim=0, return_inverse=True)[1]
    if labels.dim() != 1:
        raise ValueError('labels: expected (N, ) class indices or (N, C) '
                         f'soft labels, got shape {tuple(labels.shape)}')
    return labels.long()


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
    classes = pair_classes(labels, pair_label)
    return classes[:, None] == classes[None, :]


def focal_supcon_loss(z: torch.Tensor,
                      labels: torch.Tensor,
                      *,
                      temperature: float = 0.07,
                      gamma: float = 1.0,
                      normalize: str = 'all',
                      pair_label: str = 'dominant',
                      return_stats: bool = False):
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
        return_stats (bool): Also return the detached diagnostics
            ``{'positives': mean positives per anchor, 'focal_weight': mean
            (1 - p_ij) ** gamma over positive pairs}``. Defaults to False.

    Returns:
        Tensor | tuple[Tensor, dict]: the float32 scalar loss, with the
        diagnostics when ``return_stats``.
    """
    check_focal_supcon_args(temperature, gamma, normalize, pair_label)
    if z.dim() != 2:
        raise ValueError(f'z: expected shape (N, d), got {tuple(z.shape)}')
    if labels.size(0) != z.size(0):
        raise ValueError(
            f'labels: {labels.size(0)} rows for {z.size(0)} embeddings')
    classes = pair_classes(labels, pair_label)
    num = z.size(0)
    if num < 2:
        loss = z.float().sum() * 0.0
        zero = loss.detach()
        stats = dict(positives=zero, focal_weight=zero)
    else:
        with torch.autocast(device_type=z.device.type, enabled=False):
            loss, positives, focal_weight = _FocalSupCon.apply(
                z.float(), classes, temperature, gamma, normalize)
        stats = dict(positives=positives, focal_weight=focal_weight)
    return (loss, stats) if return_stats else loss


# rows of the (N, N) similarity handled at once: bounds the memory of the
# loss to about this many floats per intermediate, whatever N
_CHUNK_ELEMENTS = 2**22
# up to this many pairs (N * N; 64 MiB of float32, N = 4096) the forward pass
# keeps the loss's gradient with respect to the similarities for the backward
# pass, which is then two matrix products; above it the backward pass
# recomputes each block, so that memory stays O(N) for any N
_STORE_ELEMENTS = 2**24


def _row_chunks(num: int):
    step = max(1, _CHUNK_ELEMENTS // num)
    return [(start, min(start + step, num)) for start in range(0, num, step)]


def _pair_terms(z: torch.Tensor, classes: torch.Tensor, start: int, stop: int,
                temperature: float):
    """For anchors ``start:stop``: the positive mask, its complement, log p (0
    off the positives) and the softmax q over the other samples."""
    logits = z[start:stop] @ (z.t() / temperature)
    # the anchors' own pairs: element (i, start + i) of the block
    logits.diagonal(offset=start).fill_(float('-inf'))
    log_q = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    positive = classes[start:stop, None] == classes[None, :]
    positive.diagonal(offset=start).fill_(False)
    other = ~positive
    # log p <= 0 on every positive pair, so exp never overflows
    return positive, other, log_q.masked_fill(other, 0), log_q.exp()


def _logit_grad(positive: torch.Tensor, other: torch.Tensor,
                log_prob: torch.Tensor, softmax: torch.Tensor,
                anchor_weight: torch.Tensor, gamma: float) -> torch.Tensor:
    """dL/ds for a block of anchors (``anchor_weight``: their weights in the
    mean): ``g_ik - q_ik sum_j g_ij`` with ``g_ij = c_i l'(log p_ij)`` on the
    positive pairs."""
    if gamma == 0:
        slope = -torch.ones_like(log_prob)
    else:
        # p = q on the positive pairs (log p is 0, so p is 1, elsewhere)
        prob = softmax.masked_fill(other, 1)
        weight = (1 - prob).clamp_min(0)
        if gamma == 1:
            slope = -weight + log_prob * prob
        else:
            safe = torch.where(weight > 0, weight, torch.ones_like(weight))
            slope = -weight.pow(gamma) + torch.where(
                weight > 0, gamma * log_prob * prob * safe.pow(gamma - 1),
                torch.zeros_like(weight))
    pair_grad = torch.where(positive, slope, torch.zeros_like(slope))
    pair_grad = pair_grad * anchor_weight[:, None]
    return pair_grad - softmax * pair_grad.sum(dim=1, keepdim=True)


class _FocalSupCon(torch.autograd.Function):
    """The focal supervised contrastive loss with an analytic backward.

    Forward and backward walk over blocks of anchors, and no step depends on
    how many positives there are (no host synchronisation). Up to
    ``_STORE_ELEMENTS`` pairs the forward pass also writes dL/ds (N x N) for
    the backward pass; above it nothing of size (N, N) is kept (the blocks
    are recomputed in the backward pass), so memory stays O(N) plus one
    block.

    With ``s_ik = z_i . z_k / tau``, ``q_ik`` the softmax of ``s_i`` over
    ``k != i`` and ``g_ij = c_i l'(log p_ij)`` on positive pairs (``c_i``
    the anchor's weight in the mean, ``l(x) = -(1 - e^x)^gamma x``):
    ``dL/ds_ik = g_ik - q_ik sum_j g_ij`` and
    ``dL/dz = (dS + dS^T) z / tau``.
    """

    @staticmethod
    def forward(ctx, z, classes, temperature, gamma, normalize):
        num = z.size(0)
        num_positives = z.new_zeros(num)
        for start, stop in _row_chunks(num):
            same = classes[start:stop, None] == classes[None, :]
            num_positives[start:stop] = same.sum(dim=1).float() - 1
        has_positive = (num_positives > 0).float()
        norm = num_positives.clamp_min(1) if normalize == 'positives' \
            else z.new_full((num, ), float(num))
        # weight of each anchor's sum in the mean over anchors with positives
        anchor_weight = has_positive / norm / has_positive.sum().clamp_min(1)
        store = ctx.needs_input_grad[0] and num * num <= _STORE_ELEMENTS
        logit_grad = z.new_empty(num, num) if store else None
        loss = z.new_zeros(())
        focal_sum = z.new_zeros(())
        for start, stop in _row_chunks(num):
            positive, other, log_prob, softmax = _pair_terms(
                z, classes, start, stop, temperature)
            if gamma == 0:
                pair_loss = -log_prob
            else:
                weight = (1 - softmax).clamp_min(0).masked_fill(other, 0)
                focal = weight if gamma == 1 else weight.pow(gamma)
                pair_loss = -focal * log_prob
                focal_sum = focal_sum + (focal * positive).sum()
            loss = loss + (pair_loss.sum(dim=1) *
                           anchor_weight[start:stop]).sum()
            if store:
                logit_grad[start:stop] = _logit_grad(positive, other, log_prob,
                                                     softmax,
                                                     anchor_weight[start:stop],
                                                     gamma)
        pairs = num_positives.sum()
        focal_weight = focal_sum / pairs.clamp_min(1) if gamma != 0 \
            else z.new_ones(())
        focal_weight = torch.where(pairs > 0, focal_weight, z.new_ones(()))
        mean_positives = num_positives.mean()
        if store:
            ctx.save_for_backward(z, logit_grad)
        else:
            ctx.save_for_backward(z, classes, anchor_weight)
        ctx.store = store
        ctx.temperature, ctx.gamma = temperature, gamma
        ctx.mark_non_differentiable(mean_positives, focal_weight)
        return loss, mean_positives, focal_weight

    @staticmethod
    def backward(ctx, grad_loss, *_):
        temperature, gamma = ctx.temperature, ctx.gamma
        if ctx.store:
            z, logit_grad = ctx.saved_tensors
            scale = grad_loss / temperature
            return ((logit_grad @ z + logit_grad.t() @ z) * scale, None, None,
                    None, None)
        z, classes, anchor_weight = ctx.saved_tensors
        grad_z = torch.zeros_like(z)
        for start, stop in _row_chunks(z.size(0)):
            positive, other, log_prob, softmax = _pair_terms(
                z, classes, start, stop, temperature)
            grad_logits = _logit_grad(positive, other, log_prob, softmax,
                                      anchor_weight[start:stop],
                                      gamma) * grad_loss
            grad_z[start:stop] += grad_logits @ z / temperature
            grad_z += grad_logits.t() @ z[start:stop] / temperature
        return grad_z, None, None, None, None
