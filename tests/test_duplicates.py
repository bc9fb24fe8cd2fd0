import io
import os
import random

import pytest
from PIL import Image, ImageDraw, ImageFont

from evidence.duplicates import (FINGERPRINT_LENGTH, MAX_HASH_DISTANCE, find_duplicates,
                                 fingerprint, hash_distance)
from evidence.imageio import open_image

WORDS = ("sure thing the draft is ready can you check it please looks great thanks we will "
         "ship tomorrow morning invoice attached payment received logo colors final version "
         "approved call me later when is the deadline okay perfect").split()


def _font(size):
    import reportlab
    return ImageFont.truetype(
        os.path.join(os.path.dirname(reportlab.__file__), "fonts", "Vera.ttf"), size)


def _words(rng, n):
    s = ""
    while len(s) < n:
        s += (" " if s else "") + rng.choice(WORDS)
    return s[:n]


def chat(seed, name="Jane Cooper", size=(540, 1170)):
    """A chat screenshot. Every seed has the same layout (header, bubble sizes and
    places, input bar); the seed only picks the words. Returns (image, its text)."""
    rng = random.Random(seed)
    layout = random.Random(1234)
    W, H = size
    f, fs = _font(20), _font(13)
    img = Image.new("RGB", size, (236, 229, 221))
    d = ImageDraw.Draw(img)
    d.rectangle([0, 0, W, 90], fill=(7, 94, 84))
    d.ellipse([12, 25, 52, 65], fill=(200, 200, 200))
    d.text((70, 30), name, font=f, fill="white")
    d.text((70, 58), "online", font=fs, fill=(220, 220, 220))
    texts = [name, "online"]
    y = 110
    for k in range(14):
        text = _words(rng, layout.randint(8, 60))
        rows = [text[i:i + 28] for i in range(0, len(text), 28)]
        w = max(f.getlength(r) for r in rows) + 30
        h = 28 * len(rows) + 30
        x0 = W - 15 - w if k % 2 else 15
        d.rounded_rectangle([x0, y, x0 + w, y + h], radius=10,
                            fill=(220, 248, 198) if k % 2 else "white")
        for i, r in enumerate(rows):
            d.text((x0 + 15, y + 10 + 28 * i), r, font=f, fill=(20, 20, 20))
        d.text((x0 + w - 50, y + h - 18), f"10:{k:02d}", font=fs, fill=(120, 120, 120))
        texts += rows + [f"10:{k:02d}"]
        y += h + 12
    d.rectangle([0, H - 60, W, H], fill=(240, 240, 240))
    d.rounded_rectangle([10, H - 50, W - 70, H - 10], radius=20, fill="white")
    return img, "\n".join(texts)


def desktop(seed, size=(1600, 900)):
    """A desktop mail client, small text; same layout for every seed."""
    rng = random.Random(seed)
    layout = random.Random(99)
    f, fb = _font(14), _font(16)
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    d.rectangle([0, 0, 220, size[1]], fill=(40, 44, 52))
    for k, label in enumerate(["Inbox", "Sent", "Drafts", "Archive", "Clients", "Invoices"]):
        d.text((20, 60 + 32 * k), label, font=fb, fill=(220, 220, 220))
    d.rectangle([220, 0, 620, size[1]], fill=(246, 246, 246))
    for k in range(14):
        d.text((240, 20 + 60 * k), _words(rng, 30), font=fb, fill=(30, 30, 30))
        d.text((240, 42 + 60 * k), _words(rng, 45), font=f, fill=(110, 110, 110))
    y = 80
    for _ in range(30):
        d.text((650, y), _words(rng, layout.randint(60, 110)), font=f, fill=(30, 30, 30))
        y += 24
    return img


def reencode(img, fmt, **kw):
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def test_fingerprint_is_short_hex_and_deterministic():
    img, _ = chat(0)
    fp = fingerprint(img)
    assert len(fp) == FINGERPRINT_LENGTH == 264
    int(fp, 16)
    assert fingerprint(img.copy()) == fp
    assert fingerprint(img.convert("L")) == fp  # color does not matter, only gray levels


