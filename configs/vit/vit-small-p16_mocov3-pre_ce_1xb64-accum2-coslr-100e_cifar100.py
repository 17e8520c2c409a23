# CE-tuning of a ViT-S/16 from MoCo v3 on CIFAR-100: the CIFAR-10 recipe
# (./vit-small-p16_mocov3-pre_ce_*_cifar10.py) on CIFAR-100's data, with the
# same dataset changes as ../_base_/datasets/cifar100_bs64_224.py.
_base_ = './vit-small-p16_mocov3-pre_ce_1xb64-accum2-coslr-100e_cifar10.py'

dataset_type = 'CIFAR100'
data_preprocessor = dict(num_classes=100)
train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root='data/cifar100'))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root='data/cifar100'))
test_dataloader = val_dataloader

model = dict(head=dict(num_classes=100))
