"""strip_core_tuning: weights and config of the stock model; inferencers
given the stripped file predict what the Core-tuning model predicts."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from small_configs import OTHER_DECODE_HEADS, segmenter_with, vit_classifier

from coretune_mm.checkpoint import plain_config, strip_core_tuning

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(REPO, 'configs', 'demo')


def small_config(name: str, tmp_path, **options) -> str:
    cfg = Config.fromfile(osp.join(CONFIGS, name))
    cfg.merge_from_dict(options)
    path = str(tmp_path / name)
    cfg.dump(path)
    return path


def checkpoint_of(config: str, scope: str, tmp_path) -> str:
    """A checkpoint as the Runner writes it: weights and meta['cfg']."""
    cfg = Config.fromfile(config)
    registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    with DefaultScope.overwrite_default_scope(scope):
        model = registry.build(cfg.model)
    model.init_weights()
    path = str(tmp_path / 'coretune.pth')
    torch.save(
        dict(
            state_dict=model.state_dict(),
            meta=dict(cfg=cfg.pretty_text, epoch=1)), path)
    return path


def stripped_file(src: str, tmp_path) -> str:
    dst = str(tmp_path / 'stripped.pth')
    torch.save(strip_core_tuning(torch.load(src)), dst)
    return dst


@pytest.mark.parametrize('inherited', [False, True])
def test_plain_config_has_no_plugin_left(inherited, tmp_path):
    path = osp.join(REPO, 'configs', 'deeplabv3_r50_coretune_voc.py')
    if inherited:  # a user's config: `_scope_='coretune_mm'` on its dicts
        user = tmp_path / 'user.py'
        user.write_text(
            "_base_ = 'coretune_mm::deeplabv3/deeplabv3_r50-d8_mocov2-pre_"
            "coretune_4xb4-20k_voc12aug-512x512.py'")
        assert "'coretune_mm'" in Config.fromfile(str(user)).pretty_text
        path = str(user)
    cfg = plain_config(Config.fromfile(path))
    assert cfg.model.decode_head.type == 'ASPPHead'
    assert 'contrast_weight' not in cfg.model.decode_head
    assert 'custom_imports' not in cfg
    assert cfg.custom_hooks == []
    assert cfg.test_evaluator.type == 'IoUMetric'
    plugin = ('CoreTune', 'coretune_mm', 'coretune_cls_head',
              'coretune_decode_head', 'coretune_contrast_loss',
              'FocalSupConLoss', 'FWIoUMetric', 'RNGStateHook')
    for name in plugin:
        assert name not in cfg.pretty_text
    cls = plain_config(
        Config.fromfile(
            osp.join(CONFIGS, 'resnet18_coretune_digits-folder.py')))
    for name in plugin:
        assert name not in cls.pretty_text
    assert cls.model.head.type == 'LinearClsHead'
    assert set(cls.model.head) <= {
        'type', 'num_classes', 'in_channels', 'loss', 'topk', 'init_cfg',
        'cal_acc'
    }


def test_image_classification_inferencer_on_stripped_weights(tmp_path):
    from mmpretrain import ImageClassificationInferencer
    core_cfg = small_config('resnet18_coretune_digits-folder.py', tmp_path)
    ce_cfg = small_config('resnet18_ce_digits-folder.py', tmp_path)
    original = checkpoint_of(core_cfg, 'mmpretrain', tmp_path)
    stripped = stripped_file(original, tmp_path)
    assert not any('core_tuning' in k
                   for k in torch.load(stripped)['state_dict'])
    images = [
        np.random.RandomState(i).randint(0, 255, (32, 32, 3), dtype=np.uint8)
        for i in range(3)
    ]
    ours = ImageClassificationInferencer(core_cfg, pretrained=original)
    stock = ImageClassificationInferencer(ce_cfg, pretrained=stripped)
    for a, b in zip(ours(images), stock(images)):
        assert np.allclose(a['pred_scores'], b['pred_scores'], atol=1e-6)


def test_segmentation_inferencer_from_the_stripped_file_alone(tmp_path):
    from mmseg.apis import MMSegInferencer
    options = {
        'model.backbone.depth': 18,
        'model.decode_head.in_channels': 512,
        'model.auxiliary_head.in_channels': 256
    }
    core_cfg = small_config('deeplabv3_r50_coretune_digits-voc.py', tmp_path,
                            **options)
    original = checkpoint_of(core_cfg, 'mmseg', tmp_path)
    stripped = stripped_file(original, tmp_path)
    meta_cfg = Config.fromstring(torch.load(stripped)['meta']['cfg'], '.py')
    assert meta_cfg.model.decode_head.type == 'ASPPHead'
    image = np.random.RandomState(0).randint(
        0, 255, (48, 64, 3), dtype=np.uint8)
    ours = MMSegInferencer(core_cfg, weights=original, device='cpu')
    # no config: the inferencer reads the stripped file's own
    stock = MMSegInferencer(model=None, weights=stripped, device='cpu')
    assert type(stock.model.decode_head).__name__ == 'ASPPHead'
    a = ours(image, return_datasamples=True)
    b = stock(image, return_datasamples=True)
    assert torch.equal(a.pred_sem_seg.data, b.pred_sem_seg.data)
    assert torch.allclose(a.seg_logits.data, b.seg_logits.data, atol=1e-5)


def test_vit_classifier_stripped_predicts_like_the_core_tuning_one(tmp_path):
    """A ViT with CoreTuneVisionTransformerClsHead: MMPretrain's inferencer
    on the stripped file alone (its own plain config) predicts the same."""
    from mmpretrain import ImageClassificationInferencer
    cfg = vit_classifier()
    core_cfg = str(tmp_path / 'vit_coretune.py')
    cfg.dump(core_cfg)
    original = checkpoint_of(core_cfg, 'mmpretrain', tmp_path)
    stripped = stripped_file(original, tmp_path)
    meta_cfg = Config.fromstring(torch.load(stripped)['meta']['cfg'], '.py')
    assert meta_cfg.model.head.type == 'VisionTransformerClsHead'
    plain_cfg = str(tmp_path / 'vit_plain.py')
    meta_cfg.dump(plain_cfg)
    images = [
        np.random.RandomState(i).randint(0, 255, (32, 32, 3), dtype=np.uint8)
        for i in range(3)
    ]
    ours = ImageClassificationInferencer(core_cfg, pretrained=original)
    stock = ImageClassificationInferencer(plain_cfg, pretrained=stripped)
    assert type(stock.model.head).__name__ == 'VisionTransformerClsHead'
    for a, b in zip(ours(images), stock(images)):
        assert np.allclose(a['pred_scores'], b['pred_scores'], atol=1e-6)


@pytest.mark.parametrize('stock_head', list(OTHER_DECODE_HEADS))
def test_decode_head_stripped_file_alone_segments_like_the_core_tuning_one(
        stock_head, tmp_path):
    """Each other decode head's Core-tuning variant strips to the stock head;
    MMSegmentation's inferencer given only the stripped file predicts the
    same."""
    from mmseg.apis import MMSegInferencer
    cfg = segmenter_with(stock_head)
    core_cfg = str(tmp_path / f'{stock_head}_coretune.py')
    cfg.dump(core_cfg)
    original = checkpoint_of(core_cfg, 'mmseg', tmp_path)
    stripped = stripped_file(original, tmp_path)
    image = np.random.RandomState(0).randint(
        0, 255, (48, 64, 3), dtype=np.uint8)
    ours = MMSegInferencer(core_cfg, weights=original, device='cpu')
    stock = MMSegInferencer(model=None, weights=stripped, device='cpu')
    assert type(stock.model.decode_head).__name__ == stock_head
    a = ours(image, return_datasamples=True)
    b = stock(image, return_datasamples=True)
    assert torch.equal(a.pred_sem_seg.data, b.pred_sem_seg.data)
    assert torch.allclose(a.seg_logits.data, b.seg_logits.data, atol=1e-5)
