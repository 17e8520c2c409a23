# Segmentation evidence on held-out scenes, CE baseline: DeepLab-V3 over the
# backbone of the Fashion-MNIST MoCo-v2 pre-training (ResNet-18, CIFAR stem, 16
# base channels) on 64 x 64 grey scenes of Fashion-MNIST items (class c + 1,
# background 0). tools/experiments/reproduce_fashion_mnist.py writes the
# scenes: training scenes from the training images, validation and test scenes
# from two disjoint halves of the 10,000 test images, so no test scene reuses
# an image a training scene (or the pre-training) saw. It points the backbone's
# init_cfg at the checkpoint.
# The design is fixed: the segmentation demo's VOC-format set-up (21-class
# heads; the scenes use classes 0-10) with the small ASPP head, 800
# iterations at batch 8 and lr 0.05.
_base_ = [
    '../demo/deeplabv3_r50_ce_digits-voc.py',
    '../_base_/models/resnet18-cifar-w16.py'
]

data_root = 'data/fashion_mnist_scenes/VOC2012'
pretrained = 'work_dirs/fashion_mnist/mocov2/epoch_45.pth'
width = _base_.resnet18_cifar_w16.base_channels
max_iters = 800

model = dict(
    backbone=dict(
        _base_.resnet18_cifar_w16,
        _delete_=True,
        # built by MMPretrain from this MMSegmentation config
        type='mmpretrain.ResNet_CIFAR',
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    # 8x8 feature maps: ASPP's VOC rates (12, 24, 36) would only see the
    # centre tap
    decode_head=dict(
        in_channels=8 * width, dilations=(1, 2, 4, 6), channels=128),
    auxiliary_head=dict(in_channels=4 * width, channels=64))

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
