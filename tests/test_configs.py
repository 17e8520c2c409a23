"""Every shipped config parses and its model builds from the registry."""
import ast
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
# the configs, each in the folder of its model or experiment; the top-level
# files are short names for some of them (entry points)
CONFIGS = sorted(
    p for p in glob.glob(
        osp.join(REPO, 'configs', '*', '**', '*.py'), recursive=True)
    if '_base_' not in osp.relpath(p, REPO).split(osp.sep))
ENTRY_POINTS = sorted(glob.glob(osp.join(REPO, 'configs', '*.py')))


def build_model(cfg):
    if cfg.default_scope == 'mmseg':
        from mmseg.registry import MODELS
    else:
        from mmpretrain.registry import MODELS
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        return MODELS.build(cfg.model)


PAIRS = [(p.replace('coretune', 'ce'), p) for p in CONFIGS
         if 'coretune' in osp.basename(p) and 'template' not in p]


def without_head(cfg: Config) -> dict:
    """The config without its head and the Core-tuning fragment's value."""
    data = cfg.to_dict()
    for key in ('head', 'decode_head'):
        data['model'].pop(key, None)
    for key in ('coretune_cls_head', 'coretune_decode_head',
                'coretune_contrast_loss'):
        data.pop(key, None)
    return data


def test_every_coretune_config_has_its_ce_config():
    assert len(PAIRS) >= 9
    assert all(osp.isfile(ce) for ce, _ in PAIRS)


@pytest.mark.parametrize(
    'ce, core', PAIRS, ids=[osp.relpath(c, REPO) for _, c in PAIRS])
def test_pairs_differ_only_in_the_head(ce, core):
    """A Core-tuning config is its CE config plus the Core-tuning head of
    ``configs/_base_/coretune/``."""
    ce, core = Config.fromfile(ce), Config.fromfile(core)
    assert without_head(ce) == without_head(core)
    head = core.model.get('head') or core.model.decode_head
    assert head.type.startswith('CoreTune')
    ce_head = ce.model.get('head') or ce.model.decode_head
    assert not ce_head.type.startswith('CoreTune')


@pytest.mark.parametrize('dataset', ['cifar10', 'cifar100', 'folder'])
def test_reference_recipe(dataset):
    stem = 'resnet50_mocov2-pre_coretune_1xb64-accum4-coslr-100e_' + dataset
    core = Config.fromfile(osp.join(REPO, 'configs', stem + '.py'))
    assert core.model.head.type == 'CoreTuneClsHead'
    assert core.model.backbone.init_cfg.prefix == 'module.encoder_q.'
    assert core.optim_wrapper.accumulative_counts == 4
    assert core.optim_wrapper.optimizer.nesterov


def test_fashion_mnist_reads_local_files():
    core = Config.fromfile(
        osp.join(REPO, 'configs', 'fashion_mnist',
                 'resnet18_coretune_fashion-mnist.py'))
    # no download at run time; validation from training, test from t10k
    for loader, test_mode in (('train', False), ('val', False), ('test',
                                                                 True)):
        dataset = core[f'{loader}_dataloader'].dataset
        assert dataset.type == 'FashionMNIST' and not dataset.download
        assert dataset.test_mode == test_mode


def test_metafiles_list_every_shipped_config():
    """Each model folder has its README and metafile.yml (imported by model-
    index.yml, which the package exposes in .mim/ as the host libraries do);
    together they name each config once."""
    from mmengine.fileio import load
    index = load(osp.join(REPO, 'model-index.yml'))
    folders = sorted({osp.dirname(p) for p in CONFIGS})
    assert sorted(osp.join(REPO, meta) for meta in index['Import']) == [
        osp.join(folder, 'metafile.yml') for folder in folders
    ]
    listed = []
    for meta in index['Import']:
        models = load(osp.join(REPO, meta))['Models']
        listed += [m['Config'] for m in models]
        for model in models:
            assert model['Name'] == osp.splitext(
                osp.basename(model['Config']))[0]
            assert osp.dirname(model['Config']) == osp.dirname(meta)
    assert sorted(listed) == sorted(osp.relpath(p, REPO) for p in CONFIGS)
    assert all(osp.isfile(osp.join(f, 'README.md')) for f in folders)
    mim = osp.join(REPO, 'coretune_mm', '.mim')
    for name in ('configs', 'tools', 'model-index.yml'):
        assert osp.realpath(osp.join(mim, name)) == osp.realpath(
            osp.join(REPO, name))


@pytest.mark.parametrize(
    'path', ENTRY_POINTS, ids=[osp.basename(p) for p in ENTRY_POINTS])
def test_top_level_names_are_entry_points(path):
    """A top-level config only inherits one config of a model folder under a
    shorter name, and builds exactly what that config builds."""
    with open(path) as f:
        (statement, ) = ast.parse(f.read()).body
    assert [t.id for t in statement.targets] == ['_base_']
    target = ast.literal_eval(statement.value)
    assert isinstance(target, str) and target.startswith('./')
    target = osp.normpath(osp.join(REPO, 'configs', target))
    assert target in CONFIGS
    cfg = Config.fromfile(path)
    assert cfg.to_dict() == Config.fromfile(target).to_dict()


def test_the_promised_entry_points_exist():
    names = {osp.basename(p) for p in ENTRY_POINTS}
    assert {'deeplabv3_r50_ce_voc.py', 'deeplabv3_r50_coretune_voc.py'} <= \
        names


def training_losses(model, scope: str) -> dict:
    """One training forward on a random batch with hard labels, as the dataset
    gives them (2 images; 32 px, 64 px for segmentation)."""
    import torch
    torch.manual_seed(0)
    if scope == 'mmseg':
        from mmengine.structures import PixelData
        from mmseg.structures import SegDataSample
        size, classes = 64, model.decode_head.num_classes
        samples = [
            SegDataSample(
                gt_sem_seg=PixelData(
                    data=torch.randint(classes, (1, size, size))))
            for _ in range(2)
        ]
    else:
        from mmpretrain.structures import DataSample
        size, classes = 32, model.head.num_classes
        samples = [DataSample().set_gt_label(i % classes) for i in range(2)]
    return model(torch.randn(2, 3, size, size), samples, mode='loss')


# the MoCo-v2 pre-training configs (their steps run in the reproduction
# tools' tests) are not fine-tuning configs
def is_finetune(path: str) -> bool:
    return not osp.basename(path).startswith('mocov2_')


@pytest.mark.parametrize(
    'path', CONFIGS, ids=[osp.relpath(p, REPO) for p in CONFIGS])
def test_config_builds(path):
    """Each config's model builds from the registry: a Core-tuning config has
    Core-tuning in its head, a CE config the stock head (or ours with Core-
    tuning off).

    A fine-tuning model also computes finite losses from the hard labels its
    dataset gives (a CE baseline too, not only its pair).
    """
    import math
    cfg = Config.fromfile(path)
    assert cfg.custom_imports.imports == ['coretune_mm']
    model = build_model(cfg)
    name = osp.basename(path)
    head = getattr(model, 'head', None) or model.decode_head
    assert (getattr(head, 'core_tuning', None) is not None) == \
        ('coretune' in name)
    if not is_finetune(path):
        return
    assert cfg.model.type in ('ImageClassifier', 'EncoderDecoder'), path
    losses = training_losses(model.train(), cfg.default_scope)
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert len(losses) and math.isfinite(float(total.detach())), losses
