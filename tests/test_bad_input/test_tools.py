"""``tools/test.py``, ``tools/model_converters/convert_checkpoint.py`` and
``tools/model_converters/strip_core_tuning.py`` refuse what they cannot use,
with one line naming the file and what was expected, and overwrite nothing."""
import pytest
import torch
import torchvision.models as tvm
from bad_input import (CLS_CONFIG, SEG_CONFIG, cls_options, refused,
                       seg_options, tool)


@pytest.fixture()
def outputs(tmp_path):
    """A folder with an earlier output the tools must not overwrite."""
    folder = tmp_path / 'outputs'
    folder.mkdir()
    (folder / 'out.pth').write_bytes(b'an earlier output')
    return folder


def moco_file(tmp_path, model, name='moco.pth', prefix='module.encoder_q.'):
    path = tmp_path / name
    torch.save(
        dict(state_dict={
            f'{prefix}{k}': v
            for k, v in model.state_dict().items()
        }), path)
    return str(path)


def test_test_refuses_a_missing_or_unreadable_checkpoint(
        digits, tmp_path, outputs, not_a_checkpoint, truncated_checkpoint):
    out = str(outputs / 'out.pth')
    absent = str(tmp_path / 'absent.pth')
    for checkpoint, message, process in ((absent, 'no such file', True),
                                         (not_a_checkpoint, 'cannot read',
                                          False), (truncated_checkpoint,
                                                   'cannot read', False)):
        refused([
            tool('test.py'), CLS_CONFIG, checkpoint, '--out', out,
            '--work-dir',
            str(tmp_path / 'work'), '--cfg-options', *cls_options(digits)
        ],
                'checkpoint:',
                message,
                checkpoint,
                keep=str(outputs),
                process=process)


def cls_checkpoint(path) -> str:
    """The classification config's model, untrained, saved at ``path``."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(Config.fromfile(CLS_CONFIG).model)
    torch.save(dict(state_dict=model.state_dict()), path)
    return str(path)


def test_test_will_not_write_metrics_over_the_checkpoint(digits, tmp_path):
    folder = tmp_path / 'ckpt'
    folder.mkdir()
    checkpoint = cls_checkpoint(folder / 'model.pth')
    refused([
        tool('test.py'), CLS_CONFIG, checkpoint, '--out', checkpoint,
        '--cfg-options', *cls_options(digits)
    ],
            '--out:',
            'another file',
            keep=str(folder))


def test_test_refuses_a_test_folder_missing_a_class(digits, tmp_path):
    import shutil
    root = tmp_path / 'digits'
    shutil.copytree(digits, root)
    shutil.rmtree(root / 'val' / '7')
    checkpoint = cls_checkpoint(tmp_path / 'model.pth')
    refused([
        tool('test.py'), CLS_CONFIG, checkpoint, '--work-dir',
        str(tmp_path / 'work'), '--cfg-options', *cls_options(str(root)),
        'test_dataloader.num_workers=0'
    ], 'test_dataloader.dataset', 'has 9 classes', 'num_classes=10')


def test_test_refuses_test_time_augmentation_it_cannot_run(
        digits, voc, tmp_path, outputs):
    checkpoint = str(tmp_path / 'model.pth')  # refused before it is loaded
    torch.save(dict(state_dict=dict(weight=torch.zeros(1))), checkpoint)
    refused([
        tool('test.py'), CLS_CONFIG, checkpoint, '--tta', '--show-dir',
        str(outputs), '--cfg-options', *cls_options(digits)
    ],
            '--show-dir with --tta',
            'separately',
            keep=str(outputs))
    refused([
        tool('test.py'), SEG_CONFIG, checkpoint, '--tta', '--cfg-options',
        'tta_pipeline=None', *seg_options(voc)
    ],
            '--tta:',
            'tta_pipeline',
            keep=str(outputs))


def test_convert_refuses_what_it_cannot_convert(tmp_path, outputs,
                                                not_a_checkpoint,
                                                truncated_checkpoint):
    convert = tool('model_converters/convert_checkpoint.py')
    dst = str(outputs / 'out.pth')
    refused([convert, str(tmp_path / 'absent.pth'), dst],
            'src: no such file',
            keep=str(outputs),
            process=True)
    for bad in (not_a_checkpoint, truncated_checkpoint):
        refused([convert, bad, dst],
                'src: cannot read',
                bad,
                keep=str(outputs))
    # deeper and shallower than asked for
    deeper = moco_file(tmp_path, tvm.resnet101(weights=None), 'r101.pth')
    refused([convert, deeper, dst, '--depth', '50'],
            'expected a ResNet-50',
            'ResNet-101',
            keep=str(outputs))
    shallower = moco_file(tmp_path, tvm.resnet18(weights=None), 'r18.pth')
    refused([convert, shallower, dst, '--depth', '50'],
            'expected a ResNet-50',
            'ResNet-18',
            keep=str(outputs))
    # a prefix no known method writes
    odd = moco_file(
        tmp_path, tvm.resnet18(weights=None), 'odd.pth', prefix='net.trunk.')
    refused([convert, odd, dst], 'unknown layout', keep=str(outputs))
    # the source itself as the output
    refused([convert, shallower, shallower],
            'dst:',
            'another file',
            keep=str(tmp_path))


def test_strip_refuses_what_it_cannot_strip(tmp_path, outputs,
                                            not_a_checkpoint,
                                            truncated_checkpoint):
    strip = tool('model_converters/strip_core_tuning.py')
    dst = str(outputs / 'out.pth')
    refused([strip, str(tmp_path / 'absent.pth'), dst],
            'src: no such file',
            keep=str(outputs),
            process=True)
    for bad in (not_a_checkpoint, truncated_checkpoint):
        refused([strip, bad, dst], 'src: cannot read', bad, keep=str(outputs))
    no_tensors = tmp_path / 'meta.pth'
    torch.save(dict(meta=dict(epoch=1)), no_tensors)
    refused([strip, str(no_tensors), dst],
            'holds no state_dict',
            keep=str(outputs))
    weights = tmp_path / 'weights.pth'
    torch.save(dict(state_dict={'w': torch.ones(1)}), weights)
    refused([strip, str(weights), str(weights)],
            'dst:',
            'another file',
            keep=str(tmp_path))
