"""Two processes through ``tools/train.py --launcher pytorch`` on the CPU:

gloo process group, DDP wrapper, the heads' gather and the hooks under DDP,
then a resume of the DDP checkpoint in one process.
"""
import json
import os
import os.path as osp
import socket
import sys

import pytest
import torch
from tool_runs import run_process

from coretune_mm.datasets.demo_data import make_digits_folder, make_digits_voc

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TRAIN = osp.join(REPO, 'tools', 'train.py')

# Each rank writes the losses it computed: the log only shows rank 0's.
RECORD_HOOK = '''
import json, os.path as osp
from mmengine.dist import get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class RankLossRecordHook(Hook):
    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        record = {k: v.item() if hasattr(v, 'item') else v
                  for k, v in outputs.items()}
        record['world_size'] = get_world_size()
        path = osp.join(runner.work_dir, f'rank{get_rank()}.jsonl')
        with open(path, 'a') as f:
            f.write(json.dumps(record) + '\\n')
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def config_with_record_hook(tmp_path, base: str) -> str:
    (tmp_path / 'rank_loss_record.py').write_text(RECORD_HOOK)
    from mmengine.config import Config
    hooks = Config.fromfile(base).custom_hooks
    hooks.append(dict(type='RankLossRecordHook'))
    path = tmp_path / 'config.py'
    path.write_text(
        f'_base_ = {base!r}\n'
        "custom_imports = dict(imports=['coretune_mm', 'rank_loss_record'], "
        'allow_failed_imports=False)\n'
        f'custom_hooks = {hooks!r}\n')
    return str(path)


def run(args, tmp_path, nproc=1):
    env = dict(
        os.environ,
        OMP_NUM_THREADS='1',
        PYTHONPATH=os.pathsep.join([str(tmp_path), REPO]))
    launcher = [sys.executable]
    if nproc > 1:
        launcher += [
            '-m', 'torch.distributed.run', '--nproc_per_node',
            str(nproc), '--master_port',
            str(free_port())
        ]
    return run_process(launcher + args, env=env, check=False)


def rank_records(work_dir: str, rank: int) -> list:
    with open(osp.join(work_dir, f'rank{rank}.jsonl')) as f:
        return [json.loads(line) for line in f]


@pytest.mark.skipif(
    torch.cuda.is_available(), reason='the CPU path: GPUs take the stock one')
def test_classification_two_processes_then_resume_in_one(tmp_path, logged):
    digits = make_digits_folder(str(tmp_path / 'digits'), limit=40)
    config = config_with_record_hook(
        tmp_path,
        osp.join(REPO, 'configs', 'demo',
                 'resnet18_coretune_digits-folder.py'))
    work_dir = str(tmp_path / 'work')
    options = ['--cfg-options'] + [
        f'{loader}.dataset.data_root={digits}'
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    ] + [
        'train_dataloader.batch_size=8', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False', 'train_cfg.max_epochs=2',
        'train_cfg.val_interval=1', 'param_scheduler.T_max=2'
    ]
    ddp = run([
        TRAIN, config, '--launcher', 'pytorch', '--work-dir', work_dir,
        *options
    ],
              tmp_path,
              nproc=2)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    for rank in (0, 1):
        records = rank_records(work_dir, rank)
        assert len(records) == 4  # 2 epochs x 16 images / (2 ranks x 8)
        assert all(r['world_size'] == 2 for r in records)
        assert all(0 < r['loss_contrast'] < 100 for r in records)
    # the head runs its step on the batch gathered from both ranks, so both
    # compute the same losses
    assert rank_records(work_dir, 0) == rank_records(work_dir, 1)
    checkpoint = torch.load(osp.join(work_dir, 'epoch_1.pth'))
    assert len(checkpoint['rng_state']['ranks']) == 2
    assert not any(k.startswith('module.') for k in checkpoint['state_dict'])

    out = str(tmp_path / 'metrics.json')
    tested = run([
        osp.join(REPO, 'tools', 'test.py'), config,
        osp.join(work_dir, 'epoch_2.pth'), '--launcher', 'pytorch',
        '--work-dir',
        str(tmp_path / 'test'), '--out-item', 'metrics', '--out', out, *options
    ],
                 tmp_path,
                 nproc=2)
    assert tested.returncode == 0, tested.stderr[-3000:]
    with open(out) as f:
        metrics = json.load(f)
    # the test set is the validation set: the two-process test of the last
    # checkpoint scores what the two-process validation after it logged
    assert metrics['accuracy/top1'] == pytest.approx(
        logged(work_dir, 'accuracy/top1'))
    assert 'feature_ratio' in metrics  # gathered from both ranks

    resumed = run([
        TRAIN, config, '--work-dir', work_dir, '--resume',
        osp.join(work_dir, 'epoch_1.pth'), *options
    ], tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert 'holds the random states of 2 process(es), this run has 1' in \
        resumed.stdout + resumed.stderr
    after = [r for r in rank_records(work_dir, 0) if r['world_size'] == 1]
    assert len(after) == 4  # epoch 2 only: 32 images, batches of 8


@pytest.mark.skipif(
    torch.cuda.is_available(), reason='the CPU path: GPUs take the stock one')
def test_segmentation_demo_two_processes(tmp_path):
    voc = make_digits_voc(
        str(tmp_path / 'VOC2012'), num_train=4, num_val=2, canvas=48)
    config = config_with_record_hook(
        tmp_path,
        osp.join(REPO, 'configs', 'demo',
                 'deeplabv3_r50_coretune_digits-voc.py'))
    work_dir = str(tmp_path / 'work')
    options = ['--cfg-options'] + [
        f'{loader}.dataset.data_root={voc}'
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    ] + [
        'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
        'default_hooks.checkpoint.interval=2', 'param_scheduler.0.end=2',
        'model.backbone.depth=18', 'model.decode_head.in_channels=512',
        'model.auxiliary_head.in_channels=256',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False'
    ]
    ddp = run([
        TRAIN, config, '--launcher', 'pytorch', '--work-dir', work_dir,
        *options
    ],
              tmp_path,
              nproc=2)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    for rank in (0, 1):
        records = rank_records(work_dir, rank)
        assert len(records) == 2 and all(r['world_size'] == 2 for r in records)
        assert all(0 < r['decode.loss_contrast'] < 100 for r in records)
        assert all(r['decode.core_pixels'] > 0 for r in records)
    # each rank's dense CE is its own shard's; the pixel contrast runs on
    # the pixels gathered from both
    first = [rank_records(work_dir, rank)[0] for rank in (0, 1)]
    assert first[0]['decode.loss_ce'] != first[1]['decode.loss_ce']
    assert first[0]['decode.loss_contrast'] == first[1]['decode.loss_contrast']
    # the host config's SyncBN ran as BatchNorm; validation ran under DDP
    assert 'mIoU' in ddp.stdout + ddp.stderr
