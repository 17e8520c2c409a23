# ResNet-50 initialised from a MoCo v1/v2 checkpoint (the official releases
# keep the query encoder under `module.encoder_q.`; see
# tools/model_converters/convert_checkpoint.py for other layouts). Override
# with --cfg-options model.backbone.init_cfg.checkpoint=/path/to/moco.pth.tar
_base_ = 'mmpretrain::_base_/models/resnet50.py'

pretrained = 'checkpoints/moco_v2_800ep_pretrain.pth.tar'

model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint=pretrained,
            prefix='module.encoder_q.')),
    head=dict(topk=(1, )))
