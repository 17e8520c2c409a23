"""Registration of coretune_mm modules into the host libraries' registries.

Heads belong to one host; the loss is registered into both so that
classification and segmentation configs can name it.
"""
from mmpretrain.registry import MODELS as PRETRAIN_MODELS
from mmseg.registry import MODELS as SEG_MODELS

__all__ = ['PRETRAIN_MODELS', 'SEG_MODELS', 'register_model']


def register_model(cls: type) -> type:
    """Register ``cls`` into MMPretrain's and MMSegmentation's MODELS."""
    PRETRAIN_MODELS.register_module(module=cls)
    SEG_MODELS.register_module(module=cls)
    return cls
