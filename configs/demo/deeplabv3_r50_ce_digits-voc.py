# The segmentation demo's CE baseline: configs/deeplabv3_r50_ce_voc.py on a
# generated VOC-format set of digit scenes (tools/demo.py writes it), with
# only the data root, crop, iterations and batch shrunk to run in minutes on
# 2 CPU cores. No pre-trained weights are downloaded: the backbone starts
# from scratch.
_base_ = ('../deeplabv3/'
          'deeplabv3_r50-d8_mocov2-pre_ce_4xb4-20k_voc12aug-512x512.py')

data_root = 'data/demo/digits_voc/VOC2012'
crop_size = (64, 64)
max_iters = 40

model = dict(
    data_preprocessor=dict(size=crop_size), backbone=dict(init_cfg=None))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=(128, 64),
        ratio_range=(0.75, 1.25),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.95),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size=crop_size),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 64), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=1,
    # generated scenes: VOC's layout without SBD
    dataset=dict(data_root=data_root, sbd=False, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=1, dataset=dict(data_root=data_root, pipeline=test_pipeline))
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
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=max_iters))

custom_hooks = [
    dict(type='DatasetCheckHook'),
    dict(type='PretrainedCheckHook'),
    dict(type='FeatureSpaceHook', plot=True),
    dict(type='RNGStateHook'),
]
# a fixed seed (MMEngine draws a new one for each run without it)
randomness = dict(seed=0)
