"""What `pip install -e .` / `mim install -e .` promise an existing
OpenMMLab environment (the installed metadata of this checkout)."""
import importlib.metadata as metadata
import os.path as osp
import sys

from packaging.requirements import Requirement

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
