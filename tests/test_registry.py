"""The `coretune_mm` config scope: configs outside the repository inherit
the shipped ones as `coretune_mm::PATH` and build what the repository's
files build."""
import collections
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.config.utils import MODULE2PACKAGE
from mmengine.registry import DefaultScope
from mmengine.utils import get_installed_path

import coretune_mm
from coretune_mm.registry import SCOPE, HostScopeRegistry

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = osp.join(REPO, 'configs')
# every shipped config MMEngine's prefix can name: those in a folder
IN_FOLDERS = sorted(
    osp.relpath(p, CONFIGS)
    for p in glob.glob(osp.join(CONFIGS, '*', '**', '*.py'), recursive=True))


def without_scope(value):
    if isinstance(value, dict):
        return {
            k: without_scope(v)
            for k, v in value.items() if k != '_scope_'
        }
    if isinstance(value, (list, tuple)):
        return type(value)(without_scope(v) for v in value)
    return value


def user_config(tmp_path, text: str) -> str:
    path = tmp_path / 'user_project' / 'my_config.py'
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return str(path)


def test_the_package_folder_is_found_for_editable_installs_too():
    # `pip install -e .` leaves no package folder in site-packages; MMEngine
    # must find the configs next to the code that is imported
    path = get_installed_path(MODULE2PACKAGE[SCOPE])
    assert path == osp.dirname(coretune_mm.__file__)
    assert osp.isfile(
        osp.join(path, '.mim', 'configs', 'deeplabv3_r50_coretune_voc.py'))


def test_configs_found():
    assert len(IN_FOLDERS) >= 30
    assert ('deeplabv3/deeplabv3_r50-d8_mocov2-pre_coretune_4xb4-20k_'
            'voc12aug-512x512.py') in IN_FOLDERS


@pytest.mark.parametrize('name', IN_FOLDERS)
def test_inherited_by_prefix_is_the_shipped_config(name, tmp_path):
    """Only `_scope_` differs (MMEngine's mark of another package's config)."""
    inherited = Config.fromfile(
        user_config(tmp_path, f"_base_ = 'coretune_mm::{name}'\n"))
    shipped = Config.fromfile(osp.join(CONFIGS, name))
    assert without_scope(inherited.to_dict()) == without_scope(
        shipped.to_dict())


def build(scope: str, cfg: dict):
    from mmengine.registry import MODELS
    with DefaultScope.overwrite_default_scope(scope):
        return MODELS.build(dict(cfg, _scope_=SCOPE))


@pytest.mark.parametrize('host', ['mmseg', 'mmpretrain'])
def test_scope_builds_from_the_host_of_the_default_scope(host):
    """`ResNetV1c` is a different class in each host: the config's
    default_scope decides, for the dict and everything it builds."""
    model = build(host, dict(type='ResNetV1c', depth=18))
    assert type(model).__module__.startswith(host)
    if host == 'mmseg':
        head = dict(
            type='CoreTuneASPPHead',
            in_channels=8,
            channels=8,
            num_classes=3,
            dilations=(1, 2))
    else:
        head = dict(type='CoreTuneClsHead', in_channels=8, num_classes=3)
    head = build(host, head)
    # nested modules (the loss, the projector) come from the same host
    assert type(head.core_tuning).__name__ == 'CoreTuning'


def test_scope_without_a_host_says_so(monkeypatch):
    from mmengine.registry import MODELS
    monkeypatch.setattr(DefaultScope, '_instance_dict',
                        collections.OrderedDict())
    registry = MODELS._search_child(SCOPE)
    assert isinstance(registry, HostScopeRegistry)
    with DefaultScope.overwrite_default_scope(SCOPE):
        with pytest.raises(RuntimeError, match='default_scope'):
            registry.get('ResNet')


def test_user_config_turns_core_tuning_on_with_the_shipped_fragments(tmp_path):
    """The README's recipe: a host config plus the plugin's runtime and head
    fragment, all by prefix."""
    path = user_config(
        tmp_path, """_base_ = [
    'mmseg::deeplabv3/deeplabv3_r50-d8_4xb4-20k_voc12aug-512x512.py',
    'coretune_mm::_base_/coretune_runtime.py',
    'coretune_mm::_base_/coretune/decode_head.py',
]
model = dict(
    backbone=dict(depth=18, init_cfg=None, norm_cfg=dict(type='BN')),
    decode_head=dict(
        _base_.coretune_decode_head, in_channels=512, channels=64,
        norm_cfg=dict(type='BN')),
    auxiliary_head=dict(in_channels=256, channels=32,
                        norm_cfg=dict(type='BN')))
""")
    cfg = Config.fromfile(path)
    from mmseg.registry import MODELS
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(cfg.model)
    assert type(model.decode_head).__name__ == 'CoreTuneASPPHead'
    hooks = [hook.type for hook in cfg.custom_hooks]
    assert 'PretrainedCheckHook' in hooks and 'RNGStateHook' in hooks
