# ViT-S/16 initialised from MoCo v3, in MMPretrain's key layout
# (tools/model_converters/convert_checkpoint.py turns the official release
# into it), with MMPretrain's ViT classification head on the class token.
pretrained = 'checkpoints/mocov3_vit-small-p16_mmpretrain.pth'

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='VisionTransformer',
        # MoCo v3's ViT-S/16 (12 heads, unlike DeiT-S's 6)
        arch=dict(
            embed_dims=384,
            num_layers=12,
            num_heads=12,
            feedforward_channels=1536),
        img_size=224,
        patch_size=16,
        drop_path_rate=0.1,
        out_type='cls_token',
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=None,
    head=dict(
        type='VisionTransformerClsHead',
        in_channels=384,
        # hard labels from the dataset; the Core-tuning head's fragment
        # switches to soft targets (configs/_base_/coretune/cls_head.py)
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, ),
        init_cfg=[
            dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
            dict(type='Constant', layer='LayerNorm', val=1., bias=0.),
        ]))
