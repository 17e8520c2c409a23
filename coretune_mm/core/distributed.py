"""Cross-rank gathering for batch-dependent losses.

Core-tuning's mining, mixup and contrastive loss depend on the whole batch.
Under data parallelism every rank gathers the features of all ranks and
computes the *same* loss on the concatenated batch, with the same random draws.
The gather's backward sums the gradients of all ranks for the local slice;
after DDP averages parameter gradients, they equal those of one process on the
concatenated batch.
"""
from typing import List, Tuple

import torch
import torch.distributed as dist

__all__ = ['is_distributed', 'gather_across_ranks', 'GatherWithGrad']


def is_distributed() -> bool:
    """True inside an initialised process group of more than one rank."""
    return dist.is_available() and dist.is_initialized() and \
        dist.get_world_size() > 1


def _all_sizes(num: int, device: torch.device) -> List[int]:
    size = torch.tensor([num], device=device)
    sizes = [torch.zeros_like(size) for _ in range(dist.get_world_size())]
    dist.all_gather(sizes, size)
    return [int(s) for s in sizes]


def _padded_gather(tensor: torch.Tensor, sizes: List[int]) -> torch.Tensor:
    """All-gather rows of tensors that may have a different count per rank."""
    longest = max(sizes)
    padded = tensor.new_zeros((longest, *tensor.shape[1:]))
    padded[:tensor.size(0)] = tensor
    parts = [torch.empty_like(padded) for _ in sizes]
    dist.all_gather(parts, padded.contiguous())
    return torch.cat([part[:n] for part, n in zip(parts, sizes)])


class GatherWithGrad(torch.autograd.Function):
    """All-gather rows; backward sums each rank's gradient of the local
    rows."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor, sizes: List[int]) -> torch.Tensor:
        ctx.sizes = sizes
        ctx.rank = dist.get_rank()
        return _padded_gather(tensor, sizes)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        grad = grad.contiguous()
        dist.all_reduce(grad)
        start = sum(ctx.sizes[:ctx.rank])
        return grad[start:start + ctx.sizes[ctx.rank]], None


def gather_across_ranks(features: torch.Tensor, *others:
                        torch.Tensor) -> Tuple[torch.Tensor, ...]:
    """Concatenate ``features`` (differentiably) and ``others`` over ranks.

    Rows are ordered by rank. Ranks may hold different row counts, zero
    included; every rank must call this the same number of times. A no-op
    outside distributed training.

    Args:
        features (Tensor): (n_r, ...) rows with gradients.
        *others (Tensor): (n_r, ...) rows without gradients (labels).

    Returns:
        tuple[Tensor, ...]: the gathered ``features`` then ``others``.
    """
    if not is_distributed():
        return (features, *others)
    sizes = _all_sizes(features.size(0), features.device)
    gathered = [GatherWithGrad.apply(features, sizes)]
    gathered += [_padded_gather(t.to(features.device), sizes) for t in others]
    return tuple(gathered)
