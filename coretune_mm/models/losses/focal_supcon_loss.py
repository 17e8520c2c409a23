"""Loss module wrapping :func:`coretune_mm.core.focal_supcon_loss`."""
import torch
import torch.nn as nn

from coretune_mm.core import check_focal_supcon_args, focal_supcon_loss
from coretune_mm.registry import register_model


@register_model
class FocalSupConLoss(nn.Module):
    """Focal supervised contrastive loss of Core-tuning.

    Registered in MMPretrain's and MMSegmentation's ``MODELS``.

    Args:
        temperature (float): tau. Defaults to 0.07.
        gamma (float): Focal exponent; 0 gives SupCon-style weighting.
            Defaults to 1.0.
        normalize (str): ``'all'`` (reference) or ``'positives'`` (SupCon).
            Defaults to ``'all'``.
        pair_label (str): ``'dominant'`` or ``'exact'``. Defaults to
            ``'dominant'``.
        loss_name (str): Name of the loss item, MMSegmentation style.
            Defaults to ``'loss_contrast'``.
    """

    def __init__(self,
                 temperature: float = 0.07,
                 gamma: float = 1.0,
                 normalize: str = 'all',
                 pair_label: str = 'dominant',
                 loss_name: str = 'loss_contrast'):
        super().__init__()
        # Fail at build time rather than at the first iteration.
        try:
            check_focal_supcon_args(temperature, gamma, normalize, pair_label)
        except ValueError as err:
            raise ValueError(f'FocalSupConLoss: {err}') from None
        self.temperature = temperature
        self.gamma = gamma
        self.normalize = normalize
        self.pair_label = pair_label
        self._loss_name = loss_name

    def forward(self,
                z: torch.Tensor,
                labels: torch.Tensor,
                return_stats: bool = False):
        """Args: z (N, d) unit-norm embeddings; labels (N, ) or (N, C);
        ``return_stats``: also return the diagnostics (mean positives per
        anchor, mean focal weight) as a dict, as
        :func:`coretune_mm.core.focal_supcon_loss` does."""
        return focal_supcon_loss(
            z,
            labels,
            temperature=self.temperature,
            gamma=self.gamma,
            normalize=self.normalize,
            pair_label=self.pair_label,
            return_stats=return_stats)

    @property
    def loss_name(self) -> str:
        """Name of the loss item (MMSegmentation's convention)."""
        return self._loss_name


# the heads' default ``contrast_loss``: the loss with the core's defaults
DEFAULT_CONTRAST_LOSS = dict(type='FocalSupConLoss')


def build_contrast_loss(cfg: dict, registry) -> nn.Module:
    """Build a head's ``contrast_loss`` from ``registry``; every error names
    the option."""
    if isinstance(cfg, dict) and 'loss_weight' in cfg:
        raise ValueError(
            "contrast_loss: no loss_weight; the head's contrast_weight (eta) "
            'is the one weight of the contrastive loss')
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise ValueError('contrast_loss: expected a dict with a `type` (e.g. '
                         f"dict(type='FocalSupConLoss')), got {cfg!r}")
    try:
        return registry.build(cfg)
    except (KeyError, TypeError, ValueError) as err:
        message = err.args[0] if err.args else err
        raise ValueError(f'contrast_loss: {message}') from None
