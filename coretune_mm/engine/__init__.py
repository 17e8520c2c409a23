"""Training-loop extensions."""
from .distributed import (CPUDistributedDataParallel, cpu_distributed,
                          setup_cpu_distributed)
from .hooks import *  # noqa: F401,F403
from .hooks import __all__ as _hooks

__all__ = [
    'CPUDistributedDataParallel', 'cpu_distributed', 'setup_cpu_distributed',
    *_hooks
]
