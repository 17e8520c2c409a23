"""MMPretrain heads."""
from .coretune_cls_head import (ClsCoreTuningMixin, CoreTuneClsHead,
                                CoreTuneVisionTransformerClsHead)

__all__ = [
    'ClsCoreTuningMixin', 'CoreTuneClsHead', 'CoreTuneVisionTransformerClsHead'
]
