"""Where the data files of `templates/` are found: inside the installed wheel (as the
package `evidence.templates`), or beside the package when running from a checkout."""
from __future__ import annotations

from importlib import resources
from pathlib import Path


def template_text(name: str) -> str:
    try:
        return resources.files("evidence.templates").joinpath(name).read_text("utf-8")
    except ModuleNotFoundError:
        return (Path(__file__).resolve().parent.parent / "templates" / name).read_text("utf-8")
