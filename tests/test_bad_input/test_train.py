"""``tools/train.py`` refuses bad data, checkpoints and options before it
trains, with one line naming what is wrong, and leaves the work dir's earlier
files alone."""
import os
import os.path as osp
import shutil

import numpy as np
import pytest
import torch
from bad_input import (CLS_CONFIG, SEG_CONFIG, cls_options, copy_tree, refused,
                       seg_options, tool)

TRAIN = tool('train.py')


def train(config, work_dir, options):
    return [TRAIN, config, '--work-dir', work_dir, '--cfg-options', *options]


def test_missing_data_root(tmp_path, previous_run):
    root = str(tmp_path / 'nowhere')
    args = train(CLS_CONFIG, previous_run, cls_options(root))
    line = refused(
        args,
        'No such file or directory',
        root,
        keep=previous_run,
        process=True)
    # the in-process run, which the other cases use, ends the same way (in
    # another work dir: a run in the same second would log to the same file)
    other = train(CLS_CONFIG, str(tmp_path / 'other'), cls_options(root))
    assert refused(other) == line
    refused(
        train(SEG_CONFIG, previous_run, seg_options(root)),
        'data_root',
        root,
        keep=previous_run)


def test_empty_data_root(tmp_path, previous_run):
    root = tmp_path / 'empty'
    root.mkdir()
    refused(
        train(CLS_CONFIG, previous_run, cls_options(str(root))),
        'No such file or directory',
        str(root),
        keep=previous_run)


def test_image_folder_with_one_class(digits, tmp_path, previous_run):
    root = tmp_path / 'one'
    for split in ('train', 'val'):
        copy_tree(osp.join(digits, 'train', '3'), str(root / split / '3'))
    refused(
        train(CLS_CONFIG, previous_run, cls_options(str(root))),
        'train_dataloader.dataset',
        '1 class(es)',
        'expected at least 2',
        keep=previous_run)


def test_num_classes_disagrees_with_the_dataset(digits, voc, previous_run):
    refused(
        train(
            CLS_CONFIG, previous_run,
            cls_options(digits) +
            ['model.head.num_classes=5', 'data_preprocessor.num_classes=5']),
        'model.head.num_classes=5',
        'has 10 classes',
        keep=previous_run)
    refused(
        train(SEG_CONFIG, previous_run,
              seg_options(voc) + ['model.decode_head.num_classes=5']),
        'model.decode_head.num_classes=5',
        'has 21 classes',
        keep=previous_run)


def test_validation_folder_missing_a_class(digits, tmp_path, previous_run):
    # an image folder names its classes after its subfolders: without val/7
    # every later digit's label would shift by one there
    root = copy_tree(digits, str(tmp_path / 'digits'))
    shutil.rmtree(osp.join(root, 'val', '7'))
    refused(
        train(CLS_CONFIG, previous_run, cls_options(root)),
        'val_dataloader.dataset',
        'missing [\'7\']',
        keep=previous_run)


def test_segmentation_labels_out_of_range(voc, tmp_path, previous_run):
    from PIL import Image
    root = copy_tree(voc, str(tmp_path / 'VOC2012'))
    folder = osp.join(root, 'SegmentationClass')
    for name in os.listdir(folder):
        path = osp.join(folder, name)
        image = Image.open(path)
        label = np.array(image)
        # no class, not the ignore index; on all the background, so that
        # every random crop holds some
        label[label == 0] = 30
        out = Image.fromarray(label)
        if image.mode == 'P':
            out.putpalette(image.getpalette())
        out.save(path)
    refused(
        train(SEG_CONFIG, previous_run, seg_options(root)),
        'gt_sem_seg',
        'must lie in [0, 21)',
        'got [30]',
        keep=previous_run)


@pytest.mark.parametrize('flag', ['--resume', 'load_from'])
def test_resume_or_load_from_what_is_not_a_checkpoint(flag, digits,
                                                      previous_run,
                                                      not_a_checkpoint,
                                                      truncated_checkpoint):
    for bad in (not_a_checkpoint, truncated_checkpoint):
        if flag == '--resume':
            args = [
                TRAIN, CLS_CONFIG, '--work-dir', previous_run, '--resume', bad,
                '--cfg-options', *cls_options(digits)
            ]
        else:
            args = train(CLS_CONFIG, previous_run,
                         cls_options(digits) + [f'load_from={bad}'])
        refused(args, f'{flag}: cannot read', bad, keep=previous_run)


