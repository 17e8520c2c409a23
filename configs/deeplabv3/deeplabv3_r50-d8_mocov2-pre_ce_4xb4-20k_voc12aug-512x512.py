# CE baseline: DeepLab-V3, ResNet-50 (torchvision-compatible stem) from a
# MoCo-v2 checkpoint, output stride 8, PASCAL VOC 2012 (+ SBD when present),
# 512x512 crops, 20k iterations, 4 GPUs x 4 images = 16 per batch.
#   python tools/train.py configs/deeplabv3_r50_ce_voc.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=/path/to/moco.pth.tar
_base_ = [
    'mmseg::_base_/models/deeplabv3_r50-d8.py',
    'mmseg::_base_/datasets/pascal_voc12_aug.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_20k.py',
    '../_base_/coretune_runtime.py',
]

data_root = 'data/VOCdevkit/VOC2012'
pretrained = 'checkpoints/moco_v2_800ep_pretrain.pth.tar'
crop_size = (512, 512)

data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    # ResNet (not V1c): the 7x7 stem of torchvision, MoCo, SimCLR, SwAV...
    backbone=dict(
        type='ResNet',
        init_cfg=dict(
            type='Pretrained',
            checkpoint=pretrained,
            prefix='module.encoder_q.')),
    decode_head=dict(num_classes=21),
    auxiliary_head=dict(num_classes=21))

train_dataloader = dict(
    batch_size=4,
    dataset=dict(
        _delete_=True,
        type='PascalVOCWithSBD',
        data_root=data_root,
        # VOC aug, the benchmark's 10,582 images; sbd=False: VOC train alone
        sbd=True,
        pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader

val_evaluator = dict(type='FWIoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
