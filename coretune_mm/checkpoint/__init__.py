"""Checkpoints: loading MMEngine's with torch's safe unpickler, converting
other contrastive methods' ResNets to what the configs load, and stripping
Core-tuning's training-only state for deployment."""
from .conversion import (LAYOUTS, ConvertedCheckpoint, convert_csl_checkpoint,
                         detect_depth, detect_layout, resnet_backbone_shapes)
from .loading import (CHECKPOINT_SAFE_GLOBALS, check_checkpoint_file,
                      read_checkpoint, register_checkpoint_safe_globals,
                      state_dict_of, tensors_of)
from .stripping import plain_config, strip_core_tuning
from .vit_conversion import (VIT_LAYOUTS, ConvertedViT, ViTArch,
                             convert_vit_checkpoint, detect_vit_layout,
                             is_vit_checkpoint)

__all__ = [
    'LAYOUTS', 'ConvertedCheckpoint', 'convert_csl_checkpoint', 'detect_depth',
    'detect_layout', 'resnet_backbone_shapes', 'CHECKPOINT_SAFE_GLOBALS',
    'check_checkpoint_file', 'read_checkpoint', 'plain_config',
    'register_checkpoint_safe_globals', 'state_dict_of', 'strip_core_tuning',
    'tensors_of', 'VIT_LAYOUTS', 'ConvertedViT', 'ViTArch',
    'convert_vit_checkpoint', 'detect_vit_layout', 'is_vit_checkpoint'
]
