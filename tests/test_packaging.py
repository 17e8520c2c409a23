"""What `pip install -e .` / `mim install -e .` promise an existing OpenMMLab
environment (the installed metadata of this checkout)."""
import importlib.metadata as metadata
import json
import os
import os.path as osp
import shutil
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from tool_runs import run_process

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
# the versions the two-command set-up installs (tools/setup_env.sh)
VERIFIED = {
    'mmengine': '0.10.7',
    'mmpretrain': '1.2.0',
    'mmsegmentation': '1.2.2'
}


def requirements():
    return [Requirement(r) for r in metadata.requires('coretune_mm')]


def test_host_libraries_are_ranges_holding_the_verified_versions():
    runtime = {r.name: r for r in requirements() if r.marker is None}
    for name, version in VERIFIED.items():
        spec = runtime[name].specifier
        assert len(spec) == 2, f'{name}: a range, not a pin ({spec})'
        assert version in spec
    with open(osp.join(REPO, 'tools', 'setup_env.sh')) as f:
        script = f.read()
    for name, version in VERIFIED.items():
        assert f'"{name}=={version}"' in script


def test_mim_extra_is_requirements_mminstall():
    mim = sorted(
        str(r).split(';')[0].strip() for r in requirements()
        if r.marker is not None and r.marker.evaluate({'extra': 'mim'}))
    with open(osp.join(REPO, 'requirements', 'mminstall.txt')) as f:
        listed = sorted(
            str(Requirement(line.strip())) for line in f if line.strip())
    assert mim == listed


def test_demo_dependencies_are_an_extra_and_python_agrees():
    runtime = {r.name for r in requirements() if r.marker is None}
    assert not runtime & {'scikit-learn', 'matplotlib'}
    python = metadata.metadata('coretune_mm')['Requires-Python']
    assert python == '>=3.9'  # setuptools>=77, required, needs 3.9
    assert sys.version_info >= (3, 9)


def test_wheel_carries_the_configs_for_the_prefix(tmp_path):
    """A regular install (a wheel, not `-e`) has .mim/ as real files, and a
    config outside the repository inherits a shipped one from there."""
    source = tmp_path / 'source'
    shutil.copytree(
        REPO,
        source,
        symlinks=True,
        ignore=shutil.ignore_patterns('.*', 'work_dirs', 'data', 'build',
                                      '*.egg-info', '__pycache__', 'tests'))
    # .mim/ is hidden from the pattern above; copy its links as they are
    shutil.copytree(
        osp.join(REPO, 'coretune_mm', '.mim'),
        source / 'coretune_mm' / '.mim',
        symlinks=True)
    pip = [sys.executable, '-m', 'pip', '-q']
    run_process(pip + [
        'wheel',
        str(source), '--no-deps', '--no-build-isolation', '-w',
        str(tmp_path / 'wheel')
    ])
    (wheel, ) = (tmp_path / 'wheel').glob('coretune_mm-*.whl')
    site = tmp_path / 'site'
    run_process(
        pip +
        ['install', '--no-deps', '--target',
         str(site), str(wheel)])
    shipped = site / 'coretune_mm' / '.mim' / 'configs' / 'deeplabv3' / \
        'deeplabv3_r50-d8_mocov2-pre_coretune_4xb4-20k_voc12aug-512x512.py'
    assert shipped.is_file() and not shipped.is_symlink()
    tools = site / 'coretune_mm' / '.mim' / 'tools'
    assert (tools / 'train.py').is_file()
    assert (tools / 'model_converters' / 'strip_core_tuning.py').is_file()
    user = tmp_path / 'project'
    user.mkdir()
    (user / 'my_config.py').write_text(
        "_base_ = 'coretune_mm::deeplabv3/deeplabv3_r50-d8_mocov2-pre_"
        "coretune_4xb4-20k_voc12aug-512x512.py'\n")
    script = ('import coretune_mm; from mmengine.config import Config; '
              "print(coretune_mm.__file__); cfg = Config.fromfile('"
              "my_config.py'); print(cfg.model.decode_head.type)")
    done = run_process([sys.executable, '-c', script],
                       cwd=str(user),
                       env=dict(os.environ, PYTHONPATH=str(site)))
    imported, head = done.stdout.split()[-2:]
    assert imported.startswith(str(site)) and head == 'CoreTuneASPPHead'


def test_setup_env_refuses_an_unknown_mmcv_build(tmp_path):
    """MMCV_BUILD is checked before anything is created or installed."""
    done = run_process(['bash',
                        osp.join(REPO, 'tools', 'setup_env.sh')],
                       env=dict(
                           PATH='/usr/bin:/bin',
                           HOME=str(tmp_path),
                           MMCV_BUILD='gpu',
                           VENV=str(tmp_path / 'venv')),
                       check=False)
    assert done.returncode == 2
    assert "MMCV_BUILD must be cpu or cuda, got 'gpu'" in done.stderr
    assert not (tmp_path / 'venv').exists()


