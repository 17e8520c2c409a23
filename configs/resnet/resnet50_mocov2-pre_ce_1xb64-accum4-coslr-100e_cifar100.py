# The top-level config of the same name, in a folder so that configs outside
# this repository can inherit it through MMEngine's package prefix, which
# takes a folder: `_base_ = 'coretune_mm::resnet/<this file>'`.
_base_ = '../resnet50_mocov2-pre_ce_1xb64-accum4-coslr-100e_cifar100.py'
