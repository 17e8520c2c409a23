"""Linear warm-up of the contrastive weight eta."""
from typing import Optional

from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from .utils import find_head

__all__ = ['ContrastWarmupHook']


@HOOKS.register_module()
class ContrastWarmupHook(Hook):
    """Ramp the head's ``contrast_weight`` from 0 to its value over K iters.

    Derived from the iteration counter, so ``--resume`` continues the ramp.

    Args:
        warmup_iters (int): K, > 0.
    """

    priority = 'NORMAL'

    def __init__(self, warmup_iters: int):
        if not (isinstance(warmup_iters, int) and warmup_iters > 0):
            raise ValueError('ContrastWarmupHook: warmup_iters must be a '
                             f'positive int, got {warmup_iters!r}')
        self.warmup_iters = warmup_iters
        self.target: Optional[float] = None

    def before_train(self, runner) -> None:
        head = find_head(runner.model)
        if not getattr(head, 'core_tuning', False):
            raise ValueError('ContrastWarmupHook needs a Core-tuning head '
                             'with contrast_weight > 0')
        self.target = head.contrast_weight

    def before_train_iter(self, runner, batch_idx: int, data_batch=None):
        scale = min(1.0, (runner.iter + 1) / self.warmup_iters)
        find_head(runner.model).contrast_weight = self.target * scale
        runner.message_hub.update_scalar('train/contrast_weight',
                                         self.target * scale)