# A stand-in for the virtual environment's Python: pip's commands are logged
# and faked (a download writes an mmcv source whose setup.py asks for C++17,
# a wheel build records its environment and that setup.py), everything else
# runs in this Python, with a stand-in mmcv of the kind STANDIN_MMCV says
# ('absent', 'cpu' or 'cuda').
_STANDIN = '''#!{python}
import json, os, subprocess, sys, tarfile, io
args = sys.argv[1:]
log = os.environ['STANDIN_LOG']
if args[:2] == ['-m', 'pip']:
    command = next(a for a in args[2:] if not a.startswith('-'))
    with open(log, 'a') as f:
        f.write(json.dumps(dict(pip=args[2:], command=command, env={{
            k: os.environ.get(k) for k in ('CUDA_VISIBLE_DEVICES',
                                           'FORCE_CUDA', 'MMCV_WITH_OPS')}}))
                + '\\n')
    if command == 'download':
        folder = args[args.index('-d') + 1]
        data = b"FLAGS = ['-std=c++17']\\n"
        with tarfile.open(os.path.join(folder, 'mmcv-2.1.0.tar.gz'),
                          'w:gz') as tar:
            info = tarfile.TarInfo('mmcv-2.1.0/setup.py')
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    if command == 'wheel':
        folder = args[args.index('-w') + 1]
        with open(os.path.join(args[-1], 'setup.py')) as f:
            setup = f.read()
        with open(log, 'a') as f:
            f.write(json.dumps(dict(setup=setup)) + '\\n')
        open(os.path.join(folder, 'mmcv-2.1.0-cp311-linux_x86_64.whl'),
             'w').close()
    sys.exit(0)
kind = os.environ['STANDIN_MMCV']
if kind == 'absent' and 'import mmcv' in ' '.join(args):
    sys.exit(1)
if kind != 'absent':
    os.makedirs(os.path.join(os.environ['STANDIN_SITE'], 'mmcv', 'ops'),
                exist_ok=True)
    with open(os.path.join(os.environ['STANDIN_SITE'], 'mmcv',
                           '__init__.py'), 'w') as f:
        f.write("__version__ = '2.1.0'\\n")
    with open(os.path.join(os.environ['STANDIN_SITE'], 'mmcv', 'ops',
                           '__init__.py'), 'w') as f:
        f.write('def get_compiling_cuda_version():\\n    return %r\\n'
                % ('not available' if kind == 'cpu' else '12.4'))
env = dict(os.environ, PYTHONPATH=os.environ['STANDIN_SITE'])
if 'mmseg' in ' '.join(args):
    sys.exit(0)
sys.exit(subprocess.run([{python!r}] + args, env=env).returncode)
'''


def _setup_env(tmp_path: Path, mmcv_build: str, installed: str) -> list:
    """Run tools/setup_env.sh with the stand-in; its pip calls and the cached
    wheels."""
    venv = tmp_path / 'venv'
    (venv / 'bin').mkdir(parents=True, exist_ok=True)
    python = venv / 'bin' / 'python'
    python.write_text(_STANDIN.format(python=sys.executable))
    python.chmod(0o755)
    log = tmp_path / f'pip_{mmcv_build}_{installed}.jsonl'
    run_process(['bash', osp.join(REPO, 'tools', 'setup_env.sh')],
                cwd=REPO,
                env=dict(
                    PATH='/usr/bin:/bin',
                    HOME=str(tmp_path),
                    VENV=str(venv),
                    MMCV_BUILD=mmcv_build,
                    CORETUNE_CACHE=str(tmp_path / 'cache'),
                    STANDIN_LOG=str(log),
                    STANDIN_MMCV=installed,
                    STANDIN_SITE=str(tmp_path / f'site_{installed}')))
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    return calls


@pytest.mark.slow
def test_setup_env_builds_mmcv_for_the_cpu_by_default_keyed_by_kind(tmp_path):
    """A GPU host gets CPU ops (the GPUs hidden from mmcv's setup.py), with
    C++20 and the kind in the cache key; an mmcv of the right kind is kept, one
    of the other kind is replaced by a build of the asked kind."""
    import torch
    key = (f'mmcv-2.1.0-torch{torch.__version__}-cp{sys.version_info[0]}'
           f'{sys.version_info[1]}')
    calls = _setup_env(tmp_path, 'cpu', 'absent')
    builds = [c for c in calls if c.get('command') == 'wheel']
    assert len(builds) == 1
    assert builds[0]['env'] == dict(
        CUDA_VISIBLE_DEVICES='', FORCE_CUDA='0', MMCV_WITH_OPS='1')
    assert "'-std=c++20'" in [c for c in calls if 'setup' in c][0]['setup']
    cached = tmp_path / 'cache' / 'wheels' / f'{key}-cpu'
    assert [p.name for p in cached.iterdir()
            ] == ['mmcv-2.1.0-cp311-linux_x86_64.whl']
    assert any(
        c.get('command') == 'install' and str(cached) in ' '.join(c['pip'])
        for c in calls)
    # the right kind installed: no build, no mmcv install
    calls = _setup_env(tmp_path, 'cpu', 'cpu')
    assert not any('mmcv' in ' '.join(c.get('pip', [])) for c in calls)
    # a CPU build installed, CUDA kernels asked for: built and reinstalled
    calls = _setup_env(tmp_path, 'cuda', 'cpu')
    builds = [c for c in calls if c.get('command') == 'wheel']
    assert len(builds) == 1 and builds[0]['env']['FORCE_CUDA'] == '1'
    assert builds[0]['env']['CUDA_VISIBLE_DEVICES'] is None
    cached = tmp_path / 'cache' / 'wheels' / f'{key}-cuda'
    installs = [
        c['pip'] for c in calls
        if c.get('command') == 'install' and str(cached) in ' '.join(c['pip'])
    ]
    assert len(installs) == 1 and '--force-reinstall' in installs[0]
