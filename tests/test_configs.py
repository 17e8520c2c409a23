"""Every shipped config parses and its model builds from the registry."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(
    p for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                         recursive=True) if '_base_' not in p)


def build_model(cfg):
    if cfg.default_scope == 'mmseg':
        from mmseg.registry import MODELS
    else:
        from mmpretrain.registry import MODELS
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        return MODELS.build(cfg.model)


def test_configs_found():
    assert len(CONFIGS) >= 8


@pytest.mark.parametrize(
    'path', CONFIGS, ids=[osp.relpath(p, REPO) for p in CONFIGS])
def test_config_builds(path):
    cfg = Config.fromfile(path)
    assert cfg.custom_imports.imports == ['coretune_mm']
    model = build_model(cfg)
    name = osp.basename(path)
    head = getattr(model, 'head', None) or model.decode_head
    # a CE config uses the stock head, or ours with Core-tuning off
    assert (getattr(head, 'core_tuning', None) is not None) == \
        ('coretune' in name)


@pytest.mark.parametrize('dataset', ['cifar10', 'cifar100', 'folder'])
def test_pairs_differ_only_in_the_head(dataset):
    stem = 'resnet50_mocov2-pre_{}_1xb64-accum4-coslr-100e_' + dataset
    ce = Config.fromfile(osp.join(REPO, 'configs', stem.format('ce') + '.py'))
    core = Config.fromfile(
        osp.join(REPO, 'configs', stem.format('coretune') + '.py'))
    ce_dict, core_dict = ce.to_dict(), core.to_dict()
    ce_dict['model'].pop('head')
    core_dict['model'].pop('head')
    assert ce_dict == core_dict
    assert core.model.head.type == 'CoreTuneClsHead'
    assert core.model.backbone.init_cfg.prefix == 'module.encoder_q.'
    assert core.optim_wrapper.accumulative_counts == 4
    assert core.optim_wrapper.optimizer.nesterov


def test_fashion_mnist_pair_differs_only_in_the_head():
    folder = osp.join(REPO, 'configs', 'fashion_mnist')
    ce = Config.fromfile(osp.join(folder, 'resnet18_ce_fashion-mnist.py'))
    core = Config.fromfile(
        osp.join(folder, 'resnet18_coretune_fashion-mnist.py'))
    ce_dict, core_dict = ce.to_dict(), core.to_dict()
    ce_dict['model'].pop('head')
    core_dict['model'].pop('head')
    assert ce_dict == core_dict
    # no download at run time; validation from training, test from t10k
    for loader, test_mode in (('train', False), ('val', False),
                              ('test', True)):
        dataset = core[f'{loader}_dataloader'].dataset
        assert dataset.type == 'FashionMNIST' and not dataset.download
        assert dataset.test_mode == test_mode
