"""Hardness-directed mixup: hard-pair mining and generated hard samples.

Core-tuning (Zhang et al., NeurIPS 2021) enlarges each batch with

* semi-hard negatives: ``(1 - lam) h_i + lam h_j`` with ``j`` of another class
  and ``lam >= 0.8``, mostly the other-class sample pulled toward the anchor;
* hard positives: ``lam h_p + (1 - lam) h_n`` where ``p`` is the anchor's
  least similar positive and ``n`` its most similar negative.

Soft labels are mixed with the same weights.
"""
import inspect
from typing import Dict, NamedTuple, Optional, Tuple

import torch
import torch.nn.functional as F

from .checks import check_bools
from .sampling import sample_beta

__all__ = [
    'mine_hard_pairs', 'hard_pair_mixup', 'check_mixup_args', 'to_soft_labels',
    'MixupPlan', 'apply_mixup_plan'
]

PARTNER_MODES = ('other_class', 'random')
_ABOVE_HALF = float(torch.nextafter(torch.tensor(0.5), torch.tensor(1.0)))


def to_soft_labels(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Turn class indices (N, ) into one-hot rows (N, C); pass (N, C) through.

    Args:
        labels (Tensor): Class indices (N, ) or soft labels (N, C).
        num_classes (int): C.

    Returns:
        Tensor: float soft labels of shape (N, C).

    Raises:
        ValueError: On a wrong shape, or (CPU tensors) an index outside
            ``[0, num_classes)``.
    """
    if labels.dim() == 2:
        if labels.size(1) != num_classes:
            raise ValueError(f'labels: soft labels have {labels.size(1)} '
                             f'columns, expected num_classes={num_classes}')
        return labels.float()
    if labels.dim() != 1:
        raise ValueError('labels: expected class indices (N, ) or soft '
                         f'labels (N, C), got shape {tuple(labels.shape)}')
    # The range check reads the labels on the host: done on the CPU only.
    # On an accelerator ``F.one_hot`` with ``num_classes`` reports an
    # out-of-range index through a device-side assert, without a sync.
    if labels.device.type == 'cpu' and labels.numel() and (
            labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f'labels: class indices must lie in [0, '
                         f'{num_classes}), got [{int(labels.min())}, '
                         f'{int(labels.max())}]')
    return F.one_hot(labels.long(), num_classes).float()


MIXUP_OPTIONS = ('alpha', 'hn_lambda_min', 'hp_lambda_min', 'partner',
                 'hard_negatives', 'hard_positives')


def check_mixup_args(**options) -> dict:
    """Validate options of :func:`hard_pair_mixup` (ValueError; TypeError for
    an unknown name) and return all of them, its defaults filled in."""
    unknown = sorted(set(options) - set(MIXUP_OPTIONS))
    if unknown:
        raise TypeError(f'unknown option(s) {unknown}; expected some of '
                        f'{MIXUP_OPTIONS}')
    defaults = inspect.signature(hard_pair_mixup).parameters
    full = {
        name: options.get(name, defaults[name].default)
        for name in MIXUP_OPTIONS
    }
    _check_mixup_values(**full)
    return full


def _check_mixup_values(alpha, hn_lambda_min, hp_lambda_min, partner,
                        hard_negatives, hard_positives) -> None:
    if not alpha > 0:
        raise ValueError(f'alpha must be > 0, got {alpha}')
    for name, value in (('hn_lambda_min', hn_lambda_min), ('hp_lambda_min',
                                                           hp_lambda_min)):
        if not 0 <= value <= 1:
            raise ValueError(f'{name} must lie in [0, 1], got {value}')
    if partner not in PARTNER_MODES:
        raise ValueError(
            f'partner must be one of {PARTNER_MODES}, got {partner!r}')
    check_bools(hard_negatives=hard_negatives, hard_positives=hard_positives)


def _check_pair(features: torch.Tensor, labels: torch.Tensor,
                labels_name: str) -> None:
    if features.dim() != 2:
        raise ValueError('features: expected shape (N, D), got '
                         f'{tuple(features.shape)}')
    if labels.size(0) != features.size(0):
        raise ValueError(f'{labels_name}: {labels.size(0)} rows for '
                         f'{features.size(0)} features')


@torch.no_grad()
def mine_hard_pairs(features: torch.Tensor,
                    labels: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per anchor, the hardest positive and the hardest negative.

    Similarities are cosine similarities. Non-candidates are masked with
    +inf / -inf before the arg-reduction, so a positive is picked only among
    true positives whatever the sign of the similarities.

    Args:
        features (Tensor): (N, D) features.
        labels (Tensor): (N, ) class indices.

    Returns:
        tuple[Tensor, Tensor]: ``pos_idx`` (N, ): the other same-class sample
        with the lowest similarity, or the anchor itself when it has no
        positive; ``neg_idx`` (N, ): the other-class sample with the highest
        similarity, or the anchor itself when there is none.
    """
    _check_pair(features, labels, 'labels')
    if labels.dim() != 1:
        raise ValueError('labels: expected class indices (N, ), got shape '
                         f'{tuple(labels.shape)}')
    normed = F.normalize(features.float(), dim=1)
    similarity = normed @ normed.t()
    num = features.size(0)
    self_idx = torch.arange(num, device=features.device)
    same_class = labels[:, None] == labels[None, :]
    positive = same_class.clone()
    positive.fill_diagonal_(False)
    negative = ~same_class

    pos_idx = similarity.masked_fill(~positive, float('inf')).argmin(dim=1)
    neg_idx = similarity.masked_fill(~negative, float('-inf')).argmax(dim=1)
    pos_idx = torch.where(positive.any(dim=1), pos_idx, self_idx)
    neg_idx = torch.where(negative.any(dim=1), neg_idx, self_idx)
    return pos_idx, neg_idx


def _draw_partners(labels: torch.Tensor, partner: str,
                   generator: Optional[torch.Generator]) -> torch.Tensor:
    """Partner j(i) of each anchor for the semi-hard negatives."""
    num = labels.size(0)
    device = labels.device
    if partner == 'random':
        return torch.randperm(num, device=device, generator=generator)
    # Uniform among other-class samples: argmax of i.i.d. uniform scores over
    # the candidates. Without another class, any other sample; alone, itself.
    other_class = labels[:, None] != labels[None, :]
    not_self = ~torch.eye(num, dtype=torch.bool, device=device)
    candidates = torch.where(
        other_class.any(dim=1, keepdim=True), other_class, not_self)
    scores = torch.rand(num, num, device=device, generator=generator)
    return scores.masked_fill(~candidates, -1.0).argmax(dim=1)


def _clipped_lambda(alpha: float, lambda_min: float, num: int,
                    device: torch.device,
                    generator: Optional[torch.Generator]) -> torch.Tensor:
    """(N, 1) float32 weights ``max(Beta(alpha, alpha), lambda_min)``."""
    lam = sample_beta(alpha, num, device=device, generator=generator)
    return lam.clamp_min(lambda_min).unsqueeze(1)


def hard_pair_mixup(features: torch.Tensor,
                    soft_labels: torch.Tensor,
                    *,
                    alpha: float = 1.0,
                    hn_lambda_min: float = 0.8,
                    hp_lambda_min: float = 0.5,
                    partner: str = 'other_class',
                    hard_negatives: bool = True,
                    hard_positives: bool = True,
                    generator: Optional[torch.Generator] = None,
                    return_plan: bool = False):
    """Append generated semi-hard negatives and hard positives to a batch.

    Fully vectorised and free of host synchronisation; gradients flow to
    every input feature through the mixing. Pair membership is decided by
    the dominant class (argmax) of each soft label.

    Args:
        features (Tensor): (N, D) features ``h``.
        soft_labels (Tensor): (N, C) soft labels (rows summing to 1).
        alpha (float): Beta(alpha, alpha) concentration of the mixing
            weights. Defaults to 1.0.
        hn_lambda_min (float): Lower clip of the semi-hard negatives' weight
            on the partner. Defaults to 0.8.
        hp_lambda_min (float): Lower clip of the hard positives' weight on
            the hardest positive. Defaults to 0.5 (stays in the anchor's
            class); 0 reproduces the unclipped reference.
        partner (str): ``'other_class'`` draws the negative partner uniformly
            among samples of another class (any other sample when there is
            none); ``'random'`` uses a random permutation like the reference.
            Defaults to ``'other_class'``.
        hard_negatives (bool): Generate semi-hard negatives. Defaults to True.
        hard_positives (bool): Generate hard positives. Defaults to True.
        generator (torch.Generator, optional): Randomness source, on the
            features' device. Defaults to the global generator.
        return_plan (bool): Also return the :class:`MixupPlan`: which rows
            were mixed with which weights (for logging the weights, and for
            :func:`apply_mixup_plan` on anything computed affinely from the
            originals). Defaults to False.

    Returns:
        tuple: features (kN, D) and float32 soft labels (kN, C): the
        originals, then the semi-hard negatives, then the hard positives
        (k = 1 + number of enabled kinds); then the plan when
        ``return_plan``.
    """
    _check_pair(features, soft_labels, 'soft_labels')
    if soft_labels.dim() != 2:
        raise ValueError('soft_labels: expected shape (N, C), got '
                         f'{tuple(soft_labels.shape)}')
    _check_mixup_values(alpha, hn_lambda_min, hp_lambda_min, partner,
                        hard_negatives, hard_positives)

    # Labels are mixed in float32 whatever the features' dtype.
    soft_labels = soft_labels.float()
    num, device = features.size(0), features.device
    dominant = soft_labels.argmax(dim=1)
    hn = hp = None
    if hard_negatives:
        j = _draw_partners(dominant, partner, generator)
        lam = _clipped_lambda(alpha, hn_lambda_min, num, device, generator)
        hn = (None, j, lam)  # (1 - lam) h_i + lam h_j
    if hard_positives:
        p, n = mine_hard_pairs(features.detach(), dominant)
        lam = _clipped_lambda(alpha, hp_lambda_min, num, device, generator)
        if hp_lambda_min == 0.5:
            # A weight of exactly 0.5 would tie the soft label between the
            # two classes; break the tie toward the hard positive's class.
            lam = lam.clamp_min(_ABOVE_HALF)
        hp = (n, p, lam)  # lam h_p + (1 - lam) h_n
    plan = MixupPlan(hn, hp)
    samples = apply_mixup_plan(features, plan)
    targets = apply_mixup_plan(soft_labels, plan)
    return (samples, targets, plan) if return_plan else (samples, targets)


class MixupPlan(NamedTuple):
    """The rows :func:`hard_pair_mixup` generated, as ``(first, second,
    lam)`` per kind: row i is ``(1 - lam_i) x[first_i] + lam_i x[second_i]``
    (``first`` None: the anchor itself); None when the kind is off.

    Attributes:
        hn: semi-hard negatives (second: the partner j).
        hp: hard positives (first: the hardest negative n, second: the
            hardest positive p).
    """
    hn: Optional[Tuple[Optional[torch.Tensor], torch.Tensor, torch.Tensor]]
    hp: Optional[Tuple[torch.Tensor, torch.Tensor, torch.Tensor]]

    def lambdas(self) -> Dict[str, torch.Tensor]:
        """``{kind: (N, 1) float32 weight on the second row}``: on the partner
        for ``'hn'``, on the hardest positive for ``'hp'``."""
        return {
            kind: pair[2]
            for kind, pair in self._asdict().items() if pair is not None
        }


def apply_mixup_plan(x: torch.Tensor, plan: MixupPlan) -> torch.Tensor:
    """The originals ``x`` (N, ...) followed by the rows ``plan`` mixes from
    them, in ``x``'s dtype.

    Mixing weights sum to 1, so for an affine map f (a linear layer),
    ``f(apply_mixup_plan(x, plan)) == apply_mixup_plan(f(x), plan)``: f runs
    on the N originals instead of all kN rows.
    """
    rows = [x]
    for pair in plan:
        if pair is None:
            continue
        first, second, lam = pair
        lam = lam.to(x.dtype).view(-1, *([1] * (x.dim() - 1)))
        rows.append((1 - lam) * (x if first is None else x[first]) +
                    lam * x[second])
    return torch.cat(rows)
