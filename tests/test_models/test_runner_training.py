"""The ViT head and the other decode heads through MMEngine's Runner: a few
training iterations with finite losses, and a positive ``loss_contrast`` in the
log."""
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from coretune_mm.datasets.demo_data import make_digits_folder, make_digits_voc

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(REPO, 'configs', 'demo')
# the other decode heads over an undilated ResNet-18's four stages
LEVELS = dict(in_channels=[64, 128, 256, 512], in_index=[0, 1, 2, 3])
LAST = dict(in_channels=512, in_index=3)
DECODE_HEADS = {
    'UPerHead': dict(LEVELS, pool_scales=(1, 2)),
    'FCNHead': dict(LAST, num_convs=1),
    'PSPHead': dict(LAST, pool_scales=(1, 2)),
    'SegformerHead': LEVELS,
}


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
    cfg = Config.fromfile(osp.join(DEMO, 'resnet18_coretune_digits-folder.py'))
    cfg.model.backbone = dict(
        type='VisionTransformer',
        arch=dict(
            embed_dims=16, num_layers=2, num_heads=2, feedforward_channels=32),
        img_size=32,
        patch_size=8,
        out_type='cls_token')
    cfg.model.neck = None
    cfg.model.head = dict(
        cfg.model.head.to_dict(),
        type='CoreTuneVisionTransformerClsHead',
        in_channels=16,
        hidden_dim=24,
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02))
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


@pytest.fixture(scope='module')
def voc(tmp_path_factory):
    return make_digits_voc(
        str(tmp_path_factory.mktemp('voc') / 'VOC2012'),
        num_train=8,
        num_val=4,
        canvas=48)


@pytest.mark.parametrize('stock_head', list(DECODE_HEADS))
def test_decode_head_trains_through_the_runner(stock_head, voc, tmp_path):
    cfg = Config.fromfile(
        osp.join(DEMO, 'deeplabv3_r50_coretune_digits-voc.py'))
    cfg.model.backbone.update(
        depth=18, dilations=(1, 1, 1, 1), strides=(1, 2, 2, 2))
    cfg.model.decode_head = dict(
        type=f'CoreTune{stock_head}',
        channels=16,
        num_classes=cfg.model.decode_head.num_classes,
        norm_cfg=dict(type='BN', requires_grad=True),
        projector=dict(out_channels=16),
        pixel_sampler=dict(max_samples=64),
        **DECODE_HEADS[stock_head])
    cfg.model.auxiliary_head.in_channels = 256
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = voc
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
