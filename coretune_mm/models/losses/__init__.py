"""Losses registered into MMPretrain's and MMSegmentation's MODELS."""
from .focal_supcon_loss import (DEFAULT_CONTRAST_LOSS, FocalSupConLoss,
                                build_contrast_loss)

__all__ = ['DEFAULT_CONTRAST_LOSS', 'FocalSupConLoss', 'build_contrast_loss']
