# MoCo-v2 (MMPretrain's implementation) pre-training on the 60,000
# Fashion-MNIST training images, labels unused, sized for a few CPU cores. What
# differs from MMPretrain's ImageNet recipe, and why: - backbone: ResNet-18
# with the CIFAR stem (3x3 stride 1, no max-pool), so that 28 px images keep a
# 4 x 4 final map (the ImageNet stem leaves 1 x 1), at a quarter of the width
# (16 base channels): on 2 CPU cores it runs 3x faster than 32 channels (490 vs
# 166 images/s), so 45 epochs fit in about 100 minutes; - Shuffle-BN in one
# process: SplitBatchNorm2d normalises 8 sub-batches of 32 separately (the
# "8xb32" in the name) and MoCo's in-batch shuffle gives the key encoder other
# sub-batches than the query encoder; - key encoder EMA 0.99 (momentum=0.01):
# 0.999 leaves much of the key encoder at its random initialisation after a few
# thousand steps; - queue of 8192 keys (14 % of the data: an image's previous
# key has left it before the image comes back), temperature 0.1, lr 0.06 at
# batch 256 with a one-epoch linear warm-up and weight decay 5e-4 (the CIFAR
# recipe of MoCo's authors); - views built in batches by
# MultiViewAugmentPreprocessor (crop area 0.2-1, flip, brightness / contrast
# 0.4), not per image in workers; - the random states saved with each epoch's
# checkpoint (RNGStateHook), so a run resumed after an interruption ends with
# the same weights as one that was not.
# tools/experiments/reproduce_fashion_mnist.py runs it (`pretrain` step) and
# caches the checkpoints.
_base_ = [
    'mmpretrain::mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py',
    '../_base_/models/resnet18-cifar-w16.py'
]
custom_imports = dict(imports=['coretune_mm'], allow_failed_imports=False)
custom_hooks = [dict(type='RNGStateHook')]

data_root = 'data/fashion_mnist'
width = _base_.resnet18_cifar_w16.base_channels
num_splits = 8
batch_size = 256
max_epochs = 45

data_preprocessor = dict(
    _delete_=True,
    type='MultiViewAugmentPreprocessor',
    num_views=2,
    out_size=(28, 28),
    crop_scale=(0.2, 1.0),
    flip_prob=0.5,
    brightness=0.4,
    contrast=0.4,
    jitter_prob=0.8,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375])
model = dict(
    queue_len=8192,
    momentum=0.01,
    backbone=dict(
        _base_.resnet18_cifar_w16,
        _delete_=True,
        norm_cfg=dict(type='SplitBatchNorm2d', num_splits=num_splits),
        zero_init_residual=False),
    neck=dict(in_channels=8 * width, hid_channels=8 * width, out_channels=128),
    head=dict(temperature=0.1))

train_dataloader = dict(
    _delete_=True,
    batch_size=batch_size,
    num_workers=1,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='FashionMNIST',
        data_root=data_root,
        download=False,
        test_mode=False,
        pipeline=[dict(type='PackInputs')]))

optim_wrapper = dict(optimizer=dict(lr=0.06, weight_decay=5e-4, momentum=0.9))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        begin=0,
        end=1,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - 1,
        by_epoch=True,
        begin=1,
        end=max_epochs)
]
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(
    logger=dict(interval=50), checkpoint=dict(interval=1, max_keep_ckpts=2))
auto_scale_lr = dict(base_batch_size=batch_size)
