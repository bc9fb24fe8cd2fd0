"""The embedded manifest, read back, is untrusted input: this is its schema.

`validate` reads a manifest out of a PDF someone else may have edited. Before any check
uses it, the manifest must match this schema: every field the checks read has its type,
numbers have bounds, and page numbers lie within the file. The bounds come from the file's
real page count, so a claim like `cover_pages = 200000000` cannot make the validator
allocate for pages that do not exist. Unknown keys are allowed (a newer version may add
some); known keys of the wrong type are not.
"""
from __future__ import annotations

import jsonschema

from ..errors import one_line

# A package may have lost pages since the build (the manifest check names them); beyond
# this many pages more than the file holds, the manifest's claim is not believable.
MAX_MISSING_PAGES = 1_000

_SHA = {"type": "string", "maxLength": 128}
_STR = {"type": ["string", "null"], "maxLength": 100_000}
_FOUND = {"type": "object", "properties": {"found": {"type": "boolean"}, "text": _STR}}


def schema(page_limit: int) -> dict:
    """The manifest schema for a file whose page numbers may go up to `page_limit`."""
    page = {"type": "integer", "minimum": 1, "maximum": page_limit}
    return {
        "type": "object",
        "required": ["tool"],  # a missing page list is the manifest check's own finding
        "properties": {
            "tool": {"const": "evidence"},
            "version": _STR, "engine": _STR, "built_at": _STR,
            "draft": {"type": "boolean"},
            "failed_checks": {"type": "integer", "minimum": 0, "maximum": 1_000_000},
            "cover_pages": {"type": "integer", "minimum": 0, "maximum": page_limit},
            "page_count": {"type": "integer", "minimum": 0, "maximum": page_limit},
            "case": {"type": "object", "properties": {
                "client": {"type": "object", "properties": {"name": _STR, "email": _STR}},
                "dispute": {"type": "object", "properties": {
                    k: _STR for k in ("id", "processor", "amount", "reason", "ticket",
                                      "respond_by")}}}},
            "pages": {"type": "array", "maxItems": page_limit, "items": {
                "type": "object",
                "properties": {"page": page, "exhibit": {"type": "integer", "minimum": 0},
                               "part": {"type": ["integer", "null"], "minimum": 1},
                               "parts": {"type": ["integer", "null"], "minimum": 1},
                               "source": _STR, "image_sha256": _SHA}}},
            "exhibits": {"type": "array", "maxItems": page_limit, "items": {
                "type": "object",
                "properties": {
                    "exhibit": {"type": "integer", "minimum": 0},
                    "source": _STR, "source_sha256": {"anyOf": [_SHA, {"type": "null"}]},
                    "kind": _STR, "date_text": _STR, "note": _STR, "highlight": _STR,
                    "pages": {"type": "array", "maxItems": page_limit, "items": page},
                    "when": {"type": ["object", "null"],
                             "properties": {"value": _STR, "source": _STR}},
                    "fields": {"type": "object", "properties": {
                        "name": _FOUND, "email": _FOUND, "date": _FOUND}},
                    "redactions": {"type": "array", "items": {"type": "object"}}}}},
            "left_out": {"type": "array", "maxItems": 100_000, "items": {
                "type": "object", "properties": {"source": _STR, "reason": _STR}}},
            "page_content_sha256": {"type": "array", "maxItems": page_limit,
                                    "items": {"anyOf": [_SHA, {"type": "null"}]}},
        },
    }


def field_path(path) -> str:
    """jsonschema's path as written in the manifest: exhibits[0].pages."""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(the manifest itself)"


def manifest_problem(manifest: object, file_pages: int) -> str | None:
    """None if `manifest` matches the schema for a file of `file_pages` pages, else one
    line naming the field and what is wrong with it."""
    limit = max(file_pages, 0) + MAX_MISSING_PAGES
    validator = jsonschema.Draft202012Validator(schema(limit))
    error = jsonschema.exceptions.best_match(validator.iter_errors(manifest))
    if error is None:
        return None
    value = repr(error.instance)
    value = value if len(value) <= 60 else value[:59] + "…"
    if error.validator == "maximum" and limit == error.validator_value:
        why = f"far beyond the {file_pages} page(s) the file holds"
    elif error.validator == "required":
        why = one_line(error.message)
    else:
        why = one_line(error.message)
        why = why if len(why) <= 120 else why[:119] + "…"
    return one_line(f"field {field_path(error.absolute_path)} = {value}: {why}")
