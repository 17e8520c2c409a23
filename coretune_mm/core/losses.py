"""Small losses shared by the heads."""
from typing import Callable, Optional

import torch
import torch.distributed as dist
import torch.nn.functional as F

from .distributed import is_distributed

__all__ = [
    'soft_cross_entropy', 'prior_correction', 'class_frequencies',
    'smooth_classifier_logits', 'smooth_classifier_loss'
]


def soft_cross_entropy(logits: torch.Tensor,
                       soft_labels: torch.Tensor) -> torch.Tensor:
    """Mean over rows of ``- sum_c y_c log softmax(logits)_c``, in float32.

    Args:
        logits (Tensor): (N, C).
        soft_labels (Tensor): (N, C), rows summing to 1.

    Returns:
        Tensor: scalar; 0 (attached to ``logits``) when N = 0.
    """
    if logits.size(0) == 0:
        return logits.float().sum() * 0.0
    log_prob = F.log_softmax(logits.float(), dim=1)
    return -(soft_labels.float() * log_prob).sum(dim=1).mean()


def prior_correction(soft_labels: torch.Tensor,
                     prior: torch.Tensor,
                     eps: float = 1e-6) -> torch.Tensor:
    """Logit offset ``log q_c - log prior_c`` that keeps a prior in place.

    ``q`` is the class frequency of ``soft_labels`` (their mean row). Added
    to the logits of those rows, it makes their soft-label CE's gradient on
    the classifier's bias vanish at a classifier that predicts ``prior``:
    ``softmax(log prior + log q - log prior) = q``, the rows' mean target.
    So training the classifier on generated rows whose class mix differs
    from the data's does not pull its class prior toward theirs.

    Args:
        soft_labels (Tensor): (N, C) soft labels of the rows.
        prior (Tensor): (C, ) class frequencies of the data.
        eps (float): Floor of both frequencies. Defaults to 1e-6.

    Returns:
        Tensor: (C, ) float32 offsets.
    """
    freq = soft_labels.float().mean(dim=0)
    return freq.clamp_min(eps).log() - prior.float().clamp_min(eps).log()


def class_frequencies(labels: torch.Tensor,
                      num_classes: int,
                      ignore_index: int = 255,
                      across_ranks: bool = False) -> torch.Tensor:
    """(C, ) float32 share of each class among the labels not ignored.

    Args:
        labels (Tensor): Integer labels of any shape.
        num_classes (int): C.
        ignore_index (int): Label left out. Defaults to 255.
        across_ranks (bool): Count over all ranks (every rank must call).
            Defaults to False.

    Returns:
        Tensor: frequencies summing to 1; all zeros when every label is
        ignored.
    """
    labels = labels.flatten().long()
    valid = (labels != ignore_index) & (labels >= 0) & (labels < num_classes)
    # scatter_add into C slots: bincount would read the largest label on
    # the host
    counts = torch.zeros(
        num_classes, device=labels.device).scatter_add_(
            0, labels.where(valid, torch.zeros_like(labels)), valid.float())
    if across_ranks and is_distributed():
        dist.all_reduce(counts)
    return counts / counts.sum().clamp_min(1.0)


def smooth_classifier_logits(logits: torch.Tensor,
                             targets: torch.Tensor,
                             num_original: int,
                             prior: Optional[torch.Tensor] = None,
                             correct: bool = True) -> torch.Tensor:
    """The smooth classifier's logits on a Core-tuning step's samples.

    The classifier is trained on the originals and the generated samples
    (rows ``num_original:``). Hard-pair mixup draws other-class partners,
    so the generated rows' class mix leans toward the rare classes; with
    ``correct``, their logits are offset by :func:`prior_correction`
    against ``prior`` so that training on them does not move the
    classifier's class prior. :func:`smooth_classifier_loss` takes its loss
    on these logits.

    Args:
        logits (Tensor): (M, C) the classifier on the samples.
        targets (Tensor): (M, C) their soft labels.
        num_original (int): How many leading rows are originals.
        prior (Tensor, optional): (C, ) class frequencies of the data;
            defaults to the originals' mean target.
        correct (bool): Apply the offset. Defaults to True.

    Returns:
        Tensor: (M, C) logits, float32 when corrected.
    """
    if not correct or logits.size(0) <= num_original:
        return logits
    if prior is None:
        if num_original == 0:
            raise ValueError('prior: needed when there are no originals to '
                             'take the class frequencies from')
        prior = targets[:num_original].float().mean(dim=0)
    offset = prior_correction(targets[num_original:], prior)
    return torch.cat([
        logits[:num_original].float(), logits[num_original:].float() + offset
    ])


def smooth_classifier_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    num_original: int,
    prior: Optional[torch.Tensor] = None,
    correct: bool = True,
    loss_fn: Callable[[torch.Tensor, torch.Tensor],
                      torch.Tensor] = soft_cross_entropy
) -> torch.Tensor:
    """The smooth classifier's loss: ``loss_fn`` of the
    :func:`smooth_classifier_logits` against the soft ``targets``.

    Both heads train their classifier through this: the classification head
    on the originals and the generated samples with its own classification
    loss (``loss_fn``, e.g. MMPretrain's soft-target ``CrossEntropyLoss``)
    as ``loss_cls``; the pixel heads on the generated pixels alone
    (``num_original=0``, ``prior`` the label map's class frequencies) with
    :func:`soft_cross_entropy` as ``loss_mix``, since their original
    pixels are already in the decode head's own loss.

    Args:
        logits (Tensor): (M, C) the classifier on the samples.
        targets (Tensor): (M, C) their soft labels.
        num_original (int): How many leading rows are originals.
        prior (Tensor, optional): See :func:`smooth_classifier_logits`.
        correct (bool): Apply the prior correction. Defaults to True.
        loss_fn (callable): ``(logits, soft targets) -> scalar``. Defaults
            to :func:`soft_cross_entropy`.

    Returns:
        Tensor: the scalar loss.
    """
    return loss_fn(
        smooth_classifier_logits(logits, targets, num_original, prior,
                                 correct), targets)
