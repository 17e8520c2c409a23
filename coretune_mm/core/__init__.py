"""Framework-free Core-tuning: mining, mixup, focal contrastive loss.

Pure torch; nothing here imports OpenMMLab.
"""
from .checks import check_bools, check_int, check_non_negative
from .contrastive import (check_focal_supcon_args, focal_supcon_loss,
                          positive_pair_mask)
from .core_tuning import (CoreTuning, CoreTuningOutput, check_weights,
                          core_tuning_default, find_core_tuning)
from .distributed import gather_across_ranks
from .feature_stats import feature_space_stats, grad_norm_ratio
from .losses import (class_frequencies, prior_correction,
                     smooth_classifier_logits, smooth_classifier_loss,
                     soft_cross_entropy)
from .mixup import (MixupPlan, apply_mixup_plan, check_mixup_args,
                    hard_pair_mixup, mine_hard_pairs, to_soft_labels)
from .pixel_sampling import (check_sampler_args, labels_at, pixel_rows,
                             sample_pixels)
from .projection import ProjectionHead
from .sampling import as_generator_state, sample_beta, sample_gamma

__all__ = [
    'check_bools', 'check_int', 'check_non_negative',
    'check_focal_supcon_args', 'check_sampler_args', 'labels_at', 'pixel_rows',
    'focal_supcon_loss', 'positive_pair_mask', 'CoreTuning',
    'CoreTuningOutput', 'find_core_tuning', 'check_weights',
    'core_tuning_default', 'check_mixup_args', 'hard_pair_mixup', 'MixupPlan',
    'apply_mixup_plan', 'mine_hard_pairs', 'to_soft_labels', 'sample_pixels',
    'ProjectionHead', 'sample_beta', 'sample_gamma', 'soft_cross_entropy',
    'prior_correction', 'class_frequencies', 'smooth_classifier_logits',
    'smooth_classifier_loss', 'feature_space_stats', 'grad_norm_ratio',
    'gather_across_ranks', 'as_generator_state'
]
