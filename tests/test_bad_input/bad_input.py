"""What the bad-input tests share: configs, options, a runner for the real
entry points and the checks every case makes."""
import os
import os.path as osp
import shutil
import subprocess
import sys
from typing import Dict, List

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CLS_CONFIG = osp.join(REPO, 'configs', 'demo',
                      'resnet18_coretune_digits-folder.py')
SEG_CONFIG = osp.join(REPO, 'configs', 'demo',
                      'deeplabv3_r50_coretune_digits-voc.py')
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def tool(name: str) -> str:
    return osp.join(REPO, 'tools', name)


def cls_options(root: str) -> List[str]:
    return [f'{loader}.dataset.data_root={root}' for loader in LOADERS] + [
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False', 'train_cfg.max_epochs=1',
        'train_dataloader.batch_size=8'
    ]


def seg_options(root: str) -> List[str]:
    return [f'{loader}.dataset.data_root={root}' for loader in LOADERS] + [
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False', 'train_cfg.max_iters=1',
        'model.backbone.depth=18', 'model.decode_head.in_channels=512',
        'model.auxiliary_head.in_channels=256'
    ]


def snapshot(folder: str) -> Dict[str, bytes]:
    """Every file under ``folder`` with its bytes."""
    files = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = osp.join(root, name)
            with open(path, 'rb') as f:
                files[osp.relpath(path, folder)] = f.read()
    return files


def refused(args: List[str], *expected: str, keep: str = None) -> str:
    """Run an entry point that must refuse its input: a non-zero exit, and
    the last line of stderr names each ``expected`` fragment (the option or
    file and what was expected). Files under ``keep`` stay as they were.
    Returns that line."""
    before = snapshot(keep) if keep else None
    env = dict(os.environ, OMP_NUM_THREADS='1')
    done = subprocess.run([sys.executable, *args],
                          cwd=REPO,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=600)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode != 0, done.stdout[-2000:]
    last = lines[-1] if lines else ''
    for fragment in expected:
        assert fragment in last, f'{fragment!r} not in {last!r}'
    if keep:  # new log files may appear; what was there stays
        after = snapshot(keep)
        assert {k: after.get(k) for k in before} == before, 'files changed'
    return last


def copy_tree(src: str, dst: str) -> str:
    shutil.copytree(src, dst)
    return dst
