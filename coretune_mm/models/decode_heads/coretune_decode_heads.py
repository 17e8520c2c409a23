"""Pixel-level Core-tuning for any MMSegmentation decode head.

:func:`core_tuning_head` turns a decode head class into its Core-tuning
variant: :class:`PixelCoreTuningMixin` in front of it, the same weights and
inference, the stock type recorded for
``tools/model_converters/strip_core_tuning.py``. A head qualifies when
its ``forward`` is ``cls_seg(_forward_feature(x))``, which holds for most
of MMSegmentation's heads; for one whose ``forward`` does everything, give
the class a ``_forward_feature`` that stops before ``cls_seg`` first (as
:class:`SegformerHead` gets here).

For a head of your own::

    from coretune_mm.models.decode_heads import core_tuning_head
    CoreTuneMyHead = core_tuning_head(MyHead)  # registered in mmseg MODELS
    # config: decode_head=dict(type='CoreTuneMyHead', contrast_weight=0.1,
    #                          ...MyHead's arguments...)
"""
from typing import Optional, Type

import torch
from mmseg.models.decode_heads import FCNHead, PSPHead, SegformerHead, UPerHead
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from mmseg.registry import MODELS

from .pixel_core_tuning import PixelCoreTuningMixin

__all__ = [
    'core_tuning_head', 'CoreTuneFCNHead', 'CoreTunePSPHead',
    'CoreTuneUPerHead', 'CoreTuneSegformerHead'
]


def core_tuning_head(head: Type[BaseDecodeHead],
                     name: Optional[str] = None,
                     register: bool = True) -> type:
    """The Core-tuning variant of a decode head class.

    Args:
        head (type): A :class:`BaseDecodeHead` subclass whose ``forward``
            is ``cls_seg(_forward_feature(inputs))``.
        name (str, optional): Class and registry name. Defaults to
            ``'CoreTune' + head.__name__``.
        register (bool): Register it in MMSegmentation's ``MODELS``.
            Defaults to True.

    Returns:
        type: ``name(PixelCoreTuningMixin, head)``, taking the arguments of
        both; its ``stock_type`` names ``head``.
    """
    if not (isinstance(head, type) and issubclass(head, BaseDecodeHead)):
        raise TypeError('core_tuning_head: expected a BaseDecodeHead '
                        f'subclass, got {head!r}')
    if not callable(getattr(head, '_forward_feature', None)):
        raise TypeError(
            f'core_tuning_head: {head.__name__} has no _forward_feature '
            '(the features before cls_seg); define one and make forward '
            'cls_seg(_forward_feature(inputs))')
    name = name or f'CoreTune{head.__name__}'
    stock = getattr(head, 'stock_type', head.__name__)
    cls = type(
        name, (PixelCoreTuningMixin, head), {
            '__doc__':
            f':class:`{stock}` trained with pixel-level Core-tuning; '
            f'inference is ``{stock}``\'s.',
            '__module__': __name__,
            'stock_type': stock,
        })
    if register:
        MODELS.register_module(module=cls)
    return cls


class _SegformerFeatures(SegformerHead):
    """:class:`SegformerHead` with its forward split at ``cls_seg``."""
    stock_type = 'SegformerHead'

    def _forward_feature(self, inputs) -> torch.Tensor:
        """The fused all-MLP features, before ``cls_seg``."""
        inputs = self._transform_inputs(inputs)
        outs = [
            resize(
                input=conv(x),
                size=inputs[0].shape[2:],
                mode=self.interpolate_mode,
                align_corners=self.align_corners)
            for x, conv in zip(inputs, self.convs)
        ]
        return self.fusion_conv(torch.cat(outs, dim=1))

    def forward(self, inputs) -> torch.Tensor:
        """Forward function."""
        return self.cls_seg(self._forward_feature(inputs))


CoreTuneFCNHead = core_tuning_head(FCNHead)
CoreTunePSPHead = core_tuning_head(PSPHead)
CoreTuneUPerHead = core_tuning_head(UPerHead)
CoreTuneSegformerHead = core_tuning_head(
    _SegformerFeatures, name='CoreTuneSegformerHead')
