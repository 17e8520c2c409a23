"""MMSegmentation's and MMPretrain's own tools/train.py and tools/test.py
(shipped in the installed packages' .mim/tools/, what `mim train` runs)
train and test Core-tuning configs through `custom_imports` alone; ours
train and test a user's config that inherits a shipped one as
`coretune_mm::PATH` (the hosts' tools read `_base_` before
`custom_imports`, so they cannot)."""
import os.path as osp

import pytest

from coretune_mm.datasets.demo_data import make_digits_folder, make_digits_voc

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def host_tool(package: str, name: str) -> str:
    module = __import__(package)
    return osp.join(osp.dirname(module.__file__), '.mim', 'tools', name)


def loader_options(root):
    return [f'{loader}.dataset.data_root={root}' for loader in LOADERS] + [
        f'{loader}.{key}' for loader in LOADERS
        for key in ('num_workers=0', 'persistent_workers=False')
    ]


@pytest.mark.parametrize('tools', ['host', 'ours'])
@pytest.mark.parametrize('task', ['segmentation', 'classification'])
def test_tools_train_and_test(task, tools, tmp_path, run_tool):
    if task == 'segmentation':
        package, metric = 'mmseg', 'mIoU'
        root = make_digits_voc(
            str(tmp_path / 'VOC2012'), num_train=4, num_val=2, canvas=48)
        config = osp.join(REPO, 'configs', 'demo',
                          'deeplabv3_r50_coretune_digits-voc.py')
        options = loader_options(root) + [
            'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
            'default_hooks.checkpoint.interval=2', 'param_scheduler.0.end=2',
            'model.backbone.depth=18', 'model.decode_head.in_channels=512',
            'model.auxiliary_head.in_channels=256'
        ]
        checkpoint, loss = 'iter_2.pth', 'decode.loss_contrast'
    else:
        package, metric = 'mmpretrain', 'accuracy/top1'
        root = make_digits_folder(str(tmp_path / 'digits'), limit=40)
        config = osp.join(REPO, 'configs', 'demo',
                          'resnet18_coretune_digits-folder.py')
        options = loader_options(root) + [
            'train_cfg.max_epochs=1', 'train_dataloader.batch_size=8',
            'default_hooks.logger.interval=1'
        ]
        checkpoint, loss = 'epoch_1.pth', 'loss_contrast'
    if tools == 'host':
        train, test = (
            host_tool(package, name) for name in ('train.py', 'test.py'))
    else:
        train, test = (
            osp.join(REPO, 'tools', name) for name in ('train.py', 'test.py'))
        user = tmp_path / 'my_config.py'
        user.write_text("_base_ = 'coretune_mm::%s'\n" %
                        osp.relpath(config, osp.join(REPO, 'configs')))
        config = str(user)
    work_dir = str(tmp_path / 'work')
    # run from outside the repository: nothing but custom_imports brings
    # coretune_mm in (or, for ours, the tool itself)
    trained = run_tool(
        train,
        config,
        '--work-dir',
        work_dir,
        '--cfg-options',
        *options,
        cwd=str(tmp_path),
        threads=1)
    assert loss in trained
    tested = run_tool(
        test,
        config,
        osp.join(work_dir, checkpoint),
        '--work-dir',
        str(tmp_path / 'test'),
        '--cfg-options',
        *options,
        cwd=str(tmp_path),
        threads=1)
    assert metric in tested and 'feature_ratio' in tested
