"""The ViT head and the other decode heads through MMEngine's Runner: a few
training iterations with finite losses, and a positive ``loss_contrast`` in the
log."""
import numpy as np
import pytest
from mmengine.runner import Runner
from small_configs import OTHER_DECODE_HEADS, segmenter_with, vit_classifier

from coretune_mm.datasets.demo_data import make_digits_folder


def logged_losses(runner) -> dict:
    """Every logged ``loss*`` scalar: all the values of the run."""
    return {
        key: np.asarray(buffer.data[0])
        for key, buffer in runner.message_hub.log_scalars.items()
        if key.startswith('train/') and 'loss' in key
    }


def train(runner: Runner, iters: int) -> dict:
    """Train; every loss logged at each of ``iters`` iterations, finite."""
    runner.train()
    assert runner.iter == iters
    losses = logged_losses(runner)
    assert all(
        len(v) == iters and np.isfinite(v).all()
        for v in losses.values()), losses
    return losses


def test_vit_classifier_trains_through_the_runner(tmp_path):
    folder = make_digits_folder(str(tmp_path / 'digits'), limit=30)
    cfg = vit_classifier()
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = folder
        cfg[loader].num_workers = 0
        cfg[loader].persistent_workers = False
        cfg[loader].batch_size = 8
        cfg[loader].dataset.pipeline = [
            dict(type='LoadImageFromFile'),
            dict(type='PackInputs')
        ]
    cfg.train_cfg.update(max_epochs=1, val_interval=10)
    cfg.param_scheduler.T_max = 1
    cfg.default_hooks.checkpoint.save_best = None
    cfg.work_dir = str(tmp_path / 'work')
    # 24 training images, batches of 8
    losses = train(Runner.from_cfg(cfg), iters=3)
    assert (losses['train/loss_contrast'] > 0).all()


@pytest.mark.parametrize('stock_head', list(OTHER_DECODE_HEADS))
def test_decode_head_trains_through_the_runner(stock_head, digits_voc,
                                               tmp_path):
    cfg = segmenter_with(stock_head)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = digits_voc
        cfg[loader].num_workers = 0
        cfg[loader].persistent_workers = False
    cfg.train_cfg.update(max_iters=3, val_interval=100)
    cfg.param_scheduler[0].end = 3
    cfg.custom_hooks = [
        h for h in cfg.custom_hooks if h.type != 'FeatureSpaceHook'
    ]
    cfg.work_dir = str(tmp_path / 'work')
    losses = train(Runner.from_cfg(cfg), iters=3)
    assert 'train/decode.loss_ce' in losses
    assert (losses['train/decode.loss_contrast'] > 0).all()
