"""Processor presets (size, page and format limits) and access to the shipped templates.

The figures live in `templates/processors.toml` (data, kept in step with
shared/processor-limits.md), not here. We always produce one PDF per dispute, so the
cap that matters is the smaller of the per-file and the total cap (`Preset.max_bytes`).

Templates ship inside the wheel as the package `evidence.templates` (pyproject maps the
top-level `templates/` folder onto it). Running from a checkout without installing, that
package does not exist, so `template_text` falls back to `templates/` beside `evidence/`.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .errors import CaseError

PROCESSORS_FILE = "processors.toml"
_PAGE_SIZES = ("letter", "a4")  # the names layout.page_size accepts


def template_text(name: str) -> str:
    """The text of the shipped template `name` (e.g. "cover.toml")."""
    try:
        return resources.files("evidence.templates").joinpath(name).read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        pass
    path = Path(__file__).resolve().parent.parent / "templates" / name
    try:
        return path.read_text("utf-8")
    except OSError as e:
        raise CaseError(f"template missing or unreadable: {e.strerror or e}", path) from None


def load_toml(name: str, path: Path | str | None = None) -> dict:
    """Parse a TOML template: the shipped `name`, or the file at `path` when given."""
    where = Path(path) if path is not None else name
    try:
        text = Path(path).read_text("utf-8") if path is not None else template_text(name)
        return tomllib.loads(text)
    except OSError as e:
        raise CaseError(f"cannot read: {e.strerror or e}", where) from None
    except tomllib.TOMLDecodeError as e:
        raise CaseError(f"not valid TOML: {e}", where) from None


# With no processor named, build and validate use Stripe's practical caps: the common case.
DEFAULT_MAX_BYTES = 4_500_000
DEFAULT_MAX_PAGES = 49


@dataclass(frozen=True)
class Preset:
    name: str
    label: str
    max_total_bytes: int | None
    max_file_bytes: int | None
    max_pages: int | None
    page_size: str
    pdfa: bool
    source: str
    max_dpi: int | None = None
    text_field_chars: int | None = None  # the processor's free-text evidence field

    @property
    def max_bytes(self) -> int | None:
        """The cap for the one PDF we produce: min(total, per-file); None if neither is known."""
        caps = [c for c in (self.max_total_bytes, self.max_file_bytes) if c is not None]
        return min(caps) if caps else None


_INT_KEYS = ("max_total_bytes", "max_file_bytes", "max_pages", "max_dpi", "text_field_chars")
_KNOWN_KEYS = set(_INT_KEYS) | {"label", "page_size", "pdfa", "source"}


def _preset(name: str, d: object, where: Path | str) -> Preset:
    def bad(msg: str) -> CaseError:
        return CaseError(f"processor [{name}]: {msg}", where)

    if not isinstance(d, dict):
        raise bad("must be a table")
    unknown = set(d) - _KNOWN_KEYS
    if unknown:
        raise bad(f"unknown key(s) {', '.join(sorted(unknown))}")
    ints: dict[str, int | None] = {}
    for key in _INT_KEYS:
        v = d.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v <= 0):
            raise bad(f"{key} must be a positive whole number, not {v!r}")
        ints[key] = v
    page = d.get("page_size", "letter")
    if not isinstance(page, str) or page.lower() not in _PAGE_SIZES:
        raise bad(f"page_size must be one of {', '.join(_PAGE_SIZES)}, not {page!r}")
    pdfa = d.get("pdfa", False)
    if not isinstance(pdfa, bool):
        raise bad(f"pdfa must be true or false, not {pdfa!r}")
    label, source = d.get("label", name), d.get("source", "")
    if not isinstance(label, str) or not isinstance(source, str):
        raise bad("label and source must be strings")
    return Preset(name=name, label=label, page_size=page.lower(), pdfa=pdfa, source=source,
                  **ints)


def load_presets(path: Path | str | None = None) -> dict[str, Preset]:
    """All processor presets by name (lower case), from the shipped file or `path`."""
    where = path if path is not None else PROCESSORS_FILE
    data = load_toml(PROCESSORS_FILE, path)
    return {name.lower(): _preset(name, d, where) for name, d in data.items()}


def get_preset(name: str, path: Path | str | None = None) -> Preset:
    presets = load_presets(path)
    try:
        return presets[name.strip().lower()]
    except KeyError:
        raise CaseError(f"unknown processor {name!r}; known: {', '.join(sorted(presets))}") from None


def pick_cap(given: int | None, flag: str, preset: Preset | None, field: str,
             default: int) -> tuple[int, str]:
    """A cap (`field`: "max_bytes" or "max_pages") and where it came from: the option
    `flag` when given, else the preset, else the default. Build and validate both ask."""
    if given:
        return given, flag
    value = getattr(preset, field) if preset is not None else None
    if value:
        return value, preset.label
    return default, "default"
