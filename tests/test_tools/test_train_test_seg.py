"""End to end: DeepLab-V3 train then test on a generated VOC-format set."""
import glob
import json
import os.path as osp

import pytest
import torch

DEFAULT_SCOPE = 'mmseg'
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.mark.parametrize('method', ['ce', 'coretune'])
def test_train_then_test(method, digits_voc, tmp_path, run_tool, logged):
    config = osp.join(REPO, 'configs', 'demo',
                      f'deeplabv3_r50_{method}_digits-voc.py')
    work_dir = str(tmp_path / 'work')
    options = [
        '--cfg-options', f'train_dataloader.dataset.data_root={digits_voc}',
        f'val_dataloader.dataset.data_root={digits_voc}',
        f'test_dataloader.dataset.data_root={digits_voc}',
        'train_cfg.max_iters=3', 'train_cfg.val_interval=3',
        'default_hooks.checkpoint.interval=3', 'param_scheduler.0.end=3',
        'model.backbone.depth=18', 'model.decode_head.in_channels=512',
        'model.auxiliary_head.in_channels=256',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False',
        'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False'
    ]
    run_tool(
        osp.join(REPO, 'tools', 'train.py'), config, '--work-dir', work_dir,
        *options)
    checkpoint = osp.join(work_dir, 'iter_3.pth')
    assert osp.isfile(checkpoint)
    keys = torch.load(checkpoint)['state_dict']
    assert any('projector' in k for k in keys) == (method == 'coretune')
    out = str(tmp_path / 'metrics.json')
    run_tool(
        osp.join(REPO, 'tools', 'test.py'), config, checkpoint, '--work-dir',
        work_dir, '--out-item', 'metrics', '--out', out, *options)
    with open(out) as f:
        metrics = json.load(f)
    # the test split is the validation split: the training run's last
    # validation of the same checkpoint
    for key in ('mIoU', 'FWIoU', 'MPA'):
        assert metrics[key] == pytest.approx(logged(work_dir, key), abs=1e-3)
    # the feature-space hook ran on pixels at validation and test
    assert glob.glob(osp.join(work_dir, 'feature_space', 'val_*.png'))
    assert glob.glob(osp.join(work_dir, 'feature_space', 'test_*.png'))
    # every evaluation saved its confusion matrix in the run's log folder
    assert glob.glob(osp.join(work_dir, '*', 'confusion_*.json'))
    if method == 'ce':
        return
    # the host libraries' --tta (scales and flips of the config's
    # tta_pipeline) and --show-dir
    shown = tmp_path / 'shown'
    tta_out = str(tmp_path / 'tta.json')
    run_tool(
        osp.join(REPO, 'tools', 'test.py'),
        config, checkpoint, '--work-dir', work_dir, '--tta', '--show-dir',
        str(shown), '--out-item', 'metrics', '--out', tta_out, *options)
    with open(tta_out) as f:
        assert 0 <= json.load(f)['mIoU'] <= 100
    assert len(list(shown.rglob('*.png'))) == 4  # one per val image
    # the offset probe: offset 0 reproduces the test metrics
    probe_out = str(tmp_path / 'probe.json')
    run_tool('tools/analysis_tools/background_offset_probe.py', config,
             checkpoint, '--work-dir', str(tmp_path / 'probe'), '--offsets',
             '0', '-50', '--out', probe_out, *options)
    with open(probe_out) as f:
        rows = json.load(f)
    for key in ('mIoU', 'FWIoU', 'MPA', 'aAcc'):
        assert rows[0][key] == pytest.approx(metrics[key], abs=0.01), key
    # a huge negative offset never predicts background: its IoU is 0
    assert rows[1]['class_iou'] == 0
