# MoCo-v2 (MMPretrain's implementation) pre-training of a ResNet-18 at 32 px
# on the Fashion-MNIST training images, labels unused: the digits recipe on
# another dataset. tools/reproduce_fashion_mnist.py may restrict it to a
# subset (train_dataloader.dataset.indices) to fit a CPU budget.
_base_ = '../reproduce/mocov2_resnet18_digits.py'

data_root = 'data/fashion_mnist'
max_epochs = 10

view_pipeline = [
    dict(
        type='RandomResizedCrop',
        scale=32,
        crop_ratio_range=(0.3, 1.),
        backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(
        type='RandomApply',
        transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4)],
        prob=0.8),
]
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='FashionMNIST',
        data_root=data_root,
        download=False,
        test_mode=False,
        pipeline=[
            dict(type='GrayToRGB'),
            dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
            dict(type='PackInputs')
        ]))

param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        by_epoch=True,
        begin=0,
        end=max_epochs)
]
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(checkpoint=dict(interval=max_epochs))
