"""Evaluation metrics and the paired-seed comparison."""
from .metrics import *  # noqa: F401,F403
from .paired import paired_difference  # noqa: F401
