"""MMPretrain heads."""
from .coretune_cls_head import CoreTuneClsHead

__all__ = ['CoreTuneClsHead']
