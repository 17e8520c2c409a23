# Template for a new dataset in PASCAL VOC layout (JPEGImages/,
# SegmentationClass/ palette PNGs, ImageSets/Segmentation/{train,val}.txt):
# inherit it and override data_root, the classes and num_classes.
_base_ = './deeplabv3_r50-d8_mocov2-pre_coretune_4xb4-20k_voc12aug-512x512.py'

data_root = 'data/my_dataset'
metainfo = dict(
    classes=('background', 'thing'), palette=[[0, 0, 0], [128, 0, 0]])
num_classes = 2

model = dict(
    decode_head=dict(num_classes=num_classes),
    auxiliary_head=dict(num_classes=num_classes))
train_dataloader = dict(
    dataset=dict(data_root=data_root, metainfo=metainfo, sbd=False))
val_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo))
test_dataloader = val_dataloader
