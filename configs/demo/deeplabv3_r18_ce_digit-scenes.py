# The segmentation part of `make demo` (tools/demo.py), CE baseline: the
# segmentation demo config with a ResNet-18 that starts from the backbone
# the classification part of the demo has just trained on the same digits
# (tools/demo.py writes it to the path below; run that part first), and the
# data set's own classes: background and the ten digits.
_base_ = './deeplabv3_r50_ce_digits-voc.py'

backbone_checkpoint = 'work_dirs/demo/cls/backbone.pth'
# 48 x 48 scenes of 32 px digits at their own size, batches of 8, lr 0.2:
# on 2 CPU cores this learns every digit in about 100 seconds (at 64 px and
# lr 0.05 most digits stayed at IoU 0 in the same time); configs/demo/
# README.md has the figures
crop_size = (48, 48)
max_iters = 560
metainfo = dict(
    classes=('background', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9'),
    palette=[[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128],
             [128, 0, 128], [0, 128, 128], [128, 128, 128], [64, 0, 0],
             [192, 0, 0], [64, 128, 0]])

model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        depth=18,
        init_cfg=dict(
            _delete_=True,
            type='Pretrained',
            checkpoint=backbone_checkpoint,
            prefix='backbone.')),
    decode_head=dict(
        in_channels=512,
        channels=128,
        # 6x6 feature maps: ASPP's VOC rates would only see the centre tap
        dilations=(1, 2, 4, 6),
        num_classes=11),
    auxiliary_head=dict(in_channels=256, channels=64, num_classes=11))

# VOC's layout with the data set's own classes: MMSegmentation's generic
# dataset (PascalVOCDataset only renames VOC's classes)
dataset = dict(
    _delete_=True,
    type='BaseSegDataset',
    data_root={{_base_.data_root}},
    data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
    img_suffix='.jpg',
    seg_map_suffix='.png',
    metainfo=metainfo)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=(96, 48),
        ratio_range=(0.75, 1.25),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.95),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size=crop_size),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(96, 48), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=8,
    dataset=dict(
        dataset,
        ann_file='ImageSets/Segmentation/train.txt',
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        dataset,
        ann_file='ImageSets/Segmentation/val.txt',
        pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(lr=0.2))
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=1e-4,
        power=0.9,
        begin=0,
        end=max_iters,
        by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
