import inspect
import os.path as osp
import sys
from typing import Optional

import pytest
import tool_runs
import torch

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

# what makes a test slow: a Runner, a tool in a subprocess, a process group,
# an inferencer
_SLOW_SOURCE = ('Runner.from_cfg', 'run_tool', 'run_process', 'subprocess.',
                'start_processes', "'tools'", 'pip wheel', 'Inferencer')
# helpers elsewhere run the tools for these; every shipped config built
_SLOW_PATHS = ('tests/test_bad_input/',
               'tests/test_tools/test_distributed_runner.py',
               'tests/test_configs.py::test_config_builds',
               'tests/test_configs.py::test_pairs_differ_only_in_the_head',
               'tests/test_configs.py::test_top_level_configs_are_in_folders',
               'tests/test_registry.py::test_inherited_by_prefix')


def pytest_collection_modifyitems(config, items):
    """Mark ``slow`` what starts a Runner, a subprocess or processes, so that
    ``make test-fast`` (``-m "not slow"``) is the edit-test loop and ``make
    test`` runs everything."""
    for item in items:
        function = getattr(item, 'function', None)
        try:
            source = inspect.getsource(function) if function else ''
        except (OSError, TypeError):
            source = ''
        if any(key in source for key in _SLOW_SOURCE) or \
                item.nodeid.startswith(_SLOW_PATHS) or \
                'run_tool' in getattr(item, 'fixturenames', ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope='session')
def digits_voc(tmp_path_factory) -> str:
    """A small generated VOC-format set of digit scenes (8 training and 4
    validation scenes of 48 px): its ``VOC2012`` folder."""
    from coretune_mm.datasets.demo_data import make_digits_voc
    return make_digits_voc(
        str(tmp_path_factory.mktemp('voc') / 'VOC2012'),
        num_train=8,
        num_val=4,
        canvas=48)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _default_scope(request):
    """Build in the host library a test module names in ``DEFAULT_SCOPE``."""
    from mmengine.registry import DefaultScope
    scope = getattr(request.module, 'DEFAULT_SCOPE', 'mmpretrain')
    with DefaultScope.overwrite_default_scope(scope):
        yield


@pytest.fixture()
def run_tool():
    """``run_tool(script, *args, cwd=REPO, threads=None)``: run a script with
    this Python and return its stdout and stderr; a failure shows the end of
    its stderr.

    ``threads`` sets ``OMP_NUM_THREADS``.
    """

    def run(*args: str,
            cwd: str = REPO,
            threads: Optional[int] = None,
            timeout: int = 900) -> str:
        done = tool_runs.run_process([sys.executable, *args],
                                     cwd=cwd,
                                     threads=threads,
                                     timeout=timeout)
        return done.stdout + done.stderr

    return run


@pytest.fixture()
def load_tool():
    """``load_tool('model_converters/strip_core_tuning.py')``: that script as a
    module, loaded once."""
    return tool_runs.load_tool


def _logged(work_dir: str, key: str) -> float:
    """The last value of ``key`` a run wrote to its ``scalars.json``."""
    import glob
    import json
    values = []
    for path in sorted(
            glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            values += [
                entry[key] for entry in map(json.loads, f) if key in entry
            ]
    assert values, f'{key} was not logged in {work_dir}'
    return values[-1]


@pytest.fixture()
def logged():
    """``logged(work_dir, key)``: the last value of ``key`` a run logged."""
    return _logged


def _register_test_hooks():
    from mmengine.hooks import Hook
    from mmengine.registry import HOOKS

    @HOOKS.register_module(force=True)
    class StopAfterEpochHook(Hook):
        """Stop training after an epoch, after the checkpoint is written."""
        priority = 'LOWEST'

        def __init__(self, epoch):
            self.epoch = epoch

        def after_train_epoch(self, runner):
            if runner.epoch + 1 >= self.epoch:  # counter moves after hooks
                runner.train_loop.stop_training = True


_register_test_hooks()


def _read_host_metafiles_once():
    """MMEngine reads every metafile of a host package (about 200 YAML files)
    each time a config names one of its files (``mmseg::...``): 0.2 s per
    name, most of the time a shipped config takes to parse. The files do not
    change while the tests run, so the config loader reads each once (it
    only reads what it loads); the configs that come out are the same."""
    import functools

    from mmengine.config import utils
    utils.load = functools.lru_cache(maxsize=None)(utils.load)


_read_host_metafiles_once()
