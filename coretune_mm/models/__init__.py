"""OpenMMLab adapters over :mod:`coretune_mm.core`."""
from .data_preprocessors import *  # noqa: F401,F403
from .decode_heads import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .utils import *  # noqa: F401,F403
