"""Pages to pixels (pypdfium2): for --deep's OCR, and thumbnails for the HTML report.
Only a file that read without repair comes here (deep.renderable)."""
from __future__ import annotations

import hashlib
import io
import math
from pathlib import Path

from .bounds import MAX_RENDER_PIXELS, MAX_THUMBNAILS
from .common import first_line
from .results import PackageReport


THUMB_WIDTH = 170  # px, thumbnails in the HTML report
DEEP_MIN_DPI = 150  # layout draws text at >= 10 pt: >= ~21 px rendered
DEEP_MAX_DPI = 400


def render_for_ocr(pdf_path: Path, plan: list[tuple[int, bool]], folder: Path, tag: str
                   ) -> dict[int, tuple[Path, str] | str]:
    """Render the planned pages to PNG files; {page: (path, sha256) or an error}."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    out: dict[int, tuple[Path, str] | str] = {}
    try:
        doc = pdfium.PdfDocument(str(pdf_path))
    except (pdfium.PdfiumError, OSError, ValueError) as e:
        return {page: f"cannot be rendered: {first_line(e)}" for page, _ in plan}
    try:
        for page_no, crop_to_image in plan:
            try:
                page = doc[page_no - 1]
                w, h = page.get_size()
                crop = (0.0, 0.0, 0.0, 0.0)
                scale = DEEP_MIN_DPI / 72
                if crop_to_image:
                    best = None
                    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2):
                        l, b, r, t = obj.get_bounds()
                        area = (r - l) * (t - b)
                        if best is None or area > best[0]:
                            best = (area, (l, b, r, t), obj.get_px_size()[0])
                    if best is not None:
                        (l, b, r, t), pw = best[1], best[2]
                        l, b, r, t = max(0.0, l), max(0.0, b), min(w, r), min(h, t)
                        if r - l > 1 and t - b > 1:
                            crop = (l, b, w - r, h - t)
                            native = pw / (r - l) if pw else 0.0
                            scale = min(max(scale, native), DEEP_MAX_DPI / 72)
                cw, ch = w - crop[0] - crop[2], h - crop[1] - crop[3]
                if cw * ch * scale * scale > MAX_RENDER_PIXELS:
                    scale = math.sqrt(MAX_RENDER_PIXELS / max(cw * ch, 1.0))
                image = page.render(scale=scale, crop=crop).to_pil()
                target = folder / f"{tag}-p{page_no:05d}.png"
                buf = io.BytesIO()
                image.convert("RGB").save(buf, "PNG", compress_level=1)
                data = buf.getvalue()
                target.write_bytes(data)
                out[page_no] = (target, hashlib.sha256(data).hexdigest())
                page.close()
            except (pdfium.PdfiumError, ValueError, OSError, MemoryError) as e:
                out[page_no] = f"cannot be rendered: {first_line(e)}"
    finally:
        doc.close()
    return out


def thumbnails(report: PackageReport) -> None:
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(str(report.file))
    except (pdfium.PdfiumError, OSError, ValueError):
        return
    try:
        for f in report.pages[:MAX_THUMBNAILS]:
            try:
                page = doc[f.page - 1]
                w, h = page.get_size()
                scale = min(THUMB_WIDTH / max(w, 1.0), 4 * THUMB_WIDTH / max(h, 1.0))
                image = page.render(scale=scale).to_pil().convert("RGB")
                buf = io.BytesIO()
                image.save(buf, "PNG", optimize=True)
                f.thumbnail = buf.getvalue()
                page.close()
            except (pdfium.PdfiumError, ValueError, OSError, MemoryError):
                f.thumbnail = None
    finally:
        doc.close()
