"""DeepLab-V3 / V3+ decode heads with pixel-level Core-tuning."""
import torch
from mmseg.models.decode_heads import ASPPHead, DepthwiseSeparableASPPHead
from mmseg.models.utils import resize
from mmseg.registry import MODELS

from .pixel_core_tuning import PixelCoreTuningMixin

__all__ = ['CoreTuneASPPHead', 'CoreTuneDepthwiseSeparableASPPHead']


@MODELS.register_module()
class CoreTuneASPPHead(PixelCoreTuningMixin, ASPPHead):
    """:class:`ASPPHead` (DeepLab-V3) trained with Core-tuning.

    Takes the arguments of :class:`ASPPHead` and of
    :class:`PixelCoreTuningMixin`; inference is ``ASPPHead``'s.
    """
    stock_type = 'ASPPHead'


@MODELS.register_module()
class CoreTuneDepthwiseSeparableASPPHead(PixelCoreTuningMixin,
                                         DepthwiseSeparableASPPHead):
    """:class:`DepthwiseSeparableASPPHead` (DeepLab-V3+) with Core-tuning.

    The features are the output of ``sep_bottleneck``, before ``cls_seg``.
    """
    stock_type = 'DepthwiseSeparableASPPHead'

    def _forward_feature(self, inputs) -> torch.Tensor:
        """The parent's ``forward`` up to, not including, ``cls_seg``."""
        output = super()._forward_feature(inputs)
        if self.c1_bottleneck is not None:
            c1_output = self.c1_bottleneck(inputs[0])
            output = resize(
                input=output,
                size=c1_output.shape[2:],
                mode='bilinear',
                align_corners=self.align_corners)
            output = torch.cat([output, c1_output], dim=1)
        return self.sep_bottleneck(output)

    def forward(self, inputs) -> torch.Tensor:
        """Forward function."""
        return self.cls_seg(self._forward_feature(inputs))
