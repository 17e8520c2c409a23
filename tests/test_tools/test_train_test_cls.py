"""End to end: tools/train.py then tools/test.py on a generated dataset."""
import json
import os.path as osp

import pytest

from coretune_mm.datasets.demo_data import make_digits_folder

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def digits(tmp_path_factory):
    return make_digits_folder(
        str(tmp_path_factory.mktemp('digits')), limit=200)


@pytest.mark.parametrize('method', ['ce', 'coretune'])
def test_train_then_test(method, digits, tmp_path, run_tool, logged):
    config = osp.join(REPO, 'configs', 'demo',
                      f'resnet18_{method}_digits-folder.py')
    work_dir = str(tmp_path / 'work')
    options = [
        '--cfg-options', f'train_dataloader.dataset.data_root={digits}',
        f'val_dataloader.dataset.data_root={digits}',
        f'test_dataloader.dataset.data_root={digits}',
        'train_dataloader.batch_size=16', 'train_cfg.max_epochs=1',
        'train_cfg.val_interval=1', 'train_dataloader.num_workers=0',
        'val_dataloader.num_workers=0', 'test_dataloader.num_workers=0'
    ]
    run_tool(
        osp.join(REPO, 'tools', 'train.py'), config, '--work-dir', work_dir,
        *options)
    checkpoint = osp.join(work_dir, 'epoch_1.pth')
    assert osp.isfile(checkpoint)
    out = str(tmp_path / 'metrics.json')
    run_tool(
        osp.join(REPO, 'tools', 'test.py'), config, checkpoint, '--work-dir',
        work_dir, '--out-item', 'metrics', '--out', out, *options)
    with open(out) as f:
        metrics = json.load(f)
    # the test split is the validation split: the training run's last
    # validation of the same checkpoint
    assert metrics['accuracy/top1'] == pytest.approx(
        logged(work_dir, 'accuracy/top1'), abs=1e-3)
    if method == 'ce':  # the output options run on the Core-tuning head
        return
    # --out without --out-item writes the predictions, as MMPretrain's
    # tools/test.py does; --show-dir draws them
    predictions = str(tmp_path / 'pred.pkl')
    shown = tmp_path / 'shown'
    run_tool(
        osp.join(REPO, 'tools', 'test.py'), config, checkpoint, '--work-dir',
        work_dir, '--out', predictions, '--show-dir', str(shown), *options)
    from mmengine.fileio import load
    samples = load(predictions)
    assert samples and all('pred_score' in sample for sample in samples)
    # one image per name (MMPretrain names them after the image's file)
    names = {osp.basename(sample['img_path']) for sample in samples}
    assert len(list(shown.rglob('*.png'))) == len(names)
    # --tta (flip, scores averaged, MMPretrain's default)
    tta_predictions = str(tmp_path / 'tta.pkl')
    run_tool(
        osp.join(REPO, 'tools', 'test.py'), config, checkpoint, '--work-dir',
        work_dir, '--tta', '--out', tta_predictions, *options)
    tta_samples = load(tta_predictions)
    assert len(tta_samples) == len(samples)
    assert all('pred_score' in sample for sample in tta_samples)
