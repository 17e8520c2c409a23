"""tools/analysis_tools/device_check.py: its CPU dry run (what CI can run of
the GPU check), the per-part time limit, the refusal without a GPU and without
the carried pack."""
import json
import sys
import time
from pathlib import Path

import pytest
import torch
from tool_runs import REPO, load_tool, run_process

SCRIPT = 'analysis_tools/device_check.py'


@pytest.mark.slow
def test_dry_run_runs_every_part(tmp_path):
    out = tmp_path / 'check.json'
    report = load_tool(SCRIPT).main(['--dry-run', '--out', str(out)])
    assert json.loads(out.read_text()) == report
    parts = report['parts']
    assert set(parts) == {'precision', 'resume', 'overhead', 'scaling'}
    for name, part in parts.items():
        assert 'error' not in part, (name, part.get('traceback'))
    for task in ('cls', 'seg'):
        precision = parts['precision'][task]
        assert set(precision['runs']) == {
            f'{name}/{dtype}'
            for name in ('ce', 'coretune', 'fixed')
            for dtype in ('float32', 'float16', 'bfloat16')
        }
        assert precision['passed'], precision['precisions']
        assert parts['overhead'][task]['step_time_ratio'] > 0
    assert parts['resume']['passed']
    assert parts['resume']['max_weight_difference'] == 0  # exact on the CPU
    assert len(report['summary']) == 1 + 2 + 1 + 2 + 1


def test_a_part_past_its_limit_is_recorded_and_the_next_runs(
        tmp_path, monkeypatch):
    check = load_tool(SCRIPT)
    monkeypatch.setitem(check.DRY['limits'], 'precision', 1)
    monkeypatch.setitem(check.CHECKS, 'precision',
                        lambda device, sizes: time.sleep(5))
    monkeypatch.setitem(
        check.CHECKS, 'scaling',
        lambda device, sizes: dict(rows=[dict(M=4, vectorised_ms=1.0)]))
    start = time.time()
    report = check.main([
        '--dry-run', '--parts', 'precision', 'scaling', '--out',
        str(tmp_path / 'check.json')
    ])
    assert time.time() - start < 4
    assert report['parts']['precision']['error'].startswith('PartTimeout')
    assert report['parts']['scaling']['rows'][0]['M'] == 4
    assert any(
        line.startswith('precision: FAILED') for line in report['summary'])


@pytest.mark.skipif(torch.cuda.is_available(), reason='has a GPU')
def test_refuses_without_a_gpu_unless_dry(tmp_path, capsys):
    with pytest.raises(SystemExit):
        load_tool(SCRIPT).main(['--out', str(tmp_path / 'check.json')])
    assert '--dry-run' in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason='has a GPU')
def test_gpu_check_script_stops_without_a_gpu():
    done = run_process(['bash', 'tools/gpu_check.sh'],
                       env=dict(PATH='/usr/bin:/bin', PY=sys.executable),
                       check=False)
    assert done.returncode != 0
    assert 'no CUDA device' in done.stderr


def test_gpu_check_script_names_the_missing_pack(tmp_path):
    # a stand-in Python that has a GPU but none of the host libraries
    python = tmp_path / 'python'
    python.write_text('#!/bin/sh\ncase "$2" in *cuda*) echo stand-in; '
                      'exit 0;; esac\nexit 1\n')
    python.chmod(0o755)
    done = run_process(['bash', 'tools/gpu_check.sh'],
                       env=dict(
                           PATH='/usr/bin:/bin',
                           PY=str(python),
                           PACK=str(tmp_path / 'absent'),
                           OUT=str(tmp_path / 'out'),
                           SITE=str(tmp_path / 'site')),
                       check=False)
    assert done.returncode == 2
    assert f'{tmp_path / "absent"}/ is not here' in done.stderr
    assert 'gpu_check.sh pack' in done.stderr
    assert not (tmp_path / 'site').exists()


