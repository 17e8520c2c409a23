"""Save and restore random states so ``--resume`` continues exactly."""
import random

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.runner import EpochBasedTrainLoop

from coretune_mm.core import find_core_tuning
from .utils import unwrap

__all__ = ['RNGStateHook']


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Store the random states in checkpoints: torch, CUDA, numpy, Python
    and the own streams of the model's :class:`CoreTuning` modules.

    MMEngine re-seeds at start but does not restore random states on
    ``--resume``, so the hardness-directed mixup (which draws from torch's
    generator) would see other numbers than an uninterrupted run. The state
    is restored where an uninterrupted run would be when it was saved: at the
    start of the next epoch for epoch-based loops (before the data iterator,
    which draws from torch's generator, is created), and right before the
    next iteration for iteration-based loops (after the loop has skipped the
    batches already seen).
    """

    priority = 'VERY_LOW'

    def __init__(self):
        self._pending = None
        self._model = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        state = dict(
            torch=torch.get_rng_state(),
            numpy=np.random.get_state(),
            python=random.getstate())
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state['cuda'] = torch.cuda.get_rng_state_all()
        state['core_tuning'] = {
            name: module.get_stream_state()
            for name, module in find_core_tuning(unwrap(runner.model)).items()
        }
        checkpoint['rng_state'] = state

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._pending = checkpoint.get('rng_state')
        self._model = unwrap(runner.model)

    def before_train_epoch(self, runner) -> None:
        if isinstance(runner.train_loop, EpochBasedTrainLoop):
            self._restore()

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        self._restore()

    def _restore(self) -> None:
        if self._pending is None:
            return
        state, self._pending = self._pending, None
        torch.set_rng_state(state['torch'])
        np.random.set_state(state['numpy'])
        random.setstate(state['python'])
        if 'cuda' in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state['cuda'])
        modules = find_core_tuning(self._model)
        for name, stream in state.get('core_tuning', {}).items():
            if name in modules:
                modules[name].set_stream_state(stream)
