"""Class-balanced, hardness-aware pixel sampling for pixel-level contrast.

Bounds the O(M^2) cost of pairwise contrast on dense features, following the
practice of ContrastiveSeg (Wang et al., ICCV 2021): classes present in each
image share a per-batch budget equally, and within an (image, class) half of
the pixels are "hard" (wrongly predicted) and half "easy".
"""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F

from .checks import check_int

__all__ = ['sample_pixels', 'check_sampler_args', 'labels_at', 'pixel_rows']


def check_sampler_args(max_samples: int = 1024, min_pixels: int = 2) -> dict:
    """Validate the options of :func:`sample_pixels`; raise ValueError.

    Returns:
        dict: ``max_samples`` and ``min_pixels``, defaults filled in.
    """
    check_int('max_samples', max_samples, 1)
    check_int('min_pixels', min_pixels, 1)
    return dict(max_samples=max_samples, min_pixels=min_pixels)


def labels_at(seg_label: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Integer labels nearest-resized to a feature map's ``size`` (h, w).

    Args:
        seg_label (Tensor): (N, 1, H, W) or (N, H, W) labels.
        size (tuple[int, int]): (h, w).

    Returns:
        Tensor: (N, h, w) long, on ``seg_label``'s device; row-major order
        matches :func:`pixel_rows`.
    """
    if seg_label.dim() == 3:
        seg_label = seg_label[:, None]
    return F.interpolate(
        seg_label.float(), size=tuple(size), mode='nearest')[:, 0].long()


def pixel_rows(features: torch.Tensor) -> torch.Tensor:
    """(N, C, h, w) feature map -> (N * h * w, C) rows, in the order of
    ``labels_at(...).flatten()``."""
    return features.permute(0, 2, 3, 1).flatten(0, 2)


def _group_sizes(keys: torch.Tensor, num_keys: int) -> torch.Tensor:
    """Elements per key in ``[0, num_keys)``, without a host synchronisation
    (``bincount`` reads the largest key on the host)."""
    return keys.new_zeros(num_keys).scatter_add_(0, keys,
                                                 torch.ones_like(keys))


def _rank_within_groups(keys: torch.Tensor, scores: torch.Tensor,
                        num_keys: int) -> torch.Tensor:
    """Rank of each element among those with the same key, by random score."""
    by_score = scores.argsort()
    order = by_score[keys[by_score].argsort(stable=True)]
    counts = _group_sizes(keys, num_keys)
    starts = counts.cumsum(0) - counts
    ranks = torch.empty_like(keys)
    ranks[order] = torch.arange(keys.numel(), device=keys.device) - \
        starts[keys[order]]
    return ranks


def sample_pixels(labels: torch.Tensor,
                  predictions: torch.Tensor,
                  *,
                  max_samples: int = 1024,
                  min_pixels: int = 2,
                  ignore_index: int = 255,
                  num_classes: Optional[int] = None,
                  generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Choose at most ``max_samples`` pixels of a batch of label maps.

    Every (image, class) pair with at least ``min_pixels`` labelled pixels
    gets ``max_samples // pairs`` of the budget, and the remainder goes one
    pixel each to randomly chosen pairs (so with more pairs than budget,
    ``max_samples`` pairs get one pixel). Within a pair, half of its
    share goes to hard pixels (``prediction != label``), half to easy ones,
    each drawn uniformly; a pool that runs short is filled from the other.
    Pixels equal to ``ignore_index`` are never chosen.

    Every step works on fixed-size tensors (one slot per possible (image,
    class) pair), so the only host synchronisation is the final selection,
    whose size depends on the data; with ``num_classes`` omitted, reading
    the largest label adds one.

    Args:
        labels (Tensor): (N, H, W) integer labels, in ``[0, num_classes)``
            or equal to ``ignore_index``.
        predictions (Tensor): (N, H, W) predicted classes.
        max_samples (int): The budget M. Defaults to 1024.
        min_pixels (int): Pairs with fewer pixels are dropped. Defaults to 2.
        ignore_index (int): Label of unlabelled pixels. Defaults to 255.
        num_classes (int, optional): C. Defaults to the largest label + 1.
        generator (torch.Generator, optional): Randomness source.

    Returns:
        Tensor: (K, ) indices into ``labels.flatten()``, K <= max_samples,
        grouped by image and class.
    """
    if labels.shape != predictions.shape or labels.dim() != 3:
        raise ValueError('labels and predictions: expected two (N, H, W) '
                         f'maps, got {tuple(labels.shape)} and '
                         f'{tuple(predictions.shape)}')
    check_sampler_args(max_samples, min_pixels)
    device = labels.device
    flat_labels = labels.flatten().long()
    valid = flat_labels != ignore_index
    if num_classes is None:
        num_classes = int(flat_labels.masked_fill(~valid, 0).max()) + 1 \
            if flat_labels.numel() else 1
    num_pixels = flat_labels.numel()
    # One slot per (image, class); ignored pixels share one more slot.
    num_slots = labels.size(0) * num_classes
    images = torch.arange(num_pixels, device=device) // labels[0].numel()
    keys = torch.where(
        valid, images * num_classes + flat_labels.clamp(0, num_classes - 1),
        num_slots)
    hard = (predictions.flatten().long() != flat_labels).long()

    kept = _group_sizes(keys, num_slots + 1)[:num_slots] >= min_pixels
    num_kept = kept.sum()
    # Equal shares; the remainder goes one pixel each to random pairs, so
    # a budget below the number of pairs still yields min(M, pairs) pixels.
    share = max_samples // num_kept.clamp_min(1)
    remainder = max_samples - share * num_kept
    slot_scores = torch.rand(num_slots, device=device, generator=generator)
    slot_order = slot_scores.masked_fill(~kept, 2.0).argsort()
    slot_rank = torch.empty_like(slot_order)
    slot_rank[slot_order] = torch.arange(num_slots, device=device)
    quota = share + (slot_rank < remainder).long()

    scores = torch.rand(num_pixels, device=device, generator=generator)
    pools = keys * 2 + hard
    rank = _rank_within_groups(pools, scores, 2 * num_slots + 2)
    pool_sizes = _group_sizes(pools, 2 * num_slots + 2).view(-1, 2)
    num_easy, num_hard = pool_sizes[:num_slots, 0], pool_sizes[:num_slots, 1]
    take_hard = torch.minimum(
        num_hard, torch.maximum(quota - quota // 2, quota - num_easy))
    take_easy = torch.minimum(num_easy, quota - take_hard)
    take = torch.stack([take_easy, take_hard], dim=1) * kept[:, None]
    # the ignored pixels' slot takes nothing
    take = torch.cat([take.flatten(), take.new_zeros(2)])
    picked = torch.nonzero(rank < take[pools]).squeeze(1)
    # group by pair for readability of downstream code and tests
    return picked[keys[picked].argsort(stable=True)]
