"""MMSegmentation decode heads."""
from .coretune_aspp_head import (CoreTuneASPPHead,
                                 CoreTuneDepthwiseSeparableASPPHead)
from .coretune_decode_heads import (CoreTuneFCNHead, CoreTunePSPHead,
                                    CoreTuneSegformerHead, CoreTuneUPerHead,
                                    core_tuning_head)
from .pixel_core_tuning import PixelCoreTuningMixin

__all__ = [
    'CoreTuneASPPHead', 'CoreTuneDepthwiseSeparableASPPHead',
    'CoreTuneFCNHead', 'CoreTunePSPHead', 'CoreTuneUPerHead',
    'CoreTuneSegformerHead', 'PixelCoreTuningMixin', 'core_tuning_head'
]
