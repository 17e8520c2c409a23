"""Losses registered into MMPretrain's and MMSegmentation's MODELS."""
from .focal_supcon_loss import FocalSupConLoss

__all__ = ['FocalSupConLoss']