def write_config(tmp_path, body: str) -> str:
    path = tmp_path / 'config.py'
    path.write_text(f'_base_ = {CLS_CONFIG!r}\n' + body)
    return str(path)


def test_pretrained_checkpoint_missing_or_unreadable(digits, tmp_path,
                                                     previous_run,
                                                     not_a_checkpoint):
    for path, message in ((str(tmp_path / 'absent.pth'), 'no such file'),
                          (not_a_checkpoint, 'cannot read')):
        config = write_config(
            tmp_path, 'model = dict(backbone=dict(init_cfg=dict('
            f"_delete_=True, type='Pretrained', checkpoint={path!r}, "
            "prefix='module.encoder_q.')))\n")
        refused(
            train(config, previous_run, cls_options(digits)),
            'model.backbone.init_cfg.checkpoint',
            message,
            path,
            keep=previous_run)


def moco_resnet18(tmp_path) -> str:
    """A MoCo-layout file holding a ResNet-18."""
    from mmpretrain.registry import MODELS
    backbone = MODELS.build(dict(type='ResNet', depth=18))
    path = str(tmp_path / 'moco18.pth')
    state = backbone.state_dict()
    torch.save(
        dict(state_dict={
            f'module.encoder_q.{k}': v
            for k, v in state.items()
        }), path)
    return path


def test_pretrained_checkpoint_with_a_wrong_prefix(digits, tmp_path,
                                                   previous_run):
    moco = moco_resnet18(tmp_path)
    for prefix, fragments in (
        ('encoder_q.', ("prefix='encoder_q.' matches no key",
                        "stem is under 'module.encoder_q.'")),
            # matches keys that fit nothing in the backbone, which MMEngine
            # loads non-strictly: PretrainedCheckHook names the right one
        ('module.', ("prefix 'module.encoder_q.'", )),
    ):
        config = write_config(
            tmp_path, 'model = dict(backbone=dict(init_cfg=dict('
            "_delete_=True, type='Pretrained', "
            f'checkpoint={moco!r}, prefix={prefix!r})))\n')
        refused(
            train(config, previous_run, cls_options(digits)),
            *fragments,
            keep=previous_run)


def test_shallower_checkpoint_than_the_backbone(digits, tmp_path,
                                                previous_run):
    """A ResNet-18 checkpoint for the ResNet-50 the config builds."""
    moco = moco_resnet18(tmp_path)
    config = write_config(
        tmp_path, 'model = dict(backbone=dict(depth=50, init_cfg=dict('
        f"_delete_=True, type='Pretrained', checkpoint={moco!r}, "
        "prefix='module.encoder_q.')), head=dict(in_channels=2048))\n")
    refused(
        train(config, previous_run, cls_options(digits)),
        'PretrainedCheckHook',
        keep=previous_run)


@pytest.mark.parametrize('option, fragments', [
    ('model.head.mixup.alpa=1', ('mixup:', "'alpa'")),
    ('model.head.projector.hidden=1', ('projector:', "'hidden'")),
    ('model.head.contrast_loss.temp=1', ('contrast_loss:', "'temp'")),
    ('model.head.contrast_loss.type=SupCon', ('contrast_loss:', 'SupCon')),
    ('model.head.contrast_wieght=1', ('CoreTuneClsHead', "'contrast_wieght'")),
])
def test_unknown_key_in_a_classification_option(option, fragments, digits,
                                                previous_run):
    refused(
        train(CLS_CONFIG, previous_run,
              cls_options(digits) + [option]),
        *fragments,
        keep=previous_run)


@pytest.mark.parametrize('option, fragments', [
    ('model.decode_head.pixel_sampler.max_sample=3',
     ('pixel_sampler:', "'max_sample'")),
    ('model.decode_head.mixup.alpa=1', ('mixup:', "'alpa'")),
    ('model.decode_head.contrast_wieght=1',
     ('CoreTuneASPPHead', "'contrast_wieght'")),
])
def test_unknown_key_in_a_segmentation_option(option, fragments, voc,
                                              previous_run):
    refused(
        train(SEG_CONFIG, previous_run,
              seg_options(voc) + [option]),
        *fragments,
        keep=previous_run)
