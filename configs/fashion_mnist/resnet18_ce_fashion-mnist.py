# CE-tuning on Fashion-MNIST (70,000 real 28 x 28 images, 10 classes): the
# CIFAR-10 CE recipe with the backbone of the MoCo-v2 pre-training
# (configs/fashion_mnist/mocov2_resnet18-cifar-w16_8xb32-shufflebn_*.py:
# ResNet-18, CIFAR stem, 16 base channels) at the images' own 28 px.
# tools/experiments/reproduce_fashion_mnist.py writes the data (from Debian's
# dataset-fashion-mnist), pre-trains the checkpoint, picks the labelled
# subset and the validation split (the datasets' `indices`) and points
# init_cfg at the checkpoint. The test split is the 10,000 test images.
_base_ = [
    '../resnet/resnet50_mocov2-pre_ce_1xb64-accum4-coslr-100e_cifar10.py',
    '../_base_/models/resnet18-cifar-w16.py'
]

data_root = 'data/fashion_mnist'
pretrained = 'work_dirs/fashion_mnist/mocov2/epoch_45.pth'
width = _base_.resnet18_cifar_w16.base_channels

model = dict(
    backbone=dict(
        _base_.resnet18_cifar_w16,
        _delete_=True,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    head=dict(num_classes=10, in_channels=8 * width))

train_pipeline = [
    dict(type='GrayToRGB'),
    dict(
        type='RandomResizedCrop',
        scale=28,
        crop_ratio_range=(0.6, 1.0),
        backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='GrayToRGB'),
    dict(type='PackInputs'),
]
# test_mode=False reads the 60,000 training images, True the 10,000 test
# images (MMPretrain's MNIST convention); validation is carved from training.
fashion_mnist = dict(
    _delete_=True, type='FashionMNIST', data_root=data_root, download=False)
train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    dataset=dict(**fashion_mnist, test_mode=False, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=256,
    num_workers=2,
    dataset=dict(**fashion_mnist, test_mode=False, pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=256,
    num_workers=2,
    dataset=dict(**fashion_mnist, test_mode=True, pipeline=test_pipeline))
test_evaluator = dict(type='Accuracy', topk=(1, ))

optim_wrapper = dict(optimizer=dict(lr=0.05), accumulative_counts=1)
max_epochs = 40
param_scheduler = dict(T_max=max_epochs)
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_epochs, save_best=None))
