# CE-tuning of a ViT-S/16 from MoCo v3 on CIFAR-10 (224 px), the pair of
# ./vit-small-p16_mocov3-pre_coretune_*.py: MMPretrain's ViT fine-tuning recipe
# (AdamW, layer-wise lr decay with LearningRateDecayOptimWrapper- Constructor,
# no weight decay on norms, biases, cls token and position embedding, 5 warm-up
# epochs, cosine), at a total batch of 128 (64 x 2 accumulation, lr 5e-4 x 128
# / 256), without Mixup / CutMix so that the CE baseline and Core-tuning differ
# only in the head. The checkpoint: MoCo v3's ViT-S/16 in MMPretrain's key
# layout (tools/model_converters/convert_checkpoint.py turns the official
# release into it).
_base_ = [
    '../_base_/datasets/cifar10_bs64_224.py',
    'mmpretrain::_base_/default_runtime.py',
    '../_base_/coretune_runtime.py',
]

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
        num_classes=10,
        in_channels=384,
        # hard labels from the dataset; the Core-tuning head's fragment
        # switches to soft targets (configs/_base_/coretune/cls_head.py)
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, ),
        init_cfg=[
            dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
            dict(type='Constant', layer='LayerNorm', val=1., bias=0.),
        ]))

optim_wrapper = dict(
    optimizer=dict(
        type='AdamW', lr=2.5e-4, weight_decay=0.05, betas=(0.9, 0.999)),
    constructor='LearningRateDecayOptimWrapperConstructor',
    accumulative_counts=2,
    clip_grad=dict(max_norm=5.0),
    paramwise_cfg=dict(
        layer_decay_rate=0.75,
        custom_keys={
            '.ln': dict(decay_mult=0.0),
            '.bias': dict(decay_mult=0.0),
            '.cls_token': dict(decay_mult=0.0),
            '.pos_embed': dict(decay_mult=0.0)
        }))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-4,
        by_epoch=True,
        begin=0,
        end=5,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=95,
        eta_min=1e-6,
        by_epoch=True,
        begin=5,
        end=100,
        convert_to_iter_based=True)
]
train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=10)
val_cfg = dict()
test_cfg = dict()
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=2))
auto_scale_lr = dict(base_batch_size=128)
