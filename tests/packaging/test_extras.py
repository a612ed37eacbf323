"""The wheel installs by where it runs: the agent without Textual, the console without ONNX Runtime.

Builds the real wheel and installs it into fresh virtual environments from the package registry
(pip's cache makes repeat runs quick).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest
from agents import start_agent

from wattfleet.core.client import AgentClient
from wattfleet.core.model import AgentInfo

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True, capture_output=True, text=True,
    )
    (built,) = out.glob("wattfleet-*.whl")
    return built


def _venv_with(tmp: Path, requirement: str, python: str | None = None) -> Path:
    if python is None:
        venv.create(tmp, with_pip=True)
    else:
        subprocess.run([python, "-m", "venv", str(tmp)], check=True)
    py = tmp / "bin" / "python"
    result = subprocess.run([str(py), "-m", "pip", "install", "-q", requirement], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return py


def _imports(py: Path, module: str) -> bool:
    return subprocess.run([str(py), "-c", f"import {module}"], capture_output=True).returncode == 0


def test_wheel_installs_only_under_the_wattfleet_namespace(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert top == {"wattfleet"}, top
    assert not any(n.startswith("wattfleet/__init__.py") for n in names), "wattfleet must stay a namespace"
    for needed in ("wattfleet/agent/service/server.py", "wattfleet/v1/agent_pb2.py", "wattfleet/core/cli.py",
                   "wattfleet/v1/agent.proto"):
        assert needed in names
    assert any(n.startswith("wattfleet/profiles/") and n.endswith(".toml") for n in names), "profiles not packaged"


# JetPack 6 ships Python 3.10: the agent is installed with it where this machine has it.
def _find_python_310() -> str | None:
    candidates = [shutil.which("python3.10"), *map(str, Path.home().glob(".pyenv/versions/3.10*/bin/python3.10"))]
    for candidate in filter(None, candidates):
        if subprocess.run([candidate, "-c", "import venv"], capture_output=True).returncode == 0:
            return candidate
    return None


PYTHON_310 = _find_python_310()

AGENT_MODULES = """
import importlib, pkgutil, sys
import wattfleet.agent, wattfleet.core
names = [m.name for pkg in (wattfleet.agent, wattfleet.core)
         for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + ".")]
for name in names:
    importlib.import_module(name)
print(sys.version_info[:2], len(names))
"""


def test_agent_extra_runs_without_textual(wheel: Path, tmp_path: Path) -> None:
    py = _venv_with(tmp_path / "agent-env", f"{wheel}[agent]", PYTHON_310)
    assert not _imports(py, "textual")
    assert _imports(py, "onnxruntime")
    # Every agent and core module imports (without Textual, and on 3.10 where the machine has it).
    result = subprocess.run([str(py), "-c", AGENT_MODULES], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    if PYTHON_310:
        assert result.stdout.startswith("(3, 10)"), result.stdout
    result = subprocess.run([str(tmp_path / "agent-env" / "bin" / "wattfleet"), "agent", "--help"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "--token-file" in result.stdout
    # And it serves: a real agent from this install, advertised on loopback, answers GetInfo.
    agent = start_agent(tmp_path, host_id="wheel-agent", advertise=True, python=str(py))
    try:
        info = asyncio.run(_get_info(agent.target, agent.token))
        assert info.host_id == "wheel-agent"
        assert info.python.startswith("3.10") if PYTHON_310 else info.python
    finally:
        assert agent.stop() == 0


async def _get_info(target: str, token: str) -> AgentInfo:
    async with AgentClient(target, token=token) as client:
        return await client.get_info()


def test_console_extra_runs_without_onnxruntime(wheel: Path, tmp_path: Path) -> None:
    py = _venv_with(tmp_path / "tui-env", f"{wheel}[tui]")
    assert not _imports(py, "onnxruntime")
    assert _imports(py, "textual")
    exe = str(tmp_path / "tui-env" / "bin" / "wattfleet")
    result = subprocess.run([exe, "discover", "--help"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    # The agent is not what this install is for: it says which extra to add instead of a traceback.
    result = subprocess.run([exe, "bench", "--help"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "wattfleet[agent]" in result.stderr and "Traceback" not in result.stderr
