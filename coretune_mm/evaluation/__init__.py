"""Evaluation metrics, the k-NN probe and the paired-seed comparison."""
from .knn import knn_accuracy  # noqa: F401
from .metrics import *  # noqa: F401,F403
from .paired import paired_difference, paired_plot, paired_table  # noqa: F401
