"""tools/analysis_tools/device_check.py: its CPU dry run (what CI can run of
the GPU check), the per-part time limit, the refusal without a GPU and without
the carried pack."""
import json
import sys
import time

import pytest
import torch
from tool_runs import load_tool, run_process

SCRIPT = 'analysis_tools/device_check.py'


@pytest.mark.slow
def test_dry_run_runs_every_part(tmp_path):
    out = tmp_path / 'check.json'
    report = load_tool(SCRIPT).main(['--dry-run', '--out', str(out)])
    assert json.loads(out.read_text()) == report
    parts = report['parts']
    assert set(parts) == {'precision', 'resume', 'overhead', 'scaling'}
    for name, part in parts.items():
        assert 'error' not in part, (name, part.get('traceback'))
    for task in ('cls', 'seg'):
        precision = parts['precision'][task]
        assert set(precision['runs']) == {
            f'{name}/{dtype}'
            for name in ('ce', 'coretune', 'fixed')
            for dtype in ('float32', 'float16', 'bfloat16')
        }
        assert precision['passed'], precision['precisions']
        assert parts['overhead'][task]['step_time_ratio'] > 0
    assert parts['resume']['passed']
    assert parts['resume']['max_weight_difference'] == 0  # exact on the CPU
    assert len(report['summary']) == 1 + 2 + 1 + 2 + 1


def test_a_part_past_its_limit_is_recorded_and_the_next_runs(
        tmp_path, monkeypatch):
    check = load_tool(SCRIPT)
    monkeypatch.setitem(check.DRY['limits'], 'precision', 1)
    monkeypatch.setitem(check.CHECKS, 'precision',
                        lambda device, sizes: time.sleep(5))
    monkeypatch.setitem(
        check.CHECKS, 'scaling',
        lambda device, sizes: dict(rows=[dict(M=4, vectorised_ms=1.0)]))
    start = time.time()
    report = check.main([
        '--dry-run', '--parts', 'precision', 'scaling', '--out',
        str(tmp_path / 'check.json')
    ])
    assert time.time() - start < 4
    assert report['parts']['precision']['error'].startswith('PartTimeout')
    assert report['parts']['scaling']['rows'][0]['M'] == 4
    assert any(
        line.startswith('precision: FAILED') for line in report['summary'])


@pytest.mark.skipif(torch.cuda.is_available(), reason='has a GPU')
def test_refuses_without_a_gpu_unless_dry(tmp_path, capsys):
    with pytest.raises(SystemExit):
        load_tool(SCRIPT).main(['--out', str(tmp_path / 'check.json')])
    assert '--dry-run' in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason='has a GPU')
def test_gpu_check_script_stops_without_a_gpu():
    done = run_process(['bash', 'tools/gpu_check.sh'],
                       env=dict(PATH='/usr/bin:/bin', PY=sys.executable),
                       check=False)
    assert done.returncode != 0
    assert 'no CUDA device' in done.stderr


def test_gpu_check_script_names_the_missing_pack(tmp_path):
    # a stand-in Python that has a GPU but none of the host libraries
    python = tmp_path / 'python'
    python.write_text('#!/bin/sh\ncase "$2" in *cuda*) echo stand-in; '
                      'exit 0;; esac\nexit 1\n')
    python.chmod(0o755)
    done = run_process(['bash', 'tools/gpu_check.sh'],
                       env=dict(
                           PATH='/usr/bin:/bin',
                           PY=str(python),
                           PACK=str(tmp_path / 'absent'),
                           OUT=str(tmp_path / 'out'),
                           SITE=str(tmp_path / 'site')),
                       check=False)
    assert done.returncode == 2
    assert f'{tmp_path / "absent"}/ is not here' in done.stderr
    assert 'gpu_check.sh pack' in done.stderr
    assert not (tmp_path / 'site').exists()


def test_budget_caps_the_parts_and_skips_what_does_not_fit(
        tmp_path, monkeypatch):
    check = load_tool(SCRIPT)
    ran = []
    for part in check.PARTS:
        monkeypatch.setitem(
            check.CHECKS,
            part,
            lambda device, sizes, part=part: ran.append(part) or dict(rows=[]))
    report = check.main(
        ['--dry-run', '--budget', '0', '--out',
         str(tmp_path / 'check.json')])
    assert ran == []
    assert all(part['error'].startswith('skipped')
               for part in report['parts'].values())
    report = check.main(
        ['--dry-run', '--budget', '60', '--out',
         str(tmp_path / 'check.json')])
    assert ran == list(check.PARTS)
