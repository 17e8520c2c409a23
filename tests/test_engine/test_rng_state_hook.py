"""RNGStateHook: a resumed run continues with the random states of the
uninterrupted one; ``load_from`` keeps the run's own seed; the saved states
load from any tensor holding their bytes."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner


class RecordRNGHook(Hook):
    """The global random states where each epoch's first iteration starts
    (after RNGStateHook has restored them and the data iterator has been
    created or reset)."""
    priority = 'LOWEST'

    def __init__(self):
        self.states = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if batch_idx == 0:
            self.states.append(
                (torch.get_rng_state(), np.random.get_state()[1].copy()))


@pytest.mark.parametrize('val_interval, persistent_workers', [(1, False),
                                                              (2, False),
                                                              (1, True)])
def test_resume_continues_exactly(tiny_cfg, tmp_path, val_interval,
                                  persistent_workers):
    """Interrupted after epoch 1 and resumed, a run starts epoch 2 with the
    random states of the uninterrupted run and ends with its weights, also when
    validation (whose loader draws from torch's generator) runs between the
    checkpoint and the next epoch, and when the training loader keeps its
    workers (an uninterrupted run then draws their seed only once)."""

    def final_state(runner):
        return {k: v.clone() for k, v in runner.model.state_dict().items()}

    def cfg_for(name):
        cfg = tiny_cfg(
            tmp_path / name, max_epochs=2, val_interval=val_interval)
        if persistent_workers:
            cfg.train_dataloader.update(num_workers=1, persistent_workers=True)
        return cfg

    whole = Runner.from_cfg(cfg_for('whole'))
    whole_rng = RecordRNGHook()
    whole.register_hook(whole_rng)
    whole.train()
    expected = final_state(whole)

    cfg = cfg_for('parts')
    stop = copy.deepcopy(cfg)
    stop.custom_hooks.append(dict(type='StopAfterEpochHook', epoch=1))
    first = Runner.from_cfg(stop)
    first.train()
    assert first.epoch == 1
    checkpoint = osp.join(cfg.work_dir, 'epoch_1.pth')
    assert len(torch.load(checkpoint)['rng_state']['ranks']) == 1

    cfg.resume, cfg.load_from = True, checkpoint
    cfg.experiment_name += '_resumed'
    resumed = Runner.from_cfg(cfg)
    resumed_rng = RecordRNGHook()
    resumed.register_hook(resumed_rng)
    resumed.train()
    assert resumed.iter == whole.iter and resumed.epoch == 2
    (torch_whole, np_whole), (torch_resumed, np_resumed) = \
        whole_rng.states[1], resumed_rng.states[0]
    assert torch.equal(torch_whole, torch_resumed)
    assert (np_whole == np_resumed).all()
    got = final_state(resumed)
    for key, value in expected.items():
        assert torch.equal(got[key], value), key


def test_load_from_keeps_its_own_seed(tiny_cfg, tmp_path):
    """``load_from`` starts a new run: the checkpoint's random states are not
    restored over the run's own seed."""
    source = Runner.from_cfg(tiny_cfg(tmp_path / 'source'))
    source.train()
    checkpoint = osp.join(source.work_dir, 'epoch_1.pth')
    saved = torch.load(checkpoint)['rng_state']['ranks'][0]['torch']
    states = []
    for name, load_from in (('fresh', None), ('loaded', checkpoint)):
        cfg = tiny_cfg(tmp_path / name)
        cfg.randomness = dict(seed=1)
        cfg.load_from = load_from
        runner = Runner.from_cfg(cfg)
        record = RecordRNGHook()
        runner.register_hook(record)
        runner.train()
        states.append(record.states[0][0])
    assert not torch.equal(states[1], saved)
    assert torch.equal(states[0], states[1])


def test_rng_states_restore_from_tensors_that_are_not_cpu_byte_tensors():
    """MMEngine's resume maps the checkpoint onto the training device, so on a
    GPU the saved states come back as CUDA tensors, which
    ``torch.set_rng_state`` refuses; the hook restores from any tensor holding
    the bytes (an int16 copy stands in for the device tensor)."""
    from coretune_mm.engine.hooks.rng_state_hook import (_global_state,
                                                         _set_global_state)
    saved = _global_state()
    expected = torch.rand(3)
    foreign = dict(saved, torch=saved['torch'].to(torch.int16))
    with pytest.raises((TypeError, RuntimeError)):
        torch.set_rng_state(foreign['torch'])
    _set_global_state(foreign)
    assert torch.equal(torch.rand(3), expected)
