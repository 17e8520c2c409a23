"""Small configs that several tests train or strip: the demo's segmenter with
another decode head, and the demo's classifier with a small ViT."""
import os.path as osp

from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEMO = osp.join(REPO, 'configs', 'demo')

# the other decode heads over an undilated ResNet-18's four stages
LEVELS = dict(in_channels=[64, 128, 256, 512], in_index=[0, 1, 2, 3])
LAST = dict(in_channels=512, in_index=3)
OTHER_DECODE_HEADS = {
    'UPerHead': dict(LEVELS, pool_scales=(1, 2)),
    'FCNHead': dict(LAST, num_convs=1),
    'PSPHead': dict(LAST, pool_scales=(1, 2)),
    'SegformerHead': LEVELS,
}


def segmenter_with(stock_head: str) -> Config:
    """The demo's Core-tuning segmenter on an undilated ResNet-18 with the
    Core-tuning variant of ``stock_head`` (a key of :data:`OTHER_DECODE_HEADS`)
    as its decode head."""
    cfg = Config.fromfile(
        osp.join(DEMO, 'deeplabv3_r50_coretune_digits-voc.py'))
    cfg.model.backbone.update(
        depth=18, dilations=(1, 1, 1, 1), strides=(1, 2, 2, 2))
    cfg.model.decode_head = dict(
        type=f'CoreTune{stock_head}',
        channels=16,
        num_classes=cfg.model.decode_head.num_classes,
        norm_cfg=dict(type='BN', requires_grad=True),
        contrast_weight=0.1,
        projector=dict(out_channels=16),
        pixel_sampler=dict(max_samples=64),
        **OTHER_DECODE_HEADS[stock_head])
    cfg.model.auxiliary_head.in_channels = 256
    return cfg


def vit_classifier() -> Config:
    """The demo's Core-tuning classifier with a two-block ViT at 32 px and
    ``CoreTuneVisionTransformerClsHead`` (with its hidden layer)."""
    cfg = Config.fromfile(osp.join(DEMO, 'resnet18_coretune_digits-folder.py'))
    cfg.model.backbone = dict(
        type='VisionTransformer',
        arch=dict(
            embed_dims=16, num_layers=2, num_heads=2, feedforward_channels=32),
        img_size=32,
        patch_size=8,
        out_type='cls_token')
    cfg.model.neck = None
    cfg.model.head = dict(
        cfg.model.head.to_dict(),
        type='CoreTuneVisionTransformerClsHead',
        in_channels=16,
        hidden_dim=24,
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02))
    return cfg
