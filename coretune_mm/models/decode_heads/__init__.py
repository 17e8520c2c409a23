"""MMSegmentation decode heads."""
from .coretune_aspp_head import (CoreTuneASPPHead,
                                 CoreTuneDepthwiseSeparableASPPHead)
from .pixel_core_tuning import PixelCoreTuningMixin

__all__ = [
    'CoreTuneASPPHead', 'CoreTuneDepthwiseSeparableASPPHead',
    'PixelCoreTuningMixin'
]
