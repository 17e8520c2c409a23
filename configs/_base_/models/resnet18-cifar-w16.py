# The backbone of the Fashion-MNIST evidence: MMPretrain's ResNet-18 with the
# CIFAR stem (3x3 stride 1, no max-pool) at 16 base channels (128-d
# features). One home for the pre-training, the fine-tuning and the
# segmentation configs, which add what differs (split batch norm, the
# checkpoint, the stages a decode head reads).
resnet18_cifar_w16 = dict(
    type='ResNet_CIFAR', depth=18, stem_channels=16, base_channels=16)
