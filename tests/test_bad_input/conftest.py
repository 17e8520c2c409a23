"""Fixtures of the bad-input suite: small data sets, an earlier run's work
dir and files that are not checkpoints."""
import pytest

from coretune_mm.datasets.demo_data import make_digits_folder, make_digits_voc


@pytest.fixture(scope='session')
def digits(tmp_path_factory) -> str:
    return make_digits_folder(
        str(tmp_path_factory.mktemp('bad') / 'digits'), limit=40)


@pytest.fixture(scope='session')
def voc(tmp_path_factory) -> str:
    return make_digits_voc(
        str(tmp_path_factory.mktemp('bad') / 'VOC2012'),
        num_train=4,
        num_val=2,
        canvas=48)


@pytest.fixture()
def previous_run(tmp_path) -> str:
    """A work dir holding an earlier run's files, which a refused run must
    leave alone."""
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    (work_dir / 'epoch_1.pth').write_bytes(b'an earlier checkpoint')
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'epoch_1.pth'))
    return str(work_dir)


@pytest.fixture()
def not_a_checkpoint(tmp_path) -> str:
    path = tmp_path / 'notes.pth'
    path.write_text('not a checkpoint')
    return str(path)


@pytest.fixture()
def truncated_checkpoint(tmp_path) -> str:
    import torch
    path = tmp_path / 'whole.pth'
    torch.save({'state_dict': {'w': torch.zeros(1000)}}, path)
    data = path.read_bytes()
    cut = tmp_path / 'cut.pth'
    cut.write_bytes(data[:len(data) // 2])
    return str(cut)
