"""tools/experiments/runner.py: parallel runs, their states and resuming."""
import time
import warnings

import pytest
from tool_runs import load_tool

SCRIPT = 'experiments/runner.py'


def test_parallel_runs_stop_at_the_first_failure():
    runner = load_tool(SCRIPT)
    started = []

    def fail_on_second(task):
        started.append(task)
        if task == 1:
            raise RuntimeError('run 1 failed')
        time.sleep(0.2)  # a run takes a while; the failure is seen first
        return task

    with pytest.raises(RuntimeError, match='run 1 failed'):
        runner.run_parallel(list(range(20)), fail_on_second, jobs=1)
    # the worker may start one more task before the failure is seen
    assert started[:2] == [0, 1] and len(started) <= 3
    assert runner.run_parallel([3, 1, 2], lambda t: t * 10, jobs=2) == {
        3: 30,
        1: 10,
        2: 20
    }


@pytest.mark.parametrize('schedule, final', [('max_epochs=3', 'epoch_3.pth'),
                                             ('max_iters=40', 'iter_40.pth')])
def test_an_interrupted_run_is_resumed_not_evaluated(tmp_path, monkeypatch,
                                                     schedule, final):
    """A run counts as done only when its last checkpoint ends the schedule; a
    run stopped earlier is resumed, not evaluated there."""
    runner = load_tool(SCRIPT)
    config = tmp_path / 'train_config.py'
    config.write_text(f'train_cfg = dict({schedule})\n')
    assert runner.run_state(str(tmp_path), str(config)) == 'new'
    last = tmp_path / 'last_checkpoint'
    last.write_text(str(tmp_path / 'epoch_2.pth'))
    assert runner.run_state(str(tmp_path), str(config)) == 'interrupted'
    last.write_text(str(tmp_path / final))
    assert runner.run_state(str(tmp_path), str(config)) == 'finished'

    commands = []
    monkeypatch.setattr(
        runner, 'run', lambda *cmd, threads=None: commands.append(cmd))
    runner.train(str(config), str(tmp_path), True, 1)
    runner.train(str(config), str(tmp_path), False, 1)
    assert commands == [
        ('tools/train.py', str(config), '--work-dir', str(tmp_path),
         '--resume'),
        ('tools/train.py', str(config), '--work-dir', str(tmp_path)),
    ]


def test_train_once_by_state(tmp_path, monkeypatch):
    """New: the folder is cleared of an earlier attempt's logs (whose
    logged values must not join the new run's), the configs written, then
    trained; interrupted: resumed without rewriting; finished: left."""
    runner = load_tool(SCRIPT)
    work_dir = tmp_path / 'run'
    stale = work_dir / '20260101_000000' / 'vis_data'
    stale.mkdir(parents=True)
    (stale / 'scalars.json').write_text('{"core_grad_ratio": 9.0}\n')
    config = work_dir / 'train_config.py'
    trained, written = [], []

    def write():
        # the parser is not thread-safe: writing happens under the lock,
        # which the same thread may take again
        with runner.CONFIG_LOCK:
            config.write_text('train_cfg = dict(max_epochs=2)\n')
        written.append(True)

    monkeypatch.setattr(
        runner, 'train',
        lambda cfg, wd, resume, threads: trained.append(resume))
    runner.train_once(str(work_dir), str(config), write, 1)
    assert not stale.exists() and written == [True] and trained == [False]
    (work_dir / 'last_checkpoint').write_text('epoch_1.pth')
    runner.train_once(str(work_dir), str(config), write, 1)
    assert written == [True] and trained == [False, True]
    (work_dir / 'last_checkpoint').write_text('epoch_2.pth')
    runner.train_once(str(work_dir), str(config), write, 1)
    assert trained == [False, True]


def test_ledger_keeps_runs_per_weights_across_instances(tmp_path):
    """Records survive a new ledger on the same file; a run stands only for the
    weights it ran from; a later record of the same run replaces one."""
    runner = load_tool(SCRIPT)
    path = tmp_path / 'evidence' / 'runs.jsonl'
    run = dict(task='10%', pretrain=0, replicate=1, variant='ce')
    first = dict(val={'accuracy/top1': 80.0}, test={'accuracy/top1': 79.0})
    ledger = runner.Ledger(str(path))
    assert ledger.get(run, 'w0') is None and not ledger.recorded(run)
    ledger.add(run, 'w0', first)
    again = runner.Ledger(str(path))
    assert again.get(run, 'w0') == first
    assert again.get(run, 'w1') is None  # other weights: run again
    assert again.get(dict(run, replicate=2), 'w0') is None
    assert again.recorded(run) and not again.recorded(dict(run, pretrain=1))
    second = dict(val={'accuracy/top1': 81.0}, test={'accuracy/top1': 78.0})
    again.add(run, 'w0', second)
    assert runner.Ledger(str(path)).get(run, 'w0') == second
    assert len(path.read_text().splitlines()) == 2  # appended, not rewritten
    # no file: records kept in memory only
    memory = runner.Ledger(None)
    memory.add(run, 'w0', first)
    assert memory.get(run, 'w0') == first


@pytest.mark.parametrize('line', ['{"run": {}, "weights": "w"}', 'not json'])
def test_ledger_names_the_file_and_line_of_a_bad_record(tmp_path, line):
    runner = load_tool(SCRIPT)
    path = tmp_path / 'runs.jsonl'
    good = '{"run": {}, "weights": "w", "results": {}}'
    path.write_text('\n' + line + '\n' + good + '\n')
    with pytest.raises(ValueError, match=r'--ledger: .*runs.jsonl, line 2'):
        runner.Ledger(str(path))


def test_ledger_ignores_a_last_record_cut_short(tmp_path):
    """An interruption during an append leaves a partial last line: it is
    ignored with a warning and replaced by the next record."""
    runner = load_tool(SCRIPT)
    path = tmp_path / 'runs.jsonl'
    run = dict(task='1%', pretrain=0, replicate=0, variant='ce')
    runner.Ledger(str(path)).add(run, 'w0', dict(test={'top1': 1.0}))
    with open(path, 'a') as f:
        f.write('{"run": {"task": "1%", "pre')
    with pytest.warns(UserWarning, match='line 2.*cut short'):
        ledger = runner.Ledger(str(path))
    assert ledger.get(run, 'w0') == dict(test={'top1': 1.0})
    ledger.add(dict(run, replicate=1), 'w0', dict(test={'top1': 2.0}))
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        again = runner.Ledger(str(path))
    assert again.get(dict(run, replicate=1), 'w0') == dict(test={'top1': 2.0})
    assert again.get(run, 'w0') == dict(test={'top1': 1.0})
    assert len(path.read_text().splitlines()) == 2
