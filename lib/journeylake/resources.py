"""Files the code reads besides Python: the default config, the Spark log4j2 file and the expectation suites.

They live at the top of the source tree (``conf/``, ``expectations/``), where people edit and review them, and
travel inside the package when it is built: the wheel and the ``--py-files`` zip carry them under
``journeylake/_resources/`` (see ``setup.py`` and ``make package``). :func:`resource` finds a file in the
installed package first and in the source tree otherwise, so an installed user needs no checkout, and
``importlib.resources`` reads it even from a zip on a cluster.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

PACKAGE_RESOURCES = "_resources"
SOURCE_ROOT = Path(__file__).resolve().parents[2]  # the checkout, when running from the source tree
CONF, EXPECTATIONS = "conf", "expectations"


def resource(kind: str, name: str = "") -> Traversable:
    """The packaged ``<kind>/<name>`` (a file or, with ``name`` empty, a folder), else the source tree's."""
    packaged = resources.files("journeylake").joinpath(PACKAGE_RESOURCES, kind)
    if packaged.is_dir():
        return packaged.joinpath(name) if name else packaged
    folder: Traversable = Path(SOURCE_ROOT / kind)
    return folder.joinpath(name) if name else folder


DEFAULT_CONFIG = resource(CONF, "default.toml")
LOG4J2_CONFIG = resource(CONF, "log4j2.properties")


def local_file(item: Traversable) -> Path | None:
    """A real filesystem path of ``item`` (for the JVM, which cannot read inside a zip); None inside a zip."""
    return item if isinstance(item, Path) else None
