"""What the experiment scripts share: running the host tools, in parallel,
with runs cached and resumed.

Each run lives in its own folder: a run is ``'new'`` (nothing there),
``'interrupted'`` (a checkpoint short of its schedule: resumed exactly) or
``'finished'`` (evaluated once per split, the metrics cached as JSON).
"""
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Callable, Dict, Optional

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# MMEngine's config parser asks pkg_resources whether a `_base_` package is
# installed, and pkg_resources is not thread-safe: runs of `--jobs N` parse
# and write their configs one at a time (training runs in parallel). Held
# again by the same thread, it does not block.
CONFIG_LOCK = threading.RLock()


def run(*cmd: str, threads: Optional[int] = None) -> None:
    """``python *cmd`` from the repository root (its output discarded, its
    errors shown); ``threads`` sets ``OMP_NUM_THREADS``."""
    print('+', ' '.join(cmd), flush=True)
    env = dict(os.environ)
    if threads:
        env['OMP_NUM_THREADS'] = str(threads)
    subprocess.run([sys.executable, *cmd],
                   check=True,
                   cwd=REPO,
                   env=env,
                   stdout=subprocess.DEVNULL)


def run_parallel(tasks: list, fn: Callable, jobs: int) -> dict:
    """``{task: fn(task)}``, ``jobs`` at a time.

    The first failure cancels the tasks not yet started and is raised once the
    running ones end (their results stay cached).
    """
    with ThreadPoolExecutor(jobs) as pool:
        futures = {pool.submit(fn, task): task for task in tasks}
        for future in as_completed(futures):
            if future.exception() is not None:
                for other in futures:
                    other.cancel()
                raise future.exception()
        return {task: future.result() for future, task in futures.items()}


def run_state(work_dir: str, config: str) -> str:
    """``'new'`` (nothing written yet), ``'interrupted'`` (a checkpoint short
    of the schedule's end: resume it) or ``'finished'``."""
    from mmengine.config import Config
    last_file = osp.join(work_dir, 'last_checkpoint')
    if not (osp.isfile(last_file) and osp.isfile(config)):
        return 'new'
    with CONFIG_LOCK:
        train_cfg = Config.fromfile(config).train_cfg
    final = (f'epoch_{train_cfg.max_epochs}.pth' if 'max_epochs' in train_cfg
             else f'iter_{train_cfg.max_iters}.pth')
    with open(last_file) as f:
        last = osp.basename(f.read().strip())
    return 'finished' if last == final else 'interrupted'


def train(config: str, work_dir: str, resume: bool,
          threads: Optional[int]) -> None:
    """``tools/train.py`` on ``config``; ``resume`` continues from the run's
    last checkpoint (exactly: the random states are restored)."""
    run('tools/train.py',
        config,
        '--work-dir',
        work_dir,
        *(['--resume'] if resume else []),
        threads=threads)


def train_once(work_dir: str, config: str, write: Callable[[], None],
               threads: Optional[int]) -> None:
    """Bring the run in ``work_dir`` to the end of its schedule: a new run (its
    folder cleared of an earlier attempt's logs) has its configs written by
    ``write`` (under :data:`CONFIG_LOCK`) and trains; an interrupted one
    resumes; a finished one is left alone."""
    state = run_state(work_dir, config)
    if state == 'new':
        shutil.rmtree(work_dir, ignore_errors=True)
        os.makedirs(work_dir)
        with CONFIG_LOCK:
            write()
    if state != 'finished':
        train(config, work_dir, state == 'interrupted', threads)


def evaluate(work_dir: str, configs: Dict[str, str],
             threads: Optional[int]) -> Dict[str, Dict[str, float]]:
    """Metrics of the run's last checkpoint with each split's config.

    Args:
        work_dir (str): The run's folder; results are cached there as
            ``<split>.json``.
        configs (dict): ``{split: config}``.
        threads (int, optional): ``OMP_NUM_THREADS`` of each evaluation.
    """
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        last = f.read().strip()
    results = {}
    for split, config in configs.items():
        out = osp.join(work_dir, f'{split}.json')
        if not osp.isfile(out):
            run('tools/test.py',
                config,
                last,
                '--work-dir',
                work_dir,
                '--out-item',
                'metrics',
                '--out',
                out,
                threads=threads)
        with open(out) as f:
            results[split] = json.load(f)
    return results
