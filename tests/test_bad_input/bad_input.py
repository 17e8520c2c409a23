"""What the bad-input tests share: configs, options, the real entry points
run in this process or as a process (through ``tool_runs``) and the checks
every case makes."""
import contextlib
import io
import os
import os.path as osp
import shutil
import sys
import time
import traceback
from typing import Dict, List, Optional, Tuple

from tool_runs import load_tool, run_process

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


_ENDED = [0.0]


def _run_in_process(args: List[str]) -> Tuple[int, str]:
    """``python *args`` as the interpreter would end it, in this process: the
    exit status and stderr, closed by what an uncaught exception or
    ``SystemExit`` prints there."""
    # MMEngine names a run's log folder after the second its Runner is built
    # in: start in a later second than the one the last run ended in, or two
    # runs would share one log file
    now = time.time()
    if int(now) == int(_ENDED[0]):
        time.sleep(1 - now % 1)
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            load_tool(args[0]).main(list(args[1:]))
    except SystemExit as exit_:
        code = exit_.code
        if code is None or isinstance(code, int):
            return code or 0, err.getvalue()
        return 1, err.getvalue() + f'{code}\n'
    except Exception as error:  # what the interpreter would print last
        return 1, err.getvalue() + ''.join(
            traceback.format_exception_only(type(error), error))
    finally:
        _ENDED[0] = time.time()
    return 0, err.getvalue()


def _run_process(args: List[str]) -> Tuple[int, str]:
    done = run_process([sys.executable, *args],
                       threads=1,
                       timeout=600,
                       check=False)
    return done.returncode, done.stderr


def refused(args: List[str],
            *expected: str,
            keep: Optional[str] = None,
            process: bool = False) -> str:
    """Run an entry point that must refuse its input: a non-zero exit, and
    the last line of stderr names each ``expected`` fragment (the option or
    file and what was expected). Files under ``keep`` stay as they were.
    Returns that line.

    The tool's ``main(argv)`` runs in this process, which checks the same
    refusal seconds faster; ``process=True`` runs ``python tool ...`` as a
    user would (one case per tool does, for the real exit status and
    stderr).
    """
    before = snapshot(keep) if keep else None
    status, stderr = (_run_process if process else _run_in_process)(args)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert status != 0, stderr[-2000:]
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
