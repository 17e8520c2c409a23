"""Focal supervised contrastive loss (Core-tuning, Eq.

2 of the paper).
"""
import math
from typing import Optional

import torch
from torch.autograd.function import once_differentiable

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
# keeps the loss's gradient with respect to the similarities, made symmetric,
# for the backward pass, which is then one matrix product; above it the
# backward pass recomputes each block, so that memory stays O(N) for any N
_STORE_ELEMENTS = 2**24
# side of the tiles in which that gradient is made symmetric in place
_TILE = 256


def _row_chunks(num: int):
    step = max(1, _CHUNK_ELEMENTS // num)
    return [(start, min(start + step, num)) for start in range(0, num, step)]


def _block(z: torch.Tensor,
           scaled_t: torch.Tensor,
           classes: torch.Tensor,
           start: int,
           stop: int,
           gamma: float,
           anchor_weight: torch.Tensor,
           num_positives: torch.Tensor,
           grad_out: Optional[torch.Tensor] = None):
    """The loss terms of anchors ``start:stop``.

    Returns their weighted loss and the sum of their focal weights over
    their positive pairs; with ``grad_out`` ((stop - start, N)), also writes
    dL/ds there: ``g_ik - q_ik sum_j g_ij`` with ``g_ij = c_i l'(log p_ij)``
    on the positive pairs (``l(x) = -(1 - e^x)^gamma x``).

    ``q`` is the softmax over the other samples, and ``p = q`` on the
    positive pairs. The (block, N) intermediates are few and mostly updated
    in place: the loss is bound by passes over them, not by arithmetic.
    """
    log_q = z[start:stop] @ scaled_t
    own = log_q.diagonal(offset=start)  # element (i, start + i): i itself
    own.fill_(float('-inf'))
    log_q.sub_(torch.logsumexp(log_q, dim=1, keepdim=True))
    q = log_q.exp()
    own.fill_(0)  # q is 0 there: keeps q log q finite
    other = classes[start:stop, None] != classes[None, :]
    other.diagonal(offset=start).fill_(True)
    weight = anchor_weight[start:stop, None]
    slope = None  # l'(log p)
    if gamma == 0:
        focal_sum = log_q.new_zeros(())
        if grad_out is not None:
            slope = grad_out.fill_(-1)
        log_term = log_q
    elif gamma == 1:
        # sum over positives of (1 - p) = their number - sum of p
        focal_sum = num_positives[start:stop].sum() - q.masked_fill(other,
                                                                    0).sum()
        q_log_q = q * log_q
        if grad_out is not None:
            slope = torch.add(q, q_log_q, out=grad_out).sub_(1)
        log_term = log_q.sub_(q_log_q)
    else:
        # log p <= 0, so 1 - p >= 0 up to rounding
        rest = (1 - q).clamp_min_(0)
        focal = rest.pow(gamma)
        if grad_out is not None:
            # gamma q log q (1 - q)^(gamma - 1), 0 where q = 1 (its limit;
            # the power alone is infinite there for gamma < 1)
            inside = rest > 0
            slope = (q * log_q).mul_(gamma).mul_(
                torch.where(inside, rest,
                            1).pow_(gamma - 1)).masked_fill_(~inside, 0)
            slope = torch.sub(slope, focal, out=grad_out)
        log_term = log_q.mul_(focal)
        focal_sum = focal.masked_fill_(other, 0).sum()
    # the pair's loss is -(1 - p)^gamma log p = -log_term
    loss = -(log_term.masked_fill_(other, 0).sum(dim=1) * weight[:, 0]).sum()
    if slope is not None:
        slope.masked_fill_(other, 0).mul_(weight)
        slope.addcmul_(q, slope.sum(dim=1, keepdim=True), value=-1)
    return loss, focal_sum


def _add_transpose_(matrix: torch.Tensor,
                    tiled: Optional[bool] = None) -> torch.Tensor:
    """``matrix += matrix^T`` in place for a square matrix.

    ``tiled`` (default: on the CPU): tile by tile, with no second (N, N)
    buffer; otherwise with a transposed copy, two kernels instead of one
    launch per tile.
    """
    if not (matrix.device.type == 'cpu' if tiled is None else tiled):
        return matrix.add_(matrix.t().clone())
    num = matrix.size(0)
    for start in range(0, num, _TILE):
        rows = slice(start, start + _TILE)
        diagonal = matrix[rows, rows]
        diagonal.copy_(diagonal + diagonal.t())
        for other in range(start + _TILE, num, _TILE):
            cols = slice(other, other + _TILE)
            both = matrix[rows, cols] + matrix[cols, rows].t()
            matrix[rows, cols] = both
            matrix[cols, rows] = both.t()
    return matrix


class _FocalSupCon(torch.autograd.Function):
    """The focal supervised contrastive loss with an analytic backward.

    Forward and backward walk over blocks of anchors, and no step depends on
    how many positives there are (no host synchronisation). Up to
    ``_STORE_ELEMENTS`` pairs the forward pass also writes dL/ds (N x N) and
    adds its transpose in place, so that the backward pass is one matrix
    product; above it nothing of size (N, N) is kept (the blocks
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
        scaled_t = z.t() / temperature
        loss = z.new_zeros(())
        focal_sum = z.new_zeros(())
        for start, stop in _row_chunks(num):
            block_loss, block_focal = _block(
                z, scaled_t, classes, start, stop, gamma, anchor_weight,
                num_positives, logit_grad[start:stop] if store else None)
            loss = loss + block_loss
            focal_sum = focal_sum + block_focal
        pairs = num_positives.sum()
        focal_weight = focal_sum / pairs.clamp_min(1) if gamma != 0 \
            else z.new_ones(())
        focal_weight = torch.where(pairs > 0, focal_weight, z.new_ones(()))
        mean_positives = num_positives.mean()
        if store:
            ctx.save_for_backward(z, _add_transpose_(logit_grad))
        else:
            ctx.save_for_backward(z, classes, anchor_weight, num_positives)
        ctx.store = store
        ctx.temperature, ctx.gamma = temperature, gamma
        ctx.mark_non_differentiable(mean_positives, focal_weight)
        return loss, mean_positives, focal_weight

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_loss, *_):
        temperature, gamma = ctx.temperature, ctx.gamma
        if ctx.store:
            z, symmetric_grad = ctx.saved_tensors
            grad_z = symmetric_grad @ z
            return (grad_z * (grad_loss / temperature), None, None, None, None)
        z, classes, anchor_weight, num_positives = ctx.saved_tensors
        scaled_t = z.t() / temperature
        grad_z = torch.zeros_like(z)
        for start, stop in _row_chunks(z.size(0)):
            grad_logits = z.new_empty(stop - start, z.size(0))
            _block(z, scaled_t, classes, start, stop, gamma, anchor_weight,
                   num_positives, grad_logits)
            grad_logits.mul_(grad_loss / temperature)
            grad_z[start:stop] += grad_logits @ z
            grad_z += grad_logits.t() @ z[start:stop]
        return grad_z, None, None, None, None
