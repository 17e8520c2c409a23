import os.path as osp
import shutil

import pytest
from mmseg.registry import DATASETS

import coretune_mm  # noqa: F401
from coretune_mm.datasets.demo_data import make_digits_voc

DEFAULT_SCOPE = 'mmseg'


@pytest.fixture
def voc(tmp_path):
    return make_digits_voc(
        str(tmp_path / 'VOC2012'), num_train=6, num_val=2, canvas=32)


def build(root, **kwargs):
    return DATASETS.build(
        dict(type='PascalVOCWithSBD', data_root=root, pipeline=[], **kwargs))


def test_voc_only_then_with_sbd(voc):
    # VOC train alone is a choice; asking for SBD without it on disk stops
    with pytest.raises(FileNotFoundError, match='sbd=True: no .*aug.txt'):
        build(voc)
    dataset = build(voc, sbd=False)
    assert len(dataset) == 6
    assert dataset[0]['seg_map_path'].endswith('.png')
    with pytest.raises(ValueError, match="sbd must be a bool, got 'no'"):
        build(voc, sbd='no')
    shutil.copytree(
        osp.join(voc, 'SegmentationClass'),
        osp.join(voc, 'SegmentationClassAug'))
    with open(osp.join(voc, 'ImageSets', 'Segmentation', 'aug.txt'), 'w') as f:
        f.write('train_00000\ntrain_00001\nval_00006\n')
    dataset = build(voc)
    assert len(dataset) == 9
    assert 'SegmentationClassAug' in dataset[8]['seg_map_path']


def test_missing_root(tmp_path):
    with pytest.raises(FileNotFoundError, match='data_root'):
        build(str(tmp_path / 'nowhere'))
