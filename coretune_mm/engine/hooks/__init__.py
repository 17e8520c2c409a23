"""Hooks registered into MMEngine's HOOKS (visible from every host scope)."""
from .contrast_warmup_hook import ContrastWarmupHook
from .dataset_check_hook import DatasetCheckHook
from .feature_space_hook import FeatureSpaceHook
from .pretrained_check_hook import PretrainedCheckHook
from .rng_state_hook import RNGStateHook

__all__ = [
    'ContrastWarmupHook', 'DatasetCheckHook', 'FeatureSpaceHook',
    'PretrainedCheckHook', 'RNGStateHook'
]
