"""Data preprocessors registered into MMPretrain."""
from .multi_view_augment import MultiViewAugmentPreprocessor

__all__ = ['MultiViewAugmentPreprocessor']
