"""What the experiment scripts share: running the host tools, in parallel,
with runs cached and resumed.

Each run lives in its own folder: a run is ``'new'`` (nothing there),
``'interrupted'`` (a checkpoint short of its schedule: resumed exactly) or
``'finished'`` (evaluated once per split, the metrics cached as JSON).
A :class:`Ledger` keeps finished runs' metrics in the repository, so that a
design spread over machines whose caches do not survive keeps what it
finished.
"""
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import threading
import warnings
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


class Ledger:
    """Finished runs' metrics in a JSON-lines file kept with the evidence.

    A record is ``{"run": key, "weights": fingerprint, "results": ...}``; it
    stands for its run only with the same key (what identifies the run in its
    design) and the same pre-trained weights (their fingerprint), so a run of
    other weights, e.g. a pre-training that did not reproduce them, runs
    again. Records are appended (and synced to disk) as runs finish; a later
    record of the same run and weights replaces an earlier one. A last line
    cut short by an interruption (no line end) is ignored with a warning and
    dropped when the next record is appended; a bad whole line is an error.

    Args:
        path (str, optional): The file; None keeps no ledger.
    """

    def __init__(self, path: Optional[str]) -> None:
        self.path = path
        # {run key as JSON: {weights: results}}
        self.records: Dict[str, Dict[str, dict]] = {}
        self._lock = threading.Lock()
        if not (path and osp.isfile(path)):
            return
        with open(path) as f:
            text = f.read()
        lines = text.split('\n')
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                key, weights = self._key(record['run']), str(record['weights'])
                results = record['results']
            except (ValueError, KeyError, TypeError) as error:
                problem = (f'--ledger: {path}, line {number}: expected a JSON '
                           'object with "run", "weights" and "results" '
                           f'({error!r})')
                if number < len(lines):  # a whole line
                    raise ValueError(problem) from None
                warnings.warn(problem + '; ignored: a record cut short, '
                              'replaced by the next one recorded')
                continue
            self.records.setdefault(key, {})[weights] = results

    @staticmethod
    def _key(run: dict) -> str:
        return json.dumps(run, sort_keys=True)

    def get(self, run: dict, weights: str) -> Optional[dict]:
        """The recorded results of ``run`` from ``weights``, or None."""
        with self._lock:
            return self.records.get(self._key(run), {}).get(weights)

    def recorded(self, run: dict) -> bool:
        """Whether ``run`` is recorded from any weights."""
        with self._lock:
            return self._key(run) in self.records

    def add(self, run: dict, weights: str, results: dict) -> None:
        """Record ``results``, appended to the file at once (after dropping a
        last record cut short)."""
        line = json.dumps(
            dict(run=run, weights=weights, results=results),
            sort_keys=True) + '\n'
        with self._lock:
            self.records.setdefault(self._key(run), {})[weights] = results
            if self.path is None:
                return
            os.makedirs(osp.dirname(osp.abspath(self.path)), exist_ok=True)
            with open(self.path, 'ab') as f:
                pass
            with open(self.path, 'r+b') as f:
                data = f.read()
                if data and not data.endswith(b'\n'):
                    f.truncate(data.rfind(b'\n') + 1)
                f.seek(0, os.SEEK_END)
                f.write(line.encode())
                f.flush()
                os.fsync(f.fileno())
