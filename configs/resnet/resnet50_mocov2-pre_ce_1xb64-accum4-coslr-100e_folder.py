# Template for a new image-folder dataset: inherit it and override data_root
# (train/val/test dataloaders) and num_classes (head, data_preprocessor).
_base_ = [
    '../_base_/models/resnet50_mocov2-pre.py',
    '../_base_/datasets/folder_bs64_224.py',
    '../_base_/schedules/sgd-nesterov_coslr-100e_accum4.py',
    '../_base_/default_runtime.py',
]

model = dict(head=dict(num_classes=2))
