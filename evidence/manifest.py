"""The manifest inside the PDF, and the image digests a validator recomputes.

How the manifest travels:
- normal PDF: an embedded file `evidence-manifest.json` (application/json), which any PDF
  reader lists as an attachment;
- PDF/A-2b: PDF/A-2 forbids embedding files that are not themselves PDF/A, so the JSON
  goes into the document information dictionary instead, as custom text entries
  `/EvidenceManifest1`, `/EvidenceManifest2`, … (ASCII JSON cut into chunks of at most
  30,000 characters, under PDF/A's 32,767-byte string limit). PDF/A permits custom
  document-information entries (they do not affect rendering) and needs no XMP extension
  schema for them, whereas a private catalog key or a custom XMP property would have to
  be declared or is flagged as unknown by PDF/A validators.
`read_manifest` looks in both places.

Image digests: on each exhibit page the screenshot is one image XObject whose stream
bytes are exactly what the fit stage encoded (JPEG as is, PNG's IDAT data as is; see
`evidence.assemble`). `image_stream_digests` gives the SHA-256 of those raw (still
encoded) stream bytes per page, None for a page without an image (the cover pages).
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pikepdf
from pikepdf import Name

from .errors import PackageError

MANIFEST_NAME = "evidence-manifest.json"
INFO_PREFIX = "EvidenceManifest"
CHUNK_CHARS = 30_000
_INFO_KEY = re.compile(rf"^/{INFO_PREFIX}(\d+)$")


def manifest_json(manifest: dict, *, ascii_only: bool = False) -> str:
    """The manifest as JSON text; ValueError if it is not JSON data."""
    if not isinstance(manifest, dict):
        raise ValueError("the manifest must be a dict")
    try:
        return json.dumps(manifest, ensure_ascii=ascii_only, sort_keys=True, indent=2,
                          allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ValueError(f"the manifest is not JSON data: {e}") from None


def attach(pdf: pikepdf.Pdf, manifest: dict, *, pdfa: bool) -> None:
    """Put `manifest` into `pdf`: an attachment, or document-info entries for PDF/A."""
    if pdfa:
        text = manifest_json(manifest, ascii_only=True)
        for i in range(0, max(1, len(text)), CHUNK_CHARS):
            pdf.docinfo[Name(f"/{INFO_PREFIX}{i // CHUNK_CHARS + 1}")] = \
                pikepdf.String(text[i:i + CHUNK_CHARS])
    else:
        try:
            data = manifest_json(manifest).encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: keep them as JSON \u escapes
            data = manifest_json(manifest, ascii_only=True).encode("ascii")
        pdf.attachments[MANIFEST_NAME] = pikepdf.AttachedFileSpec(
            pdf, data, filename=MANIFEST_NAME, mime_type="application/json",
            description="evidence manifest: inputs, checks and image digests")


def _open(pdf_path: Path | str) -> pikepdf.Pdf:
    try:
        return pikepdf.open(pdf_path)
    except FileNotFoundError:
        raise PackageError("file not found", pdf_path) from None
    except pikepdf.PasswordError:
        raise PackageError("PDF is encrypted", pdf_path) from None
    except (pikepdf.PdfError, OSError) as e:
        raise PackageError(f"not a readable PDF: {e}", pdf_path) from None


def manifest_from_pdf(pdf: pikepdf.Pdf, where: Path | str | None = None) -> dict | None:
    text: str | None = None
    if MANIFEST_NAME in pdf.attachments:
        data = pdf.attachments[MANIFEST_NAME].get_file().read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise PackageError("manifest attachment is not UTF-8", where) from None
    else:
        info = pdf.trailer.get("/Info")
        if info is not None:
            chunks = sorted((int(m.group(1)), str(v)) for k, v in info.items()
                            if (m := _INFO_KEY.match(str(k))))
            if chunks:
                if [n for n, _ in chunks] != list(range(1, len(chunks) + 1)):
                    raise PackageError("manifest chunks in the document info are incomplete", where)
                text = "".join(v for _, v in chunks)
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise PackageError(f"manifest is not valid JSON: {e}", where) from None
    if not isinstance(value, dict):
        raise PackageError("manifest is not a JSON object", where)
    return value


def read_manifest(pdf_path: Path | str) -> dict | None:
    """The manifest of a package, wherever it travels; None if it has none."""
    with _open(pdf_path) as pdf:
        return manifest_from_pdf(pdf, pdf_path)


def page_image(page: pikepdf.Page) -> pikepdf.Object | None:
    """The image XObject a page shows directly (the largest, if several); None if none."""
    resources = page.obj.get("/Resources")
    xobjects = resources.get("/XObject") if isinstance(resources, pikepdf.Dictionary) else None
    if not isinstance(xobjects, pikepdf.Dictionary):  # none, or damaged into another type
        return None
    images = [x for _, x in xobjects.items()
              if isinstance(x, pikepdf.Stream) and x.get("/Subtype") == Name.Image]
    if not images:
        return None
    return max(images, key=lambda x: len(x.read_raw_bytes()))


MAX_CONTENT_BYTES = 16 * 1024 * 1024  # per page; a build's pages hold a few hundred kB
DOCUMENT_FORM = "/EvidenceDocument"  # a document exhibit's page, drawn as a form XObject


def document_form(page: pikepdf.Page) -> pikepdf.Object | None:
    """The source page a document exhibit page shows (see documents.place), if any."""
    resources = page.obj.get("/Resources")
    xobjects = resources.get("/XObject") if resources is not None else None
    form = xobjects.get(DOCUMENT_FORM) if isinstance(xobjects, pikepdf.Dictionary) else None
    if isinstance(form, pikepdf.Stream) and form.get("/Subtype") == Name.Form:
        return form
    return None


def digests_from_pdf(pdf: pikepdf.Pdf) -> list[str | None]:
    """Per page, the SHA-256 of its image stream's raw bytes; for a document page, of its
    form XObject's decoded content (bounded); None for pages with neither."""
    out: list[str | None] = []
    for page in pdf.pages:
        image = page_image(page)
        if image is not None:
            out.append(hashlib.sha256(image.read_raw_bytes()).hexdigest())
            continue
        form = document_form(page)
        try:
            data = form.read_bytes() if form is not None else None
        except (pikepdf.PdfError, ValueError):
            data = None
        out.append(hashlib.sha256(data).hexdigest() if data is not None
                   and len(data) <= MAX_CONTENT_BYTES else None)
    return out


def content_digests_from_pdf(pdf: pikepdf.Pdf) -> list[str | None]:
    """Per page, the SHA-256 of its content streams as decoded (everything drawn on the
    page: header, note, text layer, stamps); None where it cannot be read or is too big.
    Decoded, so re-compressing the file does not change it, while editing a page does."""
    out: list[str | None] = []
    for page in pdf.pages:
        contents = page.obj.get("/Contents")
        streams = [contents] if isinstance(contents, pikepdf.Stream) else list(contents or [])
        h, total = hashlib.sha256(), 0
        try:
            for st in streams:
                data = st.read_bytes()
                total += len(data)
                if total > MAX_CONTENT_BYTES:
                    raise ValueError("too big")
                h.update(data)
            out.append(h.hexdigest())
        except (pikepdf.PdfError, ValueError, TypeError, AttributeError):
            out.append(None)
    return out


def image_stream_digests(pdf_path: Path | str) -> list[str | None]:
    """Per page, the SHA-256 (hex) of its image stream's raw bytes; None for pages without."""
    with _open(pdf_path) as pdf:
        return digests_from_pdf(pdf)
