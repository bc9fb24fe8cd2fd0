"""Page planning: pure functions, no PDF."""
from __future__ import annotations

import math

import pytest
from PIL import Image, ImageDraw

from evidence import annotate
from evidence.layout import (MAX_SIDE, MIN_TEXT_PT, PAGE_SIZES, LayoutError, Rect, check_page,
                             find_cut_rows, page_frame, page_size, plan_exhibit, typical_text_px)
from evidence.ocr.base import Box, OcrLine

LETTER = page_size("letter")


def chat_image(width: int, height: int, bubble: int = 160, gap: int = 60,
               scrollbar: bool = False) -> Image.Image:
    """White background with grey 'bubbles' of noisy rows, separated by blank gaps."""
    im = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(im)
    y, i = gap, 0
    while y + bubble < height:
        x0 = 40 if i % 2 == 0 else width // 3
        d.rounded_rectangle((x0, y, x0 + width // 2, y + bubble), 20, fill=(225, 225, 230))
        for ty in range(y + 30, y + bubble - 30, 45):  # 'text' lines inside the bubble
            d.rectangle((x0 + 25, ty, x0 + width // 2 - 40, ty + 24), fill=(20, 20, 20))
        y += bubble + gap
        i += 1
    if scrollbar:
        d.rectangle((width - 8, 0, width - 2, height), fill=(120, 120, 120))
    return im


def covered(slices, height):
    """Slices start at 0, end at `height` (or in blank rows), each starting where the last ended."""
    assert slices[0].top == 0
    for a, b in zip(slices, slices[1:]):
        assert b.top <= a.bottom and b.top > a.top
    return slices[-1].bottom


# --- page sizes ------------------------------------------------------------------------

def test_page_sizes():
    assert page_size("letter") == (612.0, 792.0)
    assert page_size(" A4 ") == PAGE_SIZES["a4"]
    w, h = page_size("a4")
    assert math.isclose(w / 72 * 25.4, 210, abs_tol=0.1) and math.isclose(h / 72 * 25.4, 297, abs_tol=0.1)


@pytest.mark.parametrize("name", ["legal", "", "letterx", "A5"])
def test_page_size_refuses_unknown_names(name):
    with pytest.raises(LayoutError, match="unknown page size"):
        page_size(name)


@pytest.mark.parametrize("page", [(0, 792), (-612, 792), (612, float("nan")), (612, float("inf")),
                                  (10, 10), (1e6, 1e6), (612,), "nonsense", None])
def test_absurd_page_sizes_are_refused(page):
    with pytest.raises(LayoutError):
        check_page(page)
    with pytest.raises(LayoutError):
        plan_exhibit(1170, 2532, [], page)


# --- cut rows ----------------------------------------------------------------------------

def test_find_cut_rows_finds_blank_rows_only():
    im = chat_image(600, 1000, bubble=100, gap=50, scrollbar=True)
    cuts = set(find_cut_rows(im))
    assert set(range(0, 50)) <= cuts  # the first gap, despite the scroll bar at the edge
    assert not cuts & set(range(50, 150))  # the first bubble
    assert set(range(151, 200)) <= cuts
    assert find_cut_rows(Image.new("RGB", (10, 5), "black")) == [0, 1, 2, 3, 4]


def test_find_cut_rows_noise_has_none():
    im = Image.effect_noise((300, 200), 60).convert("RGB")
    assert find_cut_rows(im) == []


# --- planning ----------------------------------------------------------------------------

def test_phone_shot_fits_one_page_with_note_beside():
    frame = page_frame("letter")
    (s,) = plan_exhibit(1170, 2532, [], "letter", note="Customer confirms delivery.")
    assert (s.top, s.bottom, s.index, s.count) == (0, 2532, 0, 1)
    assert frame.content.contains(s.image_rect)
    assert s.image_rect.height == pytest.approx(frame.content.height, abs=0.01)
    assert s.image_rect.width / s.image_rect.height == pytest.approx(1170 / 2532, rel=1e-6)
    # legible: a phone screenshot's text line (~1/24 of its width) stays above the floor
    assert s.scale * 1170 / 24 >= MIN_TEXT_PT
    n = s.note_rect
    assert n is not None and frame.content.contains(n)
    assert n.x >= s.image_rect.right  # beside, not over, the screenshot
    assert n.width <= MAX_SIDE


def test_phone_shot_without_note_is_centred():
    frame = page_frame("a4")
    (s,) = plan_exhibit(1170, 2532, [], "a4")
    assert s.note_rect is None
    left = s.image_rect.x - frame.content.x
    right = frame.content.right - s.image_rect.right
    assert left == pytest.approx(right)


def test_tall_scroll_capture_splits_at_blank_rows_and_stays_legible():
    im = chat_image(1170, 20000)
    cuts = find_cut_rows(im)
    frame = page_frame("letter")
    slices = plan_exhibit(1170, 20000, cuts, "letter", note="The whole conversation.")
    assert 4 <= len(slices) <= 12
    end = covered(slices, 20000)
    assert end == 20000 or all(r in set(cuts) for r in range(end, 20000))
    blank = set(cuts)
    for s in slices[:-1]:
        assert s.bottom in blank and s.bottom == slices[s.index + 1].top  # cut in a gap, no overlap
    for s in slices:
        assert (s.index, s.count) == (slices.index(s), len(slices))
        assert frame.content.contains(s.image_rect)
        # one scale for the whole exhibit, and text at or above the floor
        assert s.scale == slices[0].scale
        assert s.scale * 1170 / 24 >= MIN_TEXT_PT
        # never a sliver: the screenshot gets at least half the usable width
        assert s.image_rect.width >= 0.5 * frame.content.width
    # the note sits on exactly one page (the first: no highlight)
    assert [s.note_rect is not None for s in slices] == [True] + [False] * (len(slices) - 1)


def test_text_height_from_ocr_sets_the_scale():
    lines = [OcrLine("hello", Box(0, 0, 100, 40), 0.9), OcrLine("x", Box(0, 0, 10, 60), 0.9),
             OcrLine("y", Box(0, 0, 10, 50), 0.9)]
    assert typical_text_px(lines) == 50
    assert typical_text_px([]) is None
    slices = plan_exhibit(1170, 20000, [], "letter", text_px=50)
    assert slices[0].scale * 50 == pytest.approx(12.0)  # split_text_pt


def test_no_blank_rows_cuts_through_with_overlap():
    slices = plan_exhibit(1170, 12000, [], "letter")
    assert len(slices) >= 3
    covered(slices, 12000)
    assert slices[-1].bottom == 12000
    for a, b in zip(slices, slices[1:]):
        assert 0 < a.bottom - b.top <= 60  # a strip is repeated so no line is lost


def test_landscape_desktop_shot_fits_width_with_note_below():
    (s,) = plan_exhibit(1920, 1080, [], "letter", note="Email thread with the customer.")
    assert s.page == (792.0, 612.0)  # the same paper, turned
    frame = page_frame(s.page)
    assert s.image_rect.width == pytest.approx(frame.content.width)
    assert s.note_rect is not None
    assert s.note_rect.top <= s.image_rect.y  # below the screenshot
    assert s.note_rect.width == pytest.approx(frame.content.width)
    assert frame.content.contains(s.note_rect)


def test_note_goes_on_the_page_with_the_highlight():
    im = chat_image(1170, 15000)
    highlight = Box(40, 11000, 700, 11160)
    slices = plan_exhibit(1170, 15000, find_cut_rows(im), "letter", note="This line.",
                          highlight=highlight)
    with_note = [s for s in slices if s.note_rect is not None]
    assert len(with_note) == 1
    s = with_note[0]
    assert s.top <= highlight.y0 < s.bottom
    mark = s.box_to_page(highlight)
    assert mark is not None and s.image_rect.contains(mark)


def test_a_400_char_note_wraps_inside_its_callout():
    note = ("The customer wrote that the parcel arrived in good condition and thanked us. "
            * 6)[:400]
    (s,) = plan_exhibit(1170, 2532, [], "letter", note=note)
    text = annotate.callout_text(note, s.note_rect.width, max_height=s.note_rect.height)
    assert len(text.lines) >= 5
    inner = s.note_rect.width - 2 * annotate.NOTE_PAD
    assert all(annotate.text_width(line) <= inner + 0.01 for line in text.lines)
    assert text.height <= s.note_rect.height + 0.01
    assert " ".join(text.lines).split() == note.split()  # nothing lost
    assert annotate.NOTE_SIZE >= 11


def test_slice_maps_source_pixels_to_the_page():
    (s,) = plan_exhibit(1000, 2000, [], "letter")
    assert s.to_page(0, 0) == pytest.approx((s.image_rect.x, s.image_rect.top))
    assert s.to_page(1000, 2000) == pytest.approx((s.image_rect.right, s.image_rect.y))
    r = s.box_to_page(Box(-50, -50, 500, 1000))  # clipped to the image
    assert r == Rect(s.image_rect.x, s.image_rect.top - 1000 * s.scale, 500 * s.scale,
                     1000 * s.scale)
    assert s.box_to_page(Box(0, 3000, 10, 3100)) is None


@pytest.mark.parametrize("w,h", [(0, 100), (100, 0), (-5, 100), (10**7, 100), (100, 10**7),
                                 (1.5, 100), ("a", 100)])
def test_absurd_image_sizes_are_refused(w, h):
    with pytest.raises(LayoutError):
        plan_exhibit(w, h, [], "letter")


def test_too_many_pages_are_refused():
    with pytest.raises(LayoutError, match="more than"):
        plan_exhibit(1170, 199_000, [], "letter", split_text_pt=60, min_text_pt=60)


def test_unknown_cut_rows_outside_the_image_are_ignored():
    slices = plan_exhibit(1170, 8000, [-5, 0, 4000, 9000, 10**6], "letter")
    assert slices[-1].bottom == 8000


@pytest.mark.parametrize("paper", ["letter", "a4"])
@pytest.mark.parametrize("note", [None, "Client orders the Logo Starter package and sends "
                                        "the brief for the new shop"])
def test_desktop_capture_covers_most_of_the_printable_area(paper, note):
    """A 1440x900 capture covers >= 60 % of the page less 1 in of side margins and 2 in
    for header and footer (it covered 47 % on a portrait page)."""
    slices = plan_exhibit(1440, 900, [], paper, note=note, text_px=20)
    assert len(slices) == 1
    s = slices[0]
    w, h = s.page or page_frame(paper).page
    assert sorted((w, h)) == sorted(page_frame(paper).page)  # still Letter / A4
    printable = (w - 72) * (h - 144)
    assert s.image_rect.width * s.image_rect.height >= 0.60 * printable
    upright = plan_exhibit(1440, 900, [], paper, note=note, text_px=20, turn=False)[0]
    assert s.scale > upright.scale * 1.2  # its text is larger than on the upright page
    if note:
        assert s.note_rect.top <= s.image_rect.y  # never over the screenshot


def test_phone_capture_stays_portrait():
    (s,) = plan_exhibit(585, 1266, [], "letter", note="x")
    assert s.page is None