@pytest.mark.parametrize("make", [chat, desktop], ids=["phone", "desktop"])
def test_copies_match_the_original(tmp_path, make):
    img = make(0)
    img = img[0] if isinstance(img, tuple) else img
    # re-saved PNG, through the same loader the pipeline uses
    img.save(tmp_path / "a.png")
    open_image(tmp_path / "a.png").save(tmp_path / "b.png", optimize=True)
    w, h = img.size
    copies = {
        "resaved.png": open_image(tmp_path / "b.png"),
        "q60.jpg": reencode(img, "JPEG", quality=60),
        "half.png": img.resize((w // 2, h // 2), Image.Resampling.LANCZOS),
        "half_q60.jpg": reencode(img.resize((w // 2, h // 2), Image.Resampling.BILINEAR),
                                 "JPEG", quality=60),
    }
    items = [("orig.png", fingerprint(img), None)]
    items += [(name, fingerprint(c), None) for name, c in copies.items()]
    assert find_duplicates(items) == [(name, "orig.png") for name in copies]
    for _, fp, _ in items[1:]:
        assert hash_distance(fp, items[0][1]) <= MAX_HASH_DISTANCE // 2  # room to spare


@pytest.mark.parametrize("make", [chat, desktop], ids=["phone", "desktop"])
def test_different_screenshots_with_the_same_layout_do_not_match(make):
    shots = [make(seed) for seed in range(4)]
    shots = [s[0] if isinstance(s, tuple) else s for s in shots]
    items = [(f"s{i}.png", fingerprint(s), None) for i, s in enumerate(shots)]
    assert find_duplicates(items) == []
    closest = min(hash_distance(a[1], b[1]) for i, a in enumerate(items) for b in items[i + 1:])
    assert closest > 2 * MAX_HASH_DISTANCE  # measured: 162 bits at least


def test_first_file_is_the_original_and_chains_resolve_to_it():
    img, _ = chat(0)
    other, _ = chat(1)
    a = fingerprint(img)
    b = fingerprint(reencode(img, "JPEG", quality=60))
    c = fingerprint(img.resize((270, 585), Image.Resampling.LANCZOS))
    items = [("x.png", fingerprint(other), None), ("a.png", a, None), ("b.jpg", b, None),
             ("c.png", c, None)]
    assert find_duplicates(items) == [("b.jpg", "a.png"), ("c.png", "a.png")]
    items = [items[3], items[0], items[2], items[1]]
    assert find_duplicates(items) == [("b.jpg", "c.png"), ("a.png", "c.png")]


def test_ocr_text_can_veto_but_never_join():
    img, text = chat(0)
    renamed, renamed_text = chat(0, name="John Smith")  # same bubbles, new header
    fp, fp2 = fingerprint(img), fingerprint(renamed)
    assert hash_distance(fp, fp2) <= MAX_HASH_DISTANCE  # the pixels alone cannot tell
    other_text = chat(3)[1]
    # texts that disagree keep look-alike images apart
    assert find_duplicates([("a", fp, text), ("b", fp, other_text)]) == []
    # OCR noise (a misread character or two, case, punctuation) does not
    noisy = text.replace("10:03", "10.03").replace("Jane", "JANE").replace("e", "c", 2)
    assert find_duplicates([("a", fp, text), ("b", fp, noisy)]) == [("b", "a")]
    # no text on either side: the image decides
    assert find_duplicates([("a", fp, text), ("b", fp, None)]) == [("b", "a")]
    assert find_duplicates([("a", fp, ""), ("b", fp, text)]) == [("b", "a")]
    # identical text on different images does not make them duplicates
    other_fp = fingerprint(chat(3)[0])
    assert find_duplicates([("a", fp, text), ("b", other_fp, text)]) == []


def test_blank_images_and_other_shapes_do_not_match():
    white = Image.new("RGB", (540, 1170), "white")
    black = Image.new("RGB", (540, 1170), "black")
    img, _ = chat(0)
    wide = Image.new("RGB", (640, 1170), (236, 229, 221))
    wide.paste(img, (50, 0))
    items = [(n, fingerprint(i), None) for n, i in
             [("white", white), ("black", black), ("chat", img), ("wide", wide)]]
    assert find_duplicates(items) == []


def test_malformed_fingerprints_are_refused():
    fp = fingerprint(Image.new("RGB", (10, 10)))
    for bad in ["", "zz" + fp[2:], "02" + fp[2:], fp[:-1], fp[:-1] + "g"]:
        with pytest.raises(ValueError):
            find_duplicates([("a", fp, None), ("b", bad, None)])


def test_candidates_only_pairs_texts_that_agree():
    from evidence.duplicates import candidates
    texts = ["Jane Cooper: the logo looks great, thanks!", "Jane Cooper: the logo looks great, thanks",
             "Invoice 1042 paid in full on Oct 3", None]
    assert candidates(texts[:3]) == {0, 1}
    assert candidates(texts) == {0, 1, 2, 3}  # no text: may repeat anything
    assert candidates(["a b c", "x y z"]) == set()


def test_same_template_with_other_digits_is_not_a_duplicate():
    from evidence.duplicates import _texts_agree, _norm_text
    a = _norm_text("Jane Cooper Oct 1, 2024 Here is the card 4111 1111 1111 1111 10:05 AM")
    b = _norm_text("Jane Cooper Oct 2, 2024 Here is the card 5500 0000 0000 0004 10:05 AM")
    assert not _texts_agree(a, b)
    assert _texts_agree(a, _norm_text("Jane Cooper Oct 1, 2024 Here is the card 4111 1111 1111 1111 10:05 AM."))


@pytest.mark.parametrize("other, same", [
    ("Ref PROOF-A1-2 the final files are attached jc 3", False),  # one number differs
    ("Ref PROOF-A1-1 the first files are attached jc 3", False),  # one word differs
    ("Ref PROOF-A1-1 the final files are attached jc 3 thanks", False),  # a new word
    ("3 Ref PROOF-A1-1 the final files are attached", True),  # lines reordered, a stray lost
    ("Ref PR00F-A1-1 the final fi1es are attached jc 3", False),  # a misread digit: kept apart
    ("Ref PROOF-A1-1 the finel files are attachedjc 3", True),  # a misread letter, words merged
])
def test_only_the_same_words_and_numbers_are_the_same_evidence(other, same):
    from evidence.duplicates import _norm_text, _texts_agree
    base = _norm_text("Ref PROOF-A1-1 the final files are attached jc 3")
    assert _texts_agree(base, _norm_text(other)) is same
    assert _texts_agree(_norm_text(other), base) is same
