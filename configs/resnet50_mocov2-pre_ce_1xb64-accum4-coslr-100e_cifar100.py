# The short name of a config in its model folder, kept as an entry
# point: resnet/resnet50_mocov2-pre_ce_1xb64-accum4-coslr-100e_cifar100.py
_base_ = './resnet/resnet50_mocov2-pre_ce_1xb64-accum4-coslr-100e_cifar100.py'
