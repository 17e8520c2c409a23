"""What `pip install -e .` / `mim install -e .` promise an existing OpenMMLab
environment (the installed metadata of this checkout)."""
import importlib.metadata as metadata
import os
import os.path as osp
import shutil
import sys

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
