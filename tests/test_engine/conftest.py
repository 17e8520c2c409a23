"""What the hook tests share: a small digits folder and a one-epoch
classification config on it (ResNet-18, 32 px, no random augmentation)."""
import os.path as osp
from typing import Callable

import pytest
from mmengine.config import Config

from coretune_mm.datasets.demo_data import make_digits_folder

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'demo',
                  'resnet18_coretune_digits-folder.py')


@pytest.fixture(scope='session')
def digits(tmp_path_factory) -> str:
    return make_digits_folder(str(tmp_path_factory.mktemp('digits')), limit=60)


@pytest.fixture()
def tiny_cfg(digits) -> Callable[..., Config]:
    """``tiny_cfg(work_dir, **train_cfg)``: the demo classification config on
    ``digits``, one epoch, batches of 8, seed 0, logging every iteration;
    ``train_cfg`` updates its ``train_cfg``."""

    def build(work_dir, **train_cfg) -> Config:
        cfg = Config.fromfile(CONFIG)
        deterministic = [
            dict(type='LoadImageFromFile'),
            dict(type='PackInputs')
        ]
        for loader in ('train_dataloader', 'val_dataloader',
                       'test_dataloader'):
            cfg[loader].dataset.data_root = digits
            cfg[loader].num_workers = 0
            cfg[loader].batch_size = 8
            cfg[loader].dataset.pipeline = deterministic
        cfg.work_dir = str(work_dir)
        cfg.train_cfg.update(dict(max_epochs=1, val_interval=1), **train_cfg)
        cfg.param_scheduler.T_max = cfg.train_cfg.max_epochs
        cfg.randomness = dict(seed=0)
        cfg.default_hooks.checkpoint.save_best = None
        cfg.default_hooks.logger.interval = 1
        cfg.experiment_name = osp.basename(str(work_dir))
        return cfg

    return build
