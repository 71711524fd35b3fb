"""Packaging: setuptools from pyproject.toml, plus the resources the code reads.

``conf/`` and ``expectations/`` stay at the top of the source tree; the wheel (and ``pip install .``) carries
them as ``journeylake/_resources/{conf,expectations}`` so that an installed package needs no checkout
(``journeylake.resources``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
RESOURCE_FOLDERS = {"conf": ("*.toml", "*.properties"), "expectations": ("*.json",)}


class BuildWithResources(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "journeylake" / "_resources"
        for folder, patterns in RESOURCE_FOLDERS.items():
            out = target / folder
            out.mkdir(parents=True, exist_ok=True)
            for pattern in patterns:
                for source in sorted((ROOT / folder).glob(pattern)):
                    shutil.copy2(source, out / source.name)


setup(cmdclass={"build_py": BuildWithResources})
