"""coretune_mm: Core-tuning for MMPretrain and MMSegmentation.

Importing the package registers its modules (``custom_imports`` in configs)
and lets configs inherit the shipped ones as ``coretune_mm::PATH``.
"""
from .checkpoint import register_checkpoint_safe_globals
from .registry import register_config_scope
from .version import __version__

register_checkpoint_safe_globals()
register_config_scope()

from . import datasets, engine, evaluation, models  # noqa: E402,F401

__all__ = ['__version__']
