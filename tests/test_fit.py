"""evidence.fit: every image encoded so the package fits, never below the floors."""
from __future__ import annotations

import io
import os
import random

import numpy as np
import pytest
import reportlab
from PIL import Image, ImageDraw, ImageFont

from evidence import fit as F
from evidence.errors import ExitCode, InputError, TooBig
from evidence.fit import CropSource, EncodedImage, FitItem, encode_at, fit

FONT = os.path.join(os.path.dirname(reportlab.__file__), "fonts", "Vera.ttf")
EMAIL = "jane.cooper@example.com"
WORDS = "the parcel never arrived please refund my card ok I will check with courier".split()


def chat(w: int = 400, h: int = 800, seed: int = 0, font_px: int = 20, gray: bool = False,
         email: str = EMAIL) -> Image.Image:
    """A flat chat screenshot: white, grey and blue (or dark grey) bubbles, Vera text."""
    rnd = random.Random(seed)
    f = ImageFont.truetype(FONT, font_px)
    im = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(im)
    d.rectangle([0, 0, w, 3 * font_px], fill="#F6F6F6")
    d.text((w // 2, int(1.5 * font_px)), "Jane Cooper", font=f, fill="black", anchor="mm")
    y, i = 4 * font_px, 0
    while y < h - 3 * font_px:
        mine = i % 2 == 1
        text = email if i == 1 else " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(2, 4)))
        tw = d.textlength(text, font=f)
        x0 = w - tw - 2 * font_px if mine else font_px // 2
        fill = ("#555555" if gray else "#0B84FF") if mine else "#E9E9EB"
        d.rounded_rectangle([x0, y, x0 + tw + font_px, y + 1.8 * font_px], radius=font_px // 2,
                            fill=fill)
        d.text((x0 + font_px // 2, y + 0.35 * font_px), text, font=f,
               fill="white" if mine else "black")
        y += int(2.4 * font_px)
        i += 1
    return im


def photo(w: int = 400, h: int = 500, seed: int = 0) -> Image.Image:
    """Photo-like: smooth colour fields plus sensor noise (far more than 16k colours)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([128 + 100 * np.sin(xx / (37 + 5 * seed) + c) * np.cos(yy / 53 - c)
                     for c in (0.0, 1.3, 2.6)], axis=-1)
    noisy = base + rng.normal(0, 9, size=base.shape)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB")


def item(path, key=None, min_text=26.0, display=200.0, top=0, bottom=None) -> FitItem:
    if bottom is None:
        with Image.open(path) as im:
            bottom = im.height
    return FitItem(key or f"Exhibit ({path.name})", CropSource(path, top, bottom), min_text,
                   display)


def save(img: Image.Image, path, **kw):
    img.save(path, **kw)
    return path


@pytest.fixture
def chats(tmp_path):
    return [save(chat(seed=i), tmp_path / f"chat{i}.png") for i in range(5)]


def decoded(e: EncodedImage) -> Image.Image:
    im = Image.open(io.BytesIO(e.data))
    im.load()
    return im


# --- level 0 -------------------------------------------------------------------------


def test_generous_budget_fits_at_level_0_in_one_pass(chats):
    items = [item(p) for p in chats]
    r = fit(items, 50_000_000, workers=1)
    assert r.level.index == 0 and r.passes == 1
    assert len(r.images) == len(items)
    assert r.total == sum(e.size for e in r.images) <= r.target
    for e in r.images:
        assert (e.width, e.height, e.scale) == (400, 800, 1.0)
        im = decoded(e)
        assert im.size == (e.width, e.height)
        assert im.format.lower() == e.format
    assert r.report and "level 0" in r.report[0]


def test_palette_png_for_flat_ui_and_jpeg_for_photo(tmp_path):
    flat = save(chat(), tmp_path / "flat.png")
    pic = save(photo(), tmp_path / "photo.png")
    r = fit([item(flat), item(pic)], 50_000_000, workers=1)
    ui, ph = r.images
    assert (ui.format, ui.mode, ui.quality) == ("png", "P", None)
    assert (ph.format, ph.mode) == ("jpeg", "RGB") and ph.quality == F.LADDER[0].quality
    assert decoded(ui).mode == "P"


def test_png_of_an_image_with_few_colours_is_lossless(tmp_path):
    im = Image.new("RGB", (300, 500), "white")
    d = ImageDraw.Draw(im)
    for k in range(40):  # 40 flat colours, no anti-aliasing
        d.rectangle([0, k * 12, 300, k * 12 + 11], fill=(k * 6, 255 - k * 5, (k * 37) % 256))
    p = save(im, tmp_path / "bands.png")
    [e] = fit([item(p)], 10_000_000, workers=1).images
    assert e.format == "png"
    assert np.array_equal(np.asarray(decoded(e).convert("RGB")), np.asarray(im))


def test_grey_screenshot_is_encoded_as_grey(tmp_path):
    p = save(chat(gray=True), tmp_path / "grey.png")
    [e] = fit([item(p)], 10_000_000, workers=1).images
    assert e.mode == "L" and decoded(e).mode == "L"


def test_resolution_is_capped_at_300_dpi_of_the_drawn_width(tmp_path):
    p = save(chat(w=1200, h=1000, font_px=50), tmp_path / "wide.png")
    [e] = fit([item(p, min_text=65, display=180.0)], 50_000_000, workers=1).images
    assert e.width == 750  # 180 pt = 2.5 in; 300 dpi = 750 px
    assert e.scale == pytest.approx(750 / 1200)


# --- descending the ladder ------------------------------------------------------------


def test_tight_budget_lowers_every_image_evenly(chats, tmp_path):
    pics = [save(photo(seed=i), tmp_path / f"photo{i}.png") for i in range(2)]
    items = [item(p) for p in chats + pics]
    top = fit(items, 50_000_000, workers=1)
    r = fit(items, int(top.total * 0.5 / (1 - F.SAFETY)), workers=1)
    assert 0 < r.level.index < F.BOTTOM
    assert r.total <= r.target
    for before, after in zip(top.images, r.images):
        assert len(after.data) <= len(before.data)
    # same rung for all: the five chats (same size, same text) share one scale,
    # the photos share one JPEG quality; nobody is two rungs below the others
    chat_scales = {round(e.scale, 3) for e in r.images[:5]}
    assert len(chat_scales) == 1
    assert len({e.quality for e in r.images[5:]}) == 1
    for e, it in zip(r.images, items):  # at the rung's size and quality, or better
        src = 400
        assert e.width >= F.level_size(src, 1000, r.level, it.display_width_pt,
                                       it.min_text_px)[0]
        if e.format == "jpeg":
            assert e.quality >= r.level.quality


def test_never_below_the_text_floor_or_the_jpeg_floor(tmp_path):
    shots = [save(chat(seed=i), tmp_path / f"c{i}.png") for i in range(3)]
    pics = [save(photo(seed=i), tmp_path / f"p{i}.png") for i in range(3)]
    # display 80 pt: at 72 dpi the images would be 80 px wide; the text floors bind first
    items = ([item(p, min_text=26.0, display=80.0) for p in shots]
             + [item(p, min_text=30.0, display=80.0) for p in pics])
    heights = [800] * 3 + [500] * 3
    bottom = sum(len(encode_at(it, F.BOTTOM).data) for it in items)
    r = fit(items, int(bottom * 1.01 / (1 - F.SAFETY)) + 1, workers=1)
    assert r.total <= r.target
    for e, it, h in zip(r.images, items, heights):
        text = it.min_text_px * min(e.scale, e.height / h)
        assert F.TEXT_FLOOR_PX <= text < F.JPEG_TEXT_PX + 1.5  # at (or by) the floor
        if e.format == "jpeg":
            assert e.quality >= F.JPEG_FLOOR
            assert text >= F.JPEG_TEXT_PX or e.quality >= F.JPEG_SMALL_TEXT_QUALITY


def test_small_source_text_keeps_jpeg_quality_high(tmp_path):
    p = save(photo(), tmp_path / "p.png")
    it = item(p, min_text=14.0)  # already under 17 px: no downscale, q >= 90
    e = encode_at(it, F.BOTTOM)
    assert e.format == "jpeg" and e.scale == 1.0 and e.quality >= F.JPEG_SMALL_TEXT_QUALITY


def test_level_size_respects_the_floor_after_rounding():
    lv = F.LADDER[F.BOTTOM]
    for w in range(301, 340):
        for text in (12.5, 13.0, 25.0, 31.7):
            nw, nh = F.level_size(w, 2 * w + 1, lv, 40.0, text)
            assert text * min(nw / w, nh / (2 * w + 1)) >= F.TEXT_FLOOR_PX - 1e-9


def test_too_big_names_the_overage_and_the_heaviest_exhibits(tmp_path):
    items = [item(save(chat(seed=0), tmp_path / "a.png"), "Exhibit 1 (a.png)"),
             item(save(photo(900, 1200, seed=1), tmp_path / "b.png"), "Exhibit 2 (b.png)"),
             item(save(chat(seed=2), tmp_path / "c.png"), "Exhibit 3 (c.png)"),
             item(save(photo(seed=3), tmp_path / "d.png"), "Exhibit 4 (d.png)")]
    with pytest.raises(TooBig) as ei:
        fit(items, 40_000, overhead=10_000, workers=1)
    msg = str(ei.value)
    assert ei.value.exit_code == ExitCode.too_big == 3
    assert "\n" not in msg
    over = int(msg.split(" bytes over")[0].rsplit(" ", 1)[1].replace(",", ""))
    assert over > 0
    heavy = msg.split("heaviest:")[1]
    assert heavy.strip().startswith("Exhibit 2 (b.png)")  # the big photo, first
    assert heavy.count("Exhibit") == 3  # only three named


def test_overhead_alone_over_the_cap_is_too_big(chats):
    with pytest.raises(TooBig, match="leaves no room"):
        fit([item(chats[0])], 100_000, overhead=100_000, workers=1)


def test_no_items():
    r = fit([], 1000)
    assert r.images == [] and r.total == 0


# --- metadata ---------------------------------------------------------------------------


def _icc() -> bytes:
    try:
        from PIL import ImageCms
        return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    except Exception:  # Pillow without littlecms: any blob is carried as-is
        return b"\0\0\x02\x0cfake-icc-profile" + bytes(500)


def _exif_with_gps() -> Image.Exif:
    from PIL import ExifTags
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Phone"
    exif[ExifTags.Base.DateTimeOriginal] = "2024:10:28 15:14:00"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (40.0, 26.0, 46.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "W"
    gps[ExifTags.GPS.GPSLongitude] = (79.0, 58.0, 56.0)
    return exif


@pytest.mark.parametrize("kind", ["flat-png", "photo-jpeg", "flat-jpeg-source"])
def test_output_carries_no_exif_gps_or_icc(tmp_path, kind):
    icc, exif = _icc(), _exif_with_gps()
    if kind == "flat-png":
        p = save(chat(), tmp_path / "in.png", exif=exif, icc_profile=icc)
    elif kind == "photo-jpeg":
        p = save(photo(), tmp_path / "in.jpg", exif=exif, icc_profile=icc, quality=95)
    else:
        p = save(chat(), tmp_path / "in.jpg", exif=exif, icc_profile=icc, quality=95)
    with Image.open(p) as src:  # the input really has them
        assert src.info.get("icc_profile") == icc
        assert src.getexif().get_ifd(0x8825)
    [e] = fit([item(p)], 50_000_000, workers=1).images
    # a JPEG source is noisy, not flat: it stays JPEG; the flat PNG goes palette
    assert e.format == ("png" if kind == "flat-png" else "jpeg")
    out = decoded(e)
    assert "icc_profile" not in out.info and "exif" not in out.info
    assert len(out.getexif()) == 0
    for marker in (b"Exif\0\0", b"ICC_PROFILE", b"iCCP", b"eXIf", b"tEXt", b"zTXt", b"iTXt",
                   b"pHYs", b"JFXX", b"GPS"):
        assert marker not in e.data


# --- sources, determinism, workers, cache ------------------------------------------


def test_crops_of_one_file_are_encoded_from_one_decode(tmp_path):
    p = save(chat(h=1800), tmp_path / "tall.png")
    items = [item(p, "top", top=0, bottom=900), item(p, "bottom", top=900, bottom=1800)]
    r = fit(items, 50_000_000, workers=1)
    assert [e.height for e in r.images] == [900, 900]
    assert r.decoded == 2
    full = np.asarray(chat(h=1800))
    top = np.asarray(decoded(r.images[0]).convert("RGB")).astype(int)
    assert np.abs(top - full[:900]).mean() < 3  # palette PNG: near-exact pixels


def test_crop_outside_the_image_is_an_input_error(tmp_path):
    p = save(chat(), tmp_path / "c.png")
    with pytest.raises(InputError, match="outside"):
        CropSource(p, 100, 5000)()


def test_deterministic_across_runs_and_worker_counts(chats, tmp_path):
    pics = [save(photo(seed=i), tmp_path / f"p{i}.png") for i in range(2)]
    items = [item(p) for p in chats[:3] + pics]
    top = fit(items, 50_000_000, workers=1)
    budget = int(top.total * 0.45)
    a = fit(items, budget, workers=1)
    b = fit(items, budget, workers=1)
    c = fit(items, budget, workers=2)
    assert a.level == b.level == c.level
    assert [e.data for e in a.images] == [e.data for e in b.images] == [e.data for e in c.images]


def test_a_bad_source_in_a_worker_is_an_input_error(chats, tmp_path):
    items = [item(p) for p in chats[:4]]
    items.append(FitItem("Exhibit 9 (gone.png)", CropSource(tmp_path / "gone.png", 0, 10),
                         26.0, 200.0))
    with pytest.raises(InputError, match="gone.png"):
        fit(items, 50_000_000, workers=2)


def test_unpicklable_loader_runs_in_process(tmp_path):
    img = chat()
    items = [FitItem(f"E{i}", lambda: img.copy(), 40.0, 300.0) for i in range(5)]
    r = fit(items, 50_000_000, workers=2)
    assert len(r.images) == 5 and r.level.index == 0


def test_encode_cache_makes_a_rerun_decode_free(chats, tmp_path):
    items = [item(p) for p in chats]
    cache = tmp_path / "cache"
    budget = int(fit(items, 50_000_000, workers=1).total * 0.6)
    first = fit(items, budget, workers=1, cache_dir=cache)
    again = fit(items, budget, workers=1, cache_dir=cache)
    assert first.decoded > 0 and again.decoded == 0
    assert [e.data for e in again.images] == [e.data for e in first.images]
    # a corrupt entry is a miss, not an error
    for f in cache.rglob("*.json"):
        f.write_text("{not json")
    third = fit(items, budget, workers=1, cache_dir=cache)
    assert [e.data for e in third.images] == [e.data for e in first.images]


# --- the floor, on the real engine ------------------------------------------------


def _norm(s: str) -> str:
    return "".join(s.split())


def test_email_still_reads_exactly_at_the_floor_real_ocr(tmp_path):
    """Push a chat (palette PNG) and a photo-backed screenshot (JPEG) to the bottom
    rung, where the text sits at its floors, and read the e-mail back with rapidocr."""
    pytest.importorskip("rapidocr")
    from rapidocr import RapidOCR

    engine = RapidOCR(params={"Global.log_level": "error"})

    def read(img: Image.Image):
        r = engine(np.asarray(img.convert("RGB")))
        return list(zip(r.txts or (), np.asarray(r.boxes) if r.boxes is not None else ()))

    flat = chat(w=600, h=700, font_px=24)
    back = photo(600, 400)
    d = ImageDraw.Draw(back)
    d.rounded_rectangle([20, 200, 520, 260], radius=20, fill="#F2F2F2")
    d.text((40, 214), EMAIL, font=ImageFont.truetype(FONT, 24), fill="black")
    items = []
    for name, img in (("flat", flat), ("photo", back)):
        p = save(img, tmp_path / f"{name}.png")
        lines = read(img)
        [box] = [b for t, b in lines if _norm(t) == EMAIL]  # the pipeline's min_text_px
        h = float(box[:, 1].max() - box[:, 1].min())
        items.append(item(p, name, min_text=h, display=100.0))
    encs = [encode_at(it, F.BOTTOM) for it in items]
    assert encs[0].format == "png" and encs[1].format == "jpeg"
    assert encs[1].quality == F.JPEG_FLOOR
    for it, e in zip(items, encs):
        text = it.min_text_px * e.scale
        floor = F.TEXT_FLOOR_PX if e.format == "png" else F.JPEG_TEXT_PX
        assert floor <= text < floor + 1.5  # really at the floor
        got = [_norm(t) for t, _ in read(decoded(e))]
        assert EMAIL in got, (it.key, e, got)


# --- embedding without re-encoding -------------------------------------------------


def test_fitted_images_embed_without_reencoding(tmp_path):
    from evidence import assemble as asm

    flat = save(chat(), tmp_path / "flat.png")
    grey = save(chat(gray=True), tmp_path / "grey.png")
    pic = save(photo(), tmp_path / "photo.png")
    r = fit([item(flat), item(grey), item(pic)], 50_000_000, workers=1)
    assert [e.mode for e in r.images] == ["P", "L", "RGB"]
    carried = [asm.pdf_image(e) for e in r.images]
    assert [c.colour for c in carried] == ["indexed", "gray", "rgb"]
    for e, c in zip(r.images, carried):
        assert len(c.raw) <= len(e.data)  # the PDF carries no more than fit counted
