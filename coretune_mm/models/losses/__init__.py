"""Losses registered into MMPretrain's and MMSegmentation's MODELS."""
from .focal_supcon_loss import FocalSupConLoss, build_contrast_loss

__all__ = ['FocalSupConLoss', 'build_contrast_loss']
