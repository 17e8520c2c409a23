"""The safe unpickler's allow-list for MMEngine checkpoints."""
import io

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub

import coretune_mm  # noqa: F401  (registers the allow-list)


def message_hub_checkpoint(**extra) -> dict:
    hub = MessageHub.get_instance('safe-unpickle-test')
    hub.update_scalar('train/loss', 1.0)
    hub.update_scalar('train/loss', 5.0)
    hub.update_info('np_array', np.arange(3, dtype=np.float32))
    return dict(
        state_dict={'w': torch.ones(2)}, message_hub=hub.state_dict(), **extra)


def save_legacy(obj) -> bytes:
    """The pre-zip format: one plain pickle stream, easy to rewrite."""
    buffer = io.BytesIO()
    torch.save(obj, buffer, _use_new_zipfile_serialization=False)
    return buffer.getvalue()


def load(data: bytes):
    return torch.load(io.BytesIO(data), weights_only=True)


def test_mmengine_state_loads_as_plain_objects():
    loaded = load(
        save_legacy(message_hub_checkpoint(meta=dict(seed=np.int64(3)))))
    buffer = loaded['message_hub']['log_scalars']['train/loss']
    assert type(buffer) is HistoryBuffer
    assert buffer.mean() == 3.0 and buffer.statistics('mean') == 3.0
    assert loaded['meta']['seed'] == 3


def test_a_crafted_checkpoint_cannot_remap_statistics(monkeypatch):
    # a file whose buffers claim that 'mean' is HistoryBuffer.max
    with monkeypatch.context() as patch:
        patch.setitem(HistoryBuffer._statistics_methods, 'mean',
                      HistoryBuffer.max)
        data = save_legacy(message_hub_checkpoint())
    assert b'getattr' in data  # the methods are in the file
    load(data)
    fresh = HistoryBuffer([1, 5], [1, 1])
    assert fresh.statistics('mean') == 3.0
    assert HistoryBuffer._statistics_methods['mean'] is HistoryBuffer.mean


def test_a_getattr_outside_history_buffer_is_refused(monkeypatch):
    with monkeypatch.context() as patch:
        patch.setitem(HistoryBuffer._statistics_methods, 'evil',
                      HistoryBuffer._set_default_statistics)
        data = save_legacy(message_hub_checkpoint())
    with pytest.raises(Exception, match='only the public methods'):
        load(data)


def test_numpy_2_names_load():
    data = save_legacy(message_hub_checkpoint())
    assert b'numpy.core.multiarray' in data
    renamed = data.replace(b'numpy.core.multiarray', b'numpy._core.multiarray')
    loaded = load(renamed)
    info = loaded['message_hub']['runtime_info']['np_array']
    assert np.array_equal(info, np.arange(3))


def test_tensors_of_finds_the_tensors_in_each_container():
    """One helper for the hook, the converters and the tools: MMEngine's
    `state_dict`, DeiT/MAE-style `model`, a bare state dict, or a named
    container (empty when absent)."""
    from coretune_mm.checkpoint import state_dict_of, tensors_of
    weights = {'conv1.weight': torch.zeros(1)}
    assert tensors_of(dict(state_dict=weights, meta={})) is weights
    assert tensors_of(dict(model=weights, epoch=3)) is weights
    assert tensors_of(weights) is weights
    assert tensors_of(dict(teacher=weights), 'teacher') is weights
    assert tensors_of(dict(student=weights), 'teacher') == {}
    assert state_dict_of(dict(model=weights), 'x.pth', 'load_from') is weights
    with pytest.raises(ValueError, match="load_from: 'x.pth' holds no"):
        state_dict_of(dict(model={}, epoch=3), 'x.pth', 'load_from')