def test_budget_caps_the_parts_and_skips_what_does_not_fit(
        tmp_path, monkeypatch):
    check = load_tool(SCRIPT)
    ran = []
    for part in check.PARTS:
        monkeypatch.setitem(
            check.CHECKS,
            part,
            lambda device, sizes, part=part: ran.append(part) or dict(rows=[]))
    report = check.main(
        ['--dry-run', '--budget', '0', '--out',
         str(tmp_path / 'check.json')])
    assert ran == []
    assert all(part['error'].startswith('skipped')
               for part in report['parts'].values())
    report = check.main(
        ['--dry-run', '--budget', '60', '--out',
         str(tmp_path / 'check.json')])
    assert ran == list(check.PARTS)


def test_sync_counter_counts_the_sync_debug_warnings(monkeypatch):
    import warnings
    check = load_tool(SCRIPT)
    modes = []
    monkeypatch.setattr(torch.cuda, 'synchronize', lambda: None)
    monkeypatch.setattr(torch.cuda, 'set_sync_debug_mode', modes.append)
    with check.SyncCounter('cuda:0') as counter:
        warnings.warn('called a synchronizing CUDA operation')
        warnings.warn('called a synchronizing CUDA operation')
        warnings.warn('something else')
    assert counter.count == 2
    assert modes == ['warn', 'default']
    with check.SyncCounter('cpu') as counter:
        pass
    assert counter.count is None and modes == ['warn', 'default']


def test_added_syncs_compare_the_fp32_steps_of_the_two_heads():
    check = load_tool(SCRIPT)

    def runs(ce, core):
        return {
            'ce/float32': dict(syncs=[9, ce]),
            'coretune/float32': dict(syncs=[9, core]),
            'coretune/float16': dict(syncs=[9, 50]),
        }

    assert check.added_syncs(runs(3, 5)) == 2
    assert check.added_syncs(runs(3, 3)) == 0
    assert check.added_syncs(runs(None, None)) is None
    assert check.SYNC_LIMIT == dict(cls=0, seg=2)


def _stand_in_pack(pack: Path) -> None:
    """A pack as ``gpu_check.sh pack`` writes it, in miniature: one pure-
    Python wheel and an mmcv source whose ``setup.py`` records how it was built
    (the environment and its C++ standard) and installs a bare ``mmcv.ops``."""
    import tarfile
    import zipfile
    pack.mkdir()
    with zipfile.ZipFile(pack / 'standin-1.0-py3-none-any.whl', 'w') as w:
        w.writestr('standin/__init__.py', 'VERSION = 1\n')
        info = 'standin-1.0.dist-info'
        w.writestr(f'{info}/METADATA',
                   'Metadata-Version: 2.1\nName: standin\nVersion: 1.0\n')
        w.writestr(
            f'{info}/WHEEL', 'Wheel-Version: 1.0\nGenerator: test\n'
            'Root-Is-Purelib: true\nTag: py3-none-any\n')
        w.writestr(f'{info}/RECORD', '')
    source = pack / 'src' / 'mmcv-2.1.0'
    (source / 'mmcv' / 'ops').mkdir(parents=True)
    (source / 'mmcv' / '__init__.py').write_text("__version__ = '2.1.0'\n")
    (source / 'mmcv' / 'ops' / '__init__.py').write_text('')
    (source / 'setup.py').write_text(
        'import json, os\n'
        'from setuptools import setup\n'
        "FLAGS = ['-std=c++17']\n"
        'json.dump(dict(flags=FLAGS, env={k: os.environ.get(k) for k in '
        "('CUDA_VISIBLE_DEVICES', 'FORCE_CUDA', 'MMCV_WITH_OPS')}), "
        "open(os.environ['BUILD_RECORD'], 'w'))\n"
        "setup(name='mmcv', version='2.1.0', packages=['mmcv', 'mmcv.ops'])\n")
    with tarfile.open(pack / 'mmcv-2.1.0.tar.gz', 'w:gz') as tar:
        tar.add(source, arcname='mmcv-2.1.0')
    import shutil
    shutil.rmtree(pack / 'src')


