"""Linear warm-up of Core-tuning's loss weights."""
from typing import Dict

from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from .utils import find_head

__all__ = ['ContrastWarmupHook']


@HOOKS.register_module()
class ContrastWarmupHook(Hook):
    """Ramp the contrastive weight eta (and ``mix_weight``) from 0 over K
    iterations.

    The target is the head's :class:`coretune_mm.core.CoreTuning` module
    (``head.core_tuning`` / ``decode_head.core_tuning``). Derived from the
    iteration counter, so ``--resume`` continues the ramp. The current
    weights are logged as ``train/contrast_weight`` (and
    ``train/mix_weight``).

    Args:
        warmup_iters (int): K, > 0.
        mix_weight (bool): Also ramp the head's ``mix_weight`` (pixel heads
            with the smooth classifier). Defaults to False.
    """

    priority = 'NORMAL'

    def __init__(self, warmup_iters: int, mix_weight: bool = False):
        if not (isinstance(warmup_iters, int) and warmup_iters > 0):
            raise ValueError('ContrastWarmupHook: warmup_iters must be a '
                             f'positive int, got {warmup_iters!r}')
        self.warmup_iters = warmup_iters
        self.mix_weight = mix_weight
        self.targets: Dict[str, float] = {}

    def before_train(self, runner) -> None:
        head = find_head(runner.model)
        core = getattr(head, 'core_tuning', None)
        if core is None:
            raise ValueError('ContrastWarmupHook needs a Core-tuning head '
                             'with contrast_weight > 0')
        self.targets = dict(contrast_weight=core.contrast_weight)
        if self.mix_weight:
            if not hasattr(head, 'mix_weight'):
                raise ValueError('ContrastWarmupHook: mix_weight=True needs '
                                 f'a head with mix_weight; '
                                 f'{type(head).__name__} has none')
            self.targets['mix_weight'] = head.mix_weight

    def before_train_iter(self, runner, batch_idx: int, data_batch=None):
        scale = min(1.0, (runner.iter + 1) / self.warmup_iters)
        head = find_head(runner.model)
        owners = dict(contrast_weight=head.core_tuning, mix_weight=head)
        for name, target in self.targets.items():
            setattr(owners[name], name, target * scale)
            runner.message_hub.update_scalar(f'train/{name}', target * scale)
