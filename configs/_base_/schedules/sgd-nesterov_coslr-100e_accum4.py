# The Core-tuning reference schedule: SGD 0.01 nesterov, cosine, 100 epochs,
# 4 accumulated batches of 64 (an effective batch of 256). Accumulation does
# not enlarge the contrastive batch: mining and the contrastive loss see 64
# samples (x3 with the generated ones) per step.
optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4, nesterov=True),
    accumulative_counts=4)

param_scheduler = dict(type='CosineAnnealingLR', by_epoch=True, T_max=100)

train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=1)
val_cfg = dict()
test_cfg = dict()

auto_scale_lr = dict(base_batch_size=256)
