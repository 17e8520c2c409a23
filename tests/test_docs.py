"""The README, docs/ and the config folders' READMEs point at files that
exist: every relative link, and every config, tool or doc path they name."""
import glob
import os.path as osp
import re

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
PAGES = sorted(['README.md'] + [
    osp.relpath(p, REPO) for p in glob.glob(osp.join(REPO, 'docs', '*.md')) +
    glob.glob(osp.join(REPO, 'configs', '*', 'README.md'))
])
# a page that records earlier versions names their files as history
HISTORY = {'docs/results.md'}
# paths a page shows as the user's own files, not ours
EXAMPLES = {'configs/my_pets.py'}
LINK = re.compile(r'\]\(([^)#\s]+)\)')
PATH = re.compile(r'(?<![\w/.:-])((?:configs|tools|docs)/[\w./{},*-]+'
                  r'\.(?:py|md|sh|jsonl?|png|yml|pth))(?!\w)')


def expand(path: str) -> list:
    """``a_{x,y}_b`` -> ``[a_x_b, a_y_b]`` (one brace group, as the pages write
    pairs)."""
    if '{' not in path:
        return [path]
    head, rest = path.split('{', 1)
    options, tail = rest.split('}', 1)
    return [head + option + tail for option in options.split(',')]


def test_pages_found():
    assert 'README.md' in PAGES and 'docs/usage.md' in PAGES
    assert 'configs/deeplabv3/README.md' in PAGES


@pytest.mark.parametrize('page', PAGES)
def test_links_and_paths_exist(page):
    with open(osp.join(REPO, page)) as f:
        text = f.read()
    missing = [
        target for target in LINK.findall(text)
        if not target.startswith(('http://', 'https://')) and not osp.exists(
            osp.normpath(osp.join(REPO, osp.dirname(page), target)))
    ]
    if page not in HISTORY:
        for path in PATH.findall(text):
            for candidate in expand(path):
                if candidate in EXAMPLES:
                    continue
                if not glob.glob(osp.join(REPO, candidate)):
                    missing.append(candidate)
    assert not missing, f'{page} names files that do not exist: {missing}'


def test_the_check_finds_a_missing_file():
    """The patterns see a config path and a link as the pages write them."""
    text = ('see [the table](docs/nothing.md) and run '
            '`configs/deeplabv3_r50_{ce,gone}_voc.py`')
    assert LINK.findall(text) == ['docs/nothing.md']
    link, path = PATH.findall(text)
    assert link == 'docs/nothing.md'
    assert [osp.isfile(osp.join(REPO, p))
            for p in expand(path)] == [True, False]


def test_the_path_pattern_reads_whole_names():
    """A ledger (.jsonl) or weights (.pth) path is read whole, and a name that
    only starts with a known extension is not a path."""
    text = ('`docs/evidence/runs.jsonl`, `docs/evidence/pretrained/a.pth`, '
            '`tools/x.pyc`, `docs/y.jsonld` and `configs/z.py`.')
    assert PATH.findall(text) == [
        'docs/evidence/runs.jsonl', 'docs/evidence/pretrained/a.pth',
        'configs/z.py'
    ]
