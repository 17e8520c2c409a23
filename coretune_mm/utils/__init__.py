"""Utilities."""
from .checkpoint import (CHECKPOINT_SAFE_GLOBALS, check_checkpoint_file,
                         register_checkpoint_safe_globals)

__all__ = [
    'CHECKPOINT_SAFE_GLOBALS', 'check_checkpoint_file',
    'register_checkpoint_safe_globals'
]
