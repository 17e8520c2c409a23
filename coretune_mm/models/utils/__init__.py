"""Model building blocks that are not Core-tuning itself."""
from .batch_augment import (CropParams, adjust_brightness_contrast,
                            augment_views, color_jitter, draw_crop_params,
                            resized_crop)
from .split_batch_norm import SplitBatchNorm2d

__all__ = [
    'CropParams', 'adjust_brightness_contrast', 'augment_views',
    'color_jitter', 'draw_crop_params', 'resized_crop', 'SplitBatchNorm2d'
]
