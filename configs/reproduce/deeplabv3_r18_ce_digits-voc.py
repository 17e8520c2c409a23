# Segmentation part of the small reproduction
# (tools/experiments/reproduce_digits.py), CE baseline: the segmentation
# demo's config (ResNet-18, the small ASPP head, the digits' own classes, 48 px
# scenes) on a larger generated digit-scene set (see SEG_SCENES there),
# trained longer. The script points the backbone's
# init_cfg at the MoCo-v2 digits checkpoint
# (configs/reproduce/mocov2_resnet18_digits.py).
_base_ = '../demo/deeplabv3_r18_ce_digit-scenes.py'

data_root = 'data/repro/digit_scenes/VOC2012'
max_iters = 800

train_dataloader = dict(
    batch_size=8, num_workers=2, dataset=dict(data_root=data_root))
val_dataloader = dict(
    batch_size=8, num_workers=2, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader

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
