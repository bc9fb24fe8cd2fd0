"""evidence.fit's palette rungs: fewer colours (libimagequant) before any downscale, compact
palettes, the measured overhead asked for only when the cap binds, and a real screenshot
at the fewest colours still read by the real OCR engine."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from evidence import fit as F
from evidence.fit import fit
from evidence.imageio import open_image
from tests.test_fit import chat, item, photo, save

REAL_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "real-screenshots"
if not REAL_DIR.is_dir():  # from a worktree: /work/wt/<name> -> /work/shared
    REAL_DIR = Path(__file__).resolve().parents[3] / "shared" / "real-screenshots"


def png_info(data: bytes) -> tuple[int, int, int]:
    """(bit depth, palette entries, distinct colours used) of a palette PNG."""
    im = Image.open(io.BytesIO(data))
    im.load()
    assert im.mode == "P"
    bits = data[24]  # IHDR's bit depth: after the signature, the chunk head, width, height
    return bits, len(im.getpalette()) // 3, len(im.getcolors(256))


def test_palette_lists_only_the_colours_used(tmp_path):
    im = chat()
    data = F.encode_palette(im)  # octree, 256 asked for: the chat has fewer
    bits, entries, used = png_info(data)
    assert entries == used < 256
    data16 = F.encode_palette(im, 16)
    bits16, entries16, used16 = png_info(data16)
    assert entries16 == used16 <= 16 and bits16 <= 4
    assert len(data16) < len(data)


def test_tight_cap_lowers_colours_before_resolution(tmp_path):
    shots = [save(chat(w=600, h=1200, seed=i, font_px=30), tmp_path / f"c{i}.png")
             for i in range(4)]
    items = [item(p, min_text=39.0, display=144.0) for p in shots]  # 2 in: 300 dpi
    top = fit(items, 50_000_000, workers=1)
    assert all(e.colors == 256 and e.scale == 1.0 for e in top.images)
    r = fit(items, int(top.total * 0.93 / (1 - F.SAFETY)), workers=1)
    assert r.total <= r.target < top.total
    assert r.level.index > 0 and r.level.dpi == F.LADDER[0].dpi  # no resolution rung yet
    for e in r.images:
        assert e.format == "png" and e.mode == "P" and e.scale == 1.0
        assert e.colors < 256


def test_a_ui_with_a_photo_gets_a_palette_only_at_the_few_colour_rungs(tmp_path):
    ui = chat(w=600, h=1200, font_px=30)
    ui.paste(photo(300, 300), (10, 10))  # a photo: many colours, still mostly flat
    p = save(ui, tmp_path / "avatar.png")
    pic = save(photo(600, 800), tmp_path / "photo.png")
    st = F.measure(open_image(p))
    assert not st.palette and st.mostly_flat
    assert not F.measure(open_image(pic)).mostly_flat
    few = next(lv for lv in F.LADDER if lv.colors < F.OCTREE_MIN_COLORS)
    top = F.encode_at(item(p, min_text=39.0, display=300.0), 0)
    low = F.encode_at(item(p, min_text=39.0, display=300.0), few)
    assert top.format == "jpeg"
    assert low.format == "png" and low.colors == few.colors and len(low.data) < len(top.data)
    assert F.encode_at(item(pic, min_text=39.0, display=300.0), few).format == "jpeg"


def test_overhead_is_measured_only_when_the_cap_binds(tmp_path):
    shots = [save(chat(seed=i), tmp_path / f"c{i}.png") for i in range(3)]
    items = [item(p) for p in shots]
    calls = []

    def measured() -> int:
        calls.append(1)
        return 1_000

    top = fit(items, 50_000_000, overhead=5_000, workers=1, measure_overhead=measured)
    assert not calls and top.overhead == 5_000
    # the guess (far too high) leaves no room for rung 0; the measured 1 kB does
    budget = int(top.total / (1 - F.SAFETY)) + 2_000
    r = fit(items, budget, overhead=budget - 10, workers=1, measure_overhead=measured)
    assert calls == [1] and r.overhead == 1_000 and r.level.index == 0


@pytest.mark.skipif(not (REAL_DIR / "truth.json").is_file(),
                    reason=f"the real screenshots are not here ({REAL_DIR}); CI has them")
def test_real_screenshot_at_the_fewest_colours_is_smaller_and_its_email_still_reads():
    from evidence.ocr import make_engine

    name = "lttrs-01.png"
    email = json.loads((REAL_DIR / "truth.json").read_text())[name]["client_email"]
    im = open_image(REAL_DIR / name)
    octree = F.encode_palette(im)
    few = F.encode_palette(im, F.PALETTE_FLOOR)
    assert len(few) < 0.9 * len(octree)
    back = Image.open(io.BytesIO(few)).convert("RGB")
    text = " ".join(line.text for line in make_engine("rapidocr").recognize(back))
    assert email.lower() in "".join(text.lower().split())


def test_without_libimagequant_the_few_colour_rungs_use_the_octree(monkeypatch):
    """The quant extra is opt-in (GPL library): without it a 16-colour rung still encodes
    (octree), and its cache name differs so one quantiser's output is never served for
    the other's."""
    image = chat(600, 900)
    spec = F._Spec("png", "P", 600, 900, None, colors=16)
    had_quant = F.imagequant is not None
    before = spec.name()
    monkeypatch.setattr(F.ladder, "imagequant", None)  # where encode and the spec names read it
    data = F.encode_palette(image, 16)
    bits, entries, used = png_info(data)
    assert used <= 16 and entries == used and bits <= 4
    assert spec.name().endswith("-c16o")
    assert before.endswith("-c16") if had_quant else before == spec.name()
    # the octree's many-colour rungs are the same either way
    assert F._Spec("png", "P", 600, 900, None, colors=256).name().endswith("-c256")