@pytest.mark.slow
def test_gpu_check_script_installs_the_pack_once(tmp_path):
    """The bare-machine path on the CPU: a stand-in Python with a 'GPU' and
    none of the host libraries; the pack is installed into SITE, mmcv is
    built for the CPU with C++20, the check gets the rest of the budget, and
    a second call finds SITE complete and installs nothing."""
    _stand_in_pack(tmp_path / 'pack')
    log = tmp_path / 'check_args'
    python = tmp_path / 'python'
    python.write_text(
        '#!/bin/sh\n'
        'case "$*" in\n'
        '  *cuda.is_available*) echo stand-in GPU; exit 0;;\n'
        # the machine's own Python lacks the libraries; SITE holds the pack's
        '  *"import mmcv.ops"*) case "$PYTHONPATH" in *site*) ;; *) exit 1;; '
        f'esac; exec {sys.executable} -c "import mmcv.ops, standin; '
        f"assert mmcv.__file__.startswith('{tmp_path / 'site'}')\";;\n"
        f'  *device_check.py*) echo "$PYTHONPATH $*" >> {log}; exit 0;;\n'
        'esac\n'
        f'exec {sys.executable} "$@"\n')
    python.chmod(0o755)
    record = tmp_path / 'build.json'
    env = dict(
        PATH='/usr/bin:/bin',
        HOME=str(tmp_path),
        PY=str(python),
        PACK=str(tmp_path / 'pack'),
        OUT=str(tmp_path / 'out'),
        SITE=str(tmp_path / 'site'),
        BUDGET='500',
        BUILD_RECORD=str(record))
    done = run_process(['bash', 'tools/gpu_check.sh', '--parts', 'scaling'],
                       env=env)
    assert 'host libraries ready in' in done.stdout
    built = json.loads(record.read_text())
    assert built['flags'] == ['-std=c++20']
    assert built['env'] == dict(
        CUDA_VISIBLE_DEVICES='', FORCE_CUDA='0', MMCV_WITH_OPS='1')
    site = tmp_path / 'site'
    assert (site / 'standin' / '__init__.py').is_file()
    assert (site / 'mmcv' / 'ops' / '__init__.py').is_file()
    assert (site / '.complete').is_file()
    pythonpath, *args = log.read_text().split()
    assert pythonpath.split(':') == [REPO, str(site)]
    assert args[0] == 'tools/analysis_tools/device_check.py'
    assert args[1:3] == ['--out', str(tmp_path / 'out' / 'device_check.json')]
    assert args[3] == '--budget' and 0 < int(args[4]) <= 500
    assert args[5:] == ['--parts', 'scaling']
    # a second call on the same machine: nothing built again
    record.unlink()
    run_process(['bash', 'tools/gpu_check.sh'], env=env)
    assert not record.exists()
    assert len(log.read_text().splitlines()) == 2
    # another pack: the install is made again, the earlier one replaced
    (site / 'left_over').write_text('')
    (tmp_path / 'pack' / 'other.txt').write_text('')
    run_process(['bash', 'tools/gpu_check.sh'], env=env)
    assert json.loads(record.read_text())['flags'] == ['-std=c++20']
    assert not (site / 'left_over').exists()
    assert 'other.txt' in (site / '.complete').read_text()


def test_low_precision_on_a_gpu_goes_through_amp_optim_wrapper(monkeypatch):
    """What a config's ``AmpOptimWrapper`` does on a GPU (its CUDA check stood
    in for); on the CPU, which it refuses, the plain wrapper under autocast."""
    import mmengine.optim.optimizer.amp_optimizer_wrapper as amp
    from mmengine.optim import AmpOptimWrapper, OptimWrapper
    check = load_tool(SCRIPT)
    model = torch.nn.Linear(3, 2)
    monkeypatch.setattr(amp, 'is_cuda_available', lambda: True)
    for dtype in ('float16', 'bfloat16'):
        wrapper, autocast = check.optim_wrapper_for(model, dtype, 'cuda')
        assert type(wrapper) is AmpOptimWrapper and autocast is None
        assert wrapper.cast_dtype == getattr(torch, dtype)
        wrapper, autocast = check.optim_wrapper_for(model, dtype, 'cpu')
        assert type(wrapper) is OptimWrapper
        assert autocast.fast_dtype == getattr(torch, dtype)
    wrapper, autocast = check.optim_wrapper_for(model, 'float32', 'cuda')
    assert type(wrapper) is OptimWrapper and autocast is None
