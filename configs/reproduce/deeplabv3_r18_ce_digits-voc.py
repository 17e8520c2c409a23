# Segmentation part of the small reproduction
# (tools/experiments/reproduce_digits.py), CE baseline: the segmentation demo's
# with the ResNet-18 of the MoCo-v2 digits checkpoint
# (configs/reproduce/mocov2_resnet18_digits.py) on a larger generated
# digit-scene set, with larger digits and thicker masks than the demo's (see
# SEG_SCENES there). The script points the backbone's init_cfg at the
# checkpoint.
_base_ = '../demo/deeplabv3_r50_ce_digits-voc.py'

data_root = 'data/repro/digit_scenes/VOC2012'
max_iters = 800

model = dict(
    backbone=dict(depth=18),
    decode_head=dict(
        in_channels=512,
        # 8x8 feature maps: ASPP's VOC rates (12, 24, 36) would only see
        # the centre tap
        dilations=(1, 2, 4, 6),
        channels=128),
    auxiliary_head=dict(in_channels=256, channels=64))

train_dataloader = dict(
    batch_size=8, num_workers=2, dataset=dict(data_root=data_root))
val_dataloader = dict(
    batch_size=8, num_workers=2, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader

# From a contrastive checkpoint this small head needs a larger rate than the
# VOC schedule's 0.01 to leave the all-background solution within the budget.
optim_wrapper = dict(optimizer=dict(lr=0.05))
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=1e-4,
        power=0.9,
        begin=0,
        end=max_iters,
        by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters // 2)
default_hooks = dict(
    logger=dict(interval=50), checkpoint=dict(interval=max_iters))
