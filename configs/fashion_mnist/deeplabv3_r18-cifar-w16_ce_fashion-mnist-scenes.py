# Segmentation evidence on held-out scenes, CE baseline: DeepLab-V3 over the
# backbone of the Fashion-MNIST MoCo-v2 pre-training (ResNet-18, CIFAR stem, 16
# base channels) on 64 x 64 grey scenes of Fashion-MNIST items (class c + 1,
# background 0). tools/experiments/reproduce_fashion_mnist.py writes the
# scenes: training scenes from the training images, validation and test scenes
# from two disjoint halves of the 10,000 test images, so no test scene reuses
# an image a training scene (or the pre-training) saw. It points the backbone's
# init_cfg at the checkpoint.
_base_ = [
    '../reproduce/deeplabv3_r18_ce_digits-voc.py',
    '../_base_/models/resnet18-cifar-w16.py'
]

data_root = 'data/fashion_mnist_scenes/VOC2012'
pretrained = 'work_dirs/fashion_mnist/mocov2/epoch_45.pth'
width = _base_.resnet18_cifar_w16.base_channels

model = dict(
    backbone=dict(
        _base_.resnet18_cifar_w16,
        _delete_=True,
        # built by MMPretrain from this MMSegmentation config
        type='mmpretrain.ResNet_CIFAR',
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    decode_head=dict(in_channels=8 * width),
    auxiliary_head=dict(in_channels=4 * width))

train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
