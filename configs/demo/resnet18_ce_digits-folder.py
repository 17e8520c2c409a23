# The classification demo's CE baseline: the folder template on
# scikit-learn's digits (written by tools/demo.py), shrunk to ResNet-18 from
# scratch at 32 px so it trains in a few minutes on 2 CPU cores.
_base_ = '../resnet/resnet50_mocov2-pre_ce_1xb64-accum4-coslr-100e_folder.py'

data_root = 'data/demo/digits'

model = dict(
    backbone=dict(depth=18, init_cfg=None),
    head=dict(num_classes=10, in_channels=512))
data_preprocessor = dict(num_classes=10)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.6, 1.0)),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=2,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(lr=0.05), accumulative_counts=1)
max_epochs = 4
param_scheduler = dict(T_max=max_epochs)
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(logger=dict(interval=10))
# a fixed seed (MMEngine draws a new one for each run without it)
randomness = dict(seed=0)

custom_hooks = [
    dict(type='DatasetCheckHook'),
    dict(type='PretrainedCheckHook'),
    dict(type='FeatureSpaceHook', plot=True),
    dict(type='RNGStateHook'),
]
