"""Class-balanced, hardness-aware pixel sampling for pixel-level contrast.

Bounds the O(M^2) cost of pairwise contrast on dense features, following
the practice of ContrastiveSeg (Wang et al., ICCV 2021): classes present in
each image share a per-batch budget equally, and within an (image, class)
half of the pixels are "hard" (wrongly predicted) and half "easy".
"""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F

__all__ = ['sample_pixels', 'check_sampler_args', 'labels_at', 'pixel_rows']


def check_sampler_args(max_samples: int = 1024, min_pixels: int = 2) -> dict:
    """Validate the options of :func:`sample_pixels`; raise ValueError.

    Returns:
        dict: ``max_samples`` and ``min_pixels``, defaults filled in.
    """
    for name, value in (('max_samples', max_samples), ('min_pixels',
                                                       min_pixels)):
        if isinstance(value,
                      bool) or not (isinstance(value, int) and value > 0):
            raise ValueError(f'{name} must be a positive int, got {value!r}')
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


def _rank_within_groups(keys: torch.Tensor, scores: torch.Tensor,
                        num_keys: int) -> torch.Tensor:
    """Rank of each element among those with the same key, by random score."""
    by_score = scores.argsort()
    order = by_score[keys[by_score].argsort(stable=True)]
    counts = torch.bincount(keys, minlength=num_keys)
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
                  generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Choose at most ``max_samples`` pixels of a batch of label maps.

    Every (image, class) pair with at least ``min_pixels`` labelled pixels
    gets ``max_samples // pairs`` of the budget, and the remainder goes one
    pixel each to randomly chosen pairs (so with more pairs than budget,
    ``max_samples`` pairs get one pixel). Within a pair, half of its
    share goes to hard pixels (``prediction != label``), half to easy ones,
    each drawn uniformly; a pool that runs short is filled from the other.
    Pixels equal to ``ignore_index`` are never chosen.

    Args:
        labels (Tensor): (N, H, W) integer labels.
        predictions (Tensor): (N, H, W) predicted classes.
        max_samples (int): The budget M. Defaults to 1024.
        min_pixels (int): Pairs with fewer pixels are dropped. Defaults to 2.
        ignore_index (int): Label of unlabelled pixels. Defaults to 255.
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
    valid = torch.nonzero(flat_labels != ignore_index).squeeze(1)
    if valid.numel() == 0:
        return valid
    pixel_labels = flat_labels[valid]
    pixel_images = valid // labels[0].numel()
    hard = (predictions.flatten()[valid].long() != pixel_labels).long()

    # One group per (image, class) present in the batch.
    pair_keys, pair_of_pixel, pair_sizes = torch.unique(
        pixel_images * (int(pixel_labels.max()) + 1) + pixel_labels,
        return_inverse=True,
        return_counts=True)
    num_pairs = pair_keys.numel()
    kept_pair = pair_sizes >= min_pixels
    num_kept = kept_pair.sum()
    # Equal shares; the remainder goes one pixel each to random pairs, so
    # a budget below the number of pairs still yields min(M, pairs) pixels.
    share = max_samples // num_kept.clamp_min(1)
    remainder = max_samples - share * num_kept
    pair_scores = torch.rand(num_pairs, device=device, generator=generator)
    pair_order = pair_scores.masked_fill(~kept_pair, 2.0).argsort()
    pair_rank = torch.empty_like(pair_order)
    pair_rank[pair_order] = torch.arange(num_pairs, device=device)
    quota = share + (pair_rank < remainder).long()

    scores = torch.rand(valid.numel(), device=device, generator=generator)
    pools = pair_of_pixel * 2 + hard
    rank = _rank_within_groups(pools, scores, 2 * num_pairs)
    pool_sizes = torch.bincount(pools, minlength=2 * num_pairs).view(-1, 2)
    num_easy, num_hard = pool_sizes[:, 0], pool_sizes[:, 1]
    take_hard = torch.minimum(
        num_hard, torch.maximum(quota - quota // 2, quota - num_easy))
    take_easy = torch.minimum(num_easy, quota - take_hard)
    take = torch.stack([take_easy, take_hard], dim=1) * kept_pair[:, None]
    chosen = rank < take.flatten()[pools]
    picked = valid[chosen]
    # group by pair for readability of downstream code and tests
    return picked[pair_of_pixel[chosen].argsort(stable=True)]
