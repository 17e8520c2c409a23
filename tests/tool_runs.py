"""How the tests start what is not a function: a script of ``tools/`` loaded
as a module (its ``main(argv)`` runs in the test's process), and any command
as a process.

A plain module, not fixtures, so that helper modules (``bad_input.py``) and
module-level helpers use the same two functions as ``conftest.py``'s
fixtures.
"""
import importlib.util
import os
import os.path as osp
import subprocess
from types import ModuleType
from typing import Dict, Mapping, Optional, Sequence

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TOOLS = osp.join(REPO, 'tools')

_LOADED: Dict[str, ModuleType] = {}


def load_tool(path: str) -> ModuleType:
    """The script ``path`` (relative to ``tools/``, or absolute) as a module,
    loaded once per test session.

    Tests that change the module's attributes do it with ``monkeypatch``,
    which puts them back.
    """
    path = osp.abspath(osp.join(TOOLS, path))
    if path not in _LOADED:
        name = 'tool_' + osp.splitext(osp.relpath(path, TOOLS))[0].replace(
            osp.sep, '_')
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _LOADED[path] = module
    return _LOADED[path]


def run_process(command: Sequence[str],
                cwd: str = REPO,
                env: Optional[Mapping[str, str]] = None,
                threads: Optional[int] = None,
                timeout: float = 900,
                check: bool = True) -> subprocess.CompletedProcess:
    """Run ``command`` and capture its output as text.

    Args:
        command: The program and its arguments.
        cwd: The working folder.
        env: The whole environment (default: this process's).
        threads: ``OMP_NUM_THREADS`` for the process, on top of ``env``.
        timeout: Seconds before the process is killed and the test fails.
        check: Fail the test, showing the end of stderr, unless the process
            ends with status 0.

    Returns:
        The finished process (``returncode``, ``stdout``, ``stderr``).
    """
    env = dict(os.environ if env is None else env)
    if threads:
        env['OMP_NUM_THREADS'] = str(threads)
    done = subprocess.run(
        list(command),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout)
    if check:
        assert done.returncode == 0, (
            f'{" ".join(command)} ended with {done.returncode}:\n'
            f'{done.stderr[-4000:]}')
    return done
