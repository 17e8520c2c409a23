"""Save and restore random states so ``--resume`` continues exactly."""
import random
from typing import List, Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log
from mmengine.registry import HOOKS
from mmengine.runner import EpochBasedTrainLoop

from coretune_mm.core import as_generator_state, find_core_tuning
from .utils import unwrap

__all__ = ['RNGStateHook']


def _global_state() -> dict:
    """The process's global random states (CUDA: the current device)."""
    state = dict(
        torch=torch.get_rng_state(),
        numpy=np.random.get_state(),
        python=random.getstate())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state()
    return state


def _set_global_state(state: dict) -> None:
    torch.set_rng_state(as_generator_state(state['torch']))
    np.random.set_state(state['numpy'])
    random.setstate(state['python'])
    if state.get('cuda') is not None and torch.cuda.is_available():
        cuda = state['cuda']
        if isinstance(cuda, (list, tuple)):  # older files: all devices
            cuda = cuda[torch.cuda.current_device()] if len(cuda) > \
                torch.cuda.current_device() else None
        if cuda is not None:
            torch.cuda.set_rng_state(as_generator_state(cuda))


def _keeps_workers(loader) -> bool:
    """Whether ``loader`` keeps its worker processes between epochs (then its
    iterator, which draws the workers' base seed from torch's generator, is
    created once per run, not once per epoch)."""
    return bool(
        getattr(loader, 'persistent_workers', False)
        and getattr(loader, 'num_workers', 0) > 0)


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Store the random states in checkpoints so that a resumed run continues
    like an uninterrupted one: torch, CUDA (each rank's device), numpy,
    Python and the private streams of the model's :class:`CoreTuning` modules,
    for every rank.

    MMEngine re-seeds at start but does not restore random states on
    ``--resume``. Three things make the restored state the one an
    uninterrupted run has:

    * validation and testing run on a fork of the global random states, so
      an evaluation between a checkpoint and the next epoch (which draws the
      data loader's base seed from torch's generator) leaves training's
      stream as it was;
    * the state is restored where an uninterrupted run would be when it was
      saved: at the start of the next epoch for epoch-based loops (before the
      data iterator is created), right before the next iteration for
      iteration-based loops and for a training loader with persistent workers
      (whose iterator an uninterrupted run creates once, in its first epoch,
      while a resumed run creates it again; the workers' own random states,
      used by random transforms in workers, are not restored);
    * it is restored only when the run continues a saved position
      (``--resume``); ``load_from`` starts a new run with its own seed.

    Under several processes every rank's states are gathered when a
    :class:`~mmengine.hooks.CheckpointHook` is about to save; resuming on
    another number of processes keeps the fresh seeds, with a warning.
    """

    # before CheckpointHook (VERY_LOW), which saves in the same hook points
    priority = 'LOW'

    def __init__(self):
        self._pending: Optional[dict] = None
        self._model = None
        self._gathered: Optional[List[dict]] = None
        self._eval_fork: Optional[dict] = None

    # -- what a rank holds ----------------------------------------------------
    def _rank_state(self, runner) -> dict:
        state = self._eval_fork or _global_state()
        state = dict(state)
        state['core_tuning'] = {
            name: module.get_stream_state()
            for name, module in find_core_tuning(unwrap(runner.model)).items()
        }
        return state

    def _gather_if_saving(self, runner, by_epoch: bool) -> None:
        if get_world_size() == 1:
            return
        due = False
        for hook in runner.hooks:
            if not isinstance(hook, CheckpointHook) or \
                    hook.by_epoch != by_epoch:
                continue
            if by_epoch:
                due |= hook.every_n_epochs(
                    runner, hook.interval,
                    hook.save_begin) or (hook.save_last
                                         and hook.is_last_train_epoch(runner))
            else:
                due |= hook.every_n_train_iters(
                    runner, hook.interval,
                    hook.save_begin) or (hook.save_last
                                         and hook.is_last_train_iter(runner))
        if due:  # a collective: every rank evaluates the same condition
            self._gathered = all_gather_object(self._rank_state(runner))

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        self._gather_if_saving(runner, by_epoch=False)

    def after_train_epoch(self, runner) -> None:
        self._gather_if_saving(runner, by_epoch=True)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # kept until training goes on: CheckpointHook saves again after
        # validation (with the best score), from the same position
        ranks = self._gathered
        if ranks is None or len(ranks) != get_world_size():
            ranks = [self._rank_state(runner)]  # one process
        checkpoint['rng_state'] = dict(ranks=ranks)

    # -- evaluation runs on a fork --------------------------------------------
    def _fork(self, runner) -> None:
        self._eval_fork = _global_state()

    def _join(self, runner) -> None:
        if self._eval_fork is not None:
            _set_global_state(self._eval_fork)
            self._eval_fork = None

    before_val = before_test = _fork
    after_val = after_test = _join

    # -- restore -------------------------------------------------------------
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._pending = checkpoint.get('rng_state')
        self._model = unwrap(runner.model)

    def before_train_epoch(self, runner) -> None:
        if isinstance(runner.train_loop, EpochBasedTrainLoop) and \
                not _keeps_workers(runner.train_loop.dataloader):
            self._restore(runner)

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch=None) -> None:
        self._gathered = None
        self._restore(runner)

    def _restore(self, runner) -> None:
        if self._pending is None:
            return
        saved, self._pending = self._pending, None
        if runner.iter == 0:  # load_from: a new run keeps its own seed
            return
        ranks = saved['ranks'] if 'ranks' in saved else [saved]
        if len(ranks) != get_world_size():
            print_log(
                f'RNGStateHook: the checkpoint holds the random states of '
                f'{len(ranks)} process(es), this run has {get_world_size()}; '
                'they are not restored and the run will not repeat an '
                'uninterrupted one exactly.',
                logger='current',
                level=30)
            return
        state = ranks[get_rank()]
        _set_global_state(state)
        modules = find_core_tuning(self._model)
        for name, stream in state.get('core_tuning', {}).items():
            if name in modules:
                modules[name].set_stream_state(stream)
