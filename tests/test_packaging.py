"""The wheel holds every package of the source tree.

The tests import `evidence` from the checkout, so a subpackage missing from
pyproject.toml's explicit list passes them all and breaks only an installed copy
(`pip install .` then `evidence check` failed on a missing `evidence.dates` once).
"""
from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_folder_with_python_files_or_assets_is_a_listed_package():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    wanted = set()
    for folder in [ROOT / "evidence", *(ROOT / "evidence").rglob("*")]:
        if not folder.is_dir() or folder.name == "__pycache__":
            continue
        if any(f.is_file() and f.suffix in {".py", ".html", ".js", ".css", ".mako"}
               for f in folder.iterdir()):
            wanted.add(".".join(folder.relative_to(ROOT).parts))
    assert wanted - listed == set(), "add these to [tool.setuptools] packages"


def test_package_data_covers_the_desk_assets():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    data = config["tool"]["setuptools"]["package-data"]
    for package, patterns in data.items():
        folder = ROOT / "templates" if package == "evidence.templates" else ROOT.joinpath(
            *package.split("."))
        assert folder.is_dir(), package
    for folder, suffix in (("templates", ".html"), ("static", ".js"), ("static", ".css")):
        files = list((ROOT / "evidence" / "desk" / folder).glob(f"*{suffix}"))
        assert files and f"*{suffix}" in data[f"evidence.desk.{folder}"]


def test_package_data_covers_the_shipped_ocr_models():
    """The int8 text detector is the default engine's: a wheel without it fails every
    OCR run (EngineError), which only an installed copy would show."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["evidence.ocr"]
    models = list((ROOT / "evidence" / "ocr" / "models").glob("*.onnx"))
    assert models, "evidence/ocr/models/ has no model"
    for model in models:
        assert any(model.relative_to(ROOT / "evidence" / "ocr").match(p) for p in patterns), model
