# CIFAR-10 upsampled to 224 px as in the Core-tuning reference, normalised
# like the ImageNet pre-training of the contrastive checkpoints.
_base_ = 'mmpretrain::_base_/datasets/cifar10_bs16.py'

data_preprocessor = dict(
    mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375])

train_pipeline = [
    dict(type='RandomResizedCrop', scale=224, backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='Resize', scale=(256, 256), backend='pillow'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=64, num_workers=4, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64, num_workers=4, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
