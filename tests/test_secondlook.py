"""The second look at a failing dark screenshot: local contrast brings back faint text."""
from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

from evidence.ocr.cache import OcrCache
from evidence.secondlook import is_dark, normalised, second_look, second_looks
from fixtures.generate import _font_path


def _faint(tmp_path, bg=(30, 30, 30), fg=(38, 38, 38)):
    """A dark 380 px capture with a date at contrast ~1.1:1 and a plain title."""
    im = Image.new("RGB", (380, 300), bg)
    d = ImageDraw.Draw(im)
    font = ImageFont.truetype(_font_path("vera", "regular"), 16)
    d.text((130, 10), "07/26/2023", fill=fg, font=font)
    d.text((40, 120), "David Bell", fill=(230, 230, 230), font=font)
    path = tmp_path / "dark.png"
    im.save(path)
    return path, im


def test_dark_and_light_images(tmp_path):
    _, im = _faint(tmp_path)
    assert is_dark(im)
    assert not is_dark(Image.new("RGB", (100, 100), (250, 250, 250)))
    big, scale = normalised(im)
    assert scale == 2.0 and big.size == (760, 600)


def test_second_look_reads_a_faint_date_and_caches_it(tmp_path):
    path, _ = _faint(tmp_path)
    cache = OcrCache(tmp_path / "cache")
    lines = second_look(path, "sha-dark", cache=cache)
    texts = [ln.text for ln in lines]
    assert any("07/26/2023" in t for t in texts), texts
    date = next(ln for ln in lines if "07/26/2023" in ln.text)
    assert date.box.y1 < 40 and date.box.x0 > 100  # in the image's own coordinates
    again = second_look(path, "sha-dark", cache=cache)  # from the cache (rounded confidences)
    assert [(ln.text, ln.box) for ln in again] == [(ln.text, ln.box) for ln in lines]


def test_light_image_gets_no_second_look(tmp_path):
    path = tmp_path / "light.png"
    Image.new("RGB", (300, 200), (250, 250, 250)).save(path)
    assert second_look(path, "sha-light") == []


def test_second_looks_in_worker_processes_match_one_at_a_time(tmp_path):
    dark, _ = _faint(tmp_path)
    (tmp_path / "other-shade").mkdir()
    dark2, _ = _faint(tmp_path / "other-shade", bg=(24, 26, 30), fg=(33, 35, 39))
    light = tmp_path / "light.png"
    Image.new("RGB", (300, 200), (250, 250, 250)).save(light)
    cache = OcrCache(tmp_path / "cache")
    items = [(dark, "sha-d1"), (dark2, "sha-d2"), (light, "sha-l")]
    got = second_looks(items, cache=cache, workers=2)  # the real engine in a worker pool
    assert got[light] == []
    for path in (dark, dark2):
        assert any("07/26/2023" in ln.text for ln in got[path]), got[path]
    # the same lines as a look in this process (from the cache: confidences rounded)
    alone = second_look(dark, "sha-d1", cache=OcrCache(tmp_path / "other"))
    assert [(ln.text, ln.box) for ln in got[dark]] == [(ln.text, ln.box) for ln in alone]
    # every outcome is cached, "not dark" too: a warm run reads nothing again
    assert len(list((tmp_path / "cache").glob("*.json"))) == 3
    again = second_looks(items, cache=cache, workers=2)
    assert {p: [ln.text for ln in v] for p, v in again.items()} == \
        {p: [ln.text for ln in v] for p, v in got.items()}
