"""The wheel alone runs the pipeline: installed into a fresh venv, started from an empty folder, validation on.

What an installed user has is the wheel and its dependencies, not this checkout. The venv gets the wheel
(``pip install --no-deps``) and sees the project environment's site-packages for the dependencies through a
``.pth`` line (installing pyspark again from the registry would add minutes and test pip, not us). Such a line
puts the folder on ``sys.path`` without running the editable-install hook in it, so ``journeylake`` can only come
from the wheel; the test checks that, and that no path of the checkout is on ``sys.path``. The JVM jars are
given as an installed user gives them (``JOURNEYLAKE_JARS_DIR``; on a cluster the platform attaches them).
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest
from conftest import PROJECT, build_wheel

from journeylake.spark import DEFAULT_JARS_DIR, JARS_DIR_ENV

pytestmark = pytest.mark.integration

RUN_TIMEOUT_SECONDS = 1500


def _run(argv: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """(an empty working folder, the environment of a venv holding only the wheel)."""
    root = tmp_path_factory.mktemp("wheel")
    wheel = build_wheel(root / "dist")

    target = root / "venv"
    venv.EnvBuilder(with_pip=False).create(target)
    python = target / "bin" / "python"
    site = Path(
        _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], root, {}).stdout.strip()
    )
    (site / "project_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYSPARK", "VIRTUAL_ENV"))}
    env.update(PATH=f"{target / 'bin'}:{env.get('PATH', '')}", VIRTUAL_ENV=str(target))
    pip = _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", str(wheel)],
        cwd=root,
        env=env,
    )
    assert pip.returncode == 0, pip.stderr
    env[JARS_DIR_ENV] = str(DEFAULT_JARS_DIR)
    work = root / "empty"
    work.mkdir()
    return work, env


def test_the_installed_package_comes_from_the_wheel_and_carries_its_resources(installed: tuple) -> None:
    work, env = installed
    probe = (
        "import sys, journeylake, journeylake.resources as r; "
        "print(journeylake.__file__); print(r.resource('conf', 'default.toml')); "
        "print(len(list(r.resource('expectations').iterdir()))); print('\\n'.join(sys.path))"
    )
    out = _run(["python", "-c", probe], work, env)
    assert out.returncode == 0, out.stderr
    module, config, suites, *path = out.stdout.splitlines()
    assert "/venv/" in module and "_resources/conf/default.toml" in config, (module, config)
    assert int(suites) > 0
    assert not [p for p in path if p.startswith(str(PROJECT / "lib"))], path


def test_journeylake_run_from_an_empty_folder_with_only_the_wheel(installed: tuple) -> None:
    work, env = installed
    assert (work.parent / "venv" / "bin" / "journeylake").is_file()
    result = _run(
        ["journeylake", "run", "--lake", "lake", "--sample-dir", "sample", "--sample-scale", "0.05"],
        work,
        env,
        timeout=RUN_TIMEOUT_SECONDS,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "pipeline ok:" in result.stdout
    assert f"run report: {work / 'lake' / 'reports' / 'run' / 'index.html'}" in result.stdout
    assert (work / "lake" / "reports" / "expectations" / "index.html").is_file()
    assert "validate     ok" in result.stdout, result.stdout
