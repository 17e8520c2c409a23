# MMPretrain's ViT fine-tuning recipe: AdamW, layer-wise lr decay 0.75
# (LearningRateDecayOptimWrapperConstructor), no weight decay on norms,
# biases, the class token and the position embedding, gradient clipping,
# 5 warm-up epochs then cosine, 100 epochs; a total batch of 128 (64 x 2
# accumulation, lr 5e-4 x 128 / 256).
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
auto_scale_lr = dict(base_batch_size=128)
