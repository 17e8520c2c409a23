"""coretune_mm: Core-tuning for MMPretrain and MMSegmentation.

Importing the package registers its modules (``custom_imports`` in configs).
"""
from .checkpoint import register_checkpoint_safe_globals
from .version import __version__

register_checkpoint_safe_globals()

from . import datasets, engine, evaluation, models  # noqa: E402,F401

__all__ = ['__version__']
