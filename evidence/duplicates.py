"""Duplicate screenshots: the same picture twice, maybe re-saved, recompressed or resized.

A pure stage. `fingerprint` condenses one image into a short hex string (cache it with the
OCR); `find_duplicates` compares fingerprints, and OCR text when there is some, and says
which later files repeat an earlier one.

The hard part is that chat screenshots look alike: same app, same header, same bubble
layout. A 64-bit perceptual hash cannot tell two of them apart (measured: two different
conversations with the same bubble layout were 2 bits apart, as close as a JPEG copy).
What differs between them is the text, a high-frequency texture, so the fingerprint keeps
many more DCT coefficients: imagehash's `phash` with hash_size=32 (a 128x128 grayscale
thumbnail, the lowest 32x32 DCT coefficients, 1024 bits). Measured on rendered phone
(540x1170, 1080x2340) and desktop (1600x900) screenshots:

- the same image re-saved as PNG: 0 bits; JPEG q60/q30/q10, WebP q50, 0.5x or 0.33x or
  0.25x resize (Lanczos, bilinear, bicubic), 1.5x upscale, grayscale: at most 48 bits;
  0.5x nearest-neighbour resize (aliased text): up to 64 bits;
- different messages in exactly the same bubble layout: at least 162 bits; the same
  conversation scrolled by 40 px: 388 bits.

So two images are duplicates when their hashes differ by at most 64 bits (1/16), their
aspect ratios agree within 3% and their mean gray levels within 12 levels, and, when OCR
text is known for both, the texts say the same thing (`_texts_agree`): every number the
same, and words differing only by OCR noise (a misread letter, a stray one- or
two-letter token, a word split or merged). The text check is a veto only: it can keep two look-alike images apart,
never join two different ones.

So the same screen with one number changed (a reference, an amount, the status bar
clock) or one word changed is different evidence and both are kept; a re-save, a resize
or a recompression reads the same text and is left out.
"""
from __future__ import annotations

import re
from collections import Counter

import imagehash
import numpy as np
from PIL import Image
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

HASH_SIZE = 32  # phash side: HASH_SIZE**2 bits
HASH_BITS = HASH_SIZE * HASH_SIZE
FINGERPRINT_VERSION = "01"  # first two hex digits of every fingerprint; part of cache keys
MAX_HASH_DISTANCE = 64  # bits out of 1024
MAX_ASPECT_DIFF = 0.03  # relative
MAX_MEAN_DIFF = 12  # gray levels out of 255
MIN_TEXT_RATIO = 90.0  # rapidfuzz ratio of the normalized OCR texts, when both have text

_ASPECT_HEX = 4
_MEAN_HEX = 2
_HASH_HEX = HASH_BITS // 4
FINGERPRINT_LENGTH = len(FINGERPRINT_VERSION) + _ASPECT_HEX + _MEAN_HEX + _HASH_HEX


def fingerprint(image: Image.Image) -> str:
    """A hex string: version (2), aspect ratio w/h in 1/1000 (4), mean gray level (2), and
    the 1024-bit perceptual hash (256). 264 characters; the same for the same pixels."""
    gray = image.convert("L")
    w, h = gray.size
    aspect = min(0xFFFF, max(1, round(1000 * w / max(1, h))))
    hist = gray.histogram()
    n = sum(hist) or 1
    mean = min(255, round(sum(i * c for i, c in enumerate(hist)) / n))
    ph = imagehash.phash(gray, hash_size=HASH_SIZE)
    bits = 0
    for b in ph.hash.flatten():
        bits = (bits << 1) | int(bool(b))
    return f"{FINGERPRINT_VERSION}{aspect:04x}{mean:02x}{bits:0{_HASH_HEX}x}"


def _parse(fp: str) -> tuple[int, int, int]:
    if (not isinstance(fp, str) or len(fp) != FINGERPRINT_LENGTH
            or not fp.startswith(FINGERPRINT_VERSION)):
        raise ValueError(f"not a version-{FINGERPRINT_VERSION} fingerprint: {fp!r:.40}")
    try:
        i = len(FINGERPRINT_VERSION)
        aspect = int(fp[i:i + _ASPECT_HEX], 16)
        i += _ASPECT_HEX
        mean = int(fp[i:i + _MEAN_HEX], 16)
        i += _MEAN_HEX
        bits = int(fp[i:], 16)
    except ValueError:
        raise ValueError(f"not a hex fingerprint: {fp!r:.40}") from None
    return aspect, mean, bits


def hash_distance(a: str, b: str) -> int:
    """Bits that differ between two fingerprints' perceptual hashes (0..1024)."""
    return (_parse(a)[2] ^ _parse(b)[2]).bit_count()


def _norm_text(text: str | None) -> str:
    if not text:
        return ""
    return " ".join(re.findall(r"[0-9a-z]+", text.casefold()))


MAX_MISREAD = 1  # edits within one word that count as a misreading (2 from 8 letters)
MAX_STRAY = 2  # letters: a token this short may appear or vanish (a badge, an icon read as "jc")
NOISE_PER_WORDS = 20  # misread, stray, split or merged words allowed per this many (at least 3)


def _texts_agree(a: str, b: str) -> bool:
    """Whether two normalized OCR texts say the same thing, OCR noise discounted.

    Two screenshots that differ in one number (an order number, an amount, a date, a
    reference) or one word are different evidence. So every number must be the same
    (as a multiset: OCR may list lines in another order), and the words may differ only
    by OCR noise: a word misread by a letter (two from eight letters), one or two-letter
    strays, and words split or merged, a handful per text."""
    if not a or not b:  # no text on one side: nothing to veto with
        return True
    if a == b:
        return True
    if Counter(re.findall(r"\d+", a)) != Counter(re.findall(r"\d+", b)):
        return False
    wa, wb = Counter(re.findall(r"[a-z]+", a)), Counter(re.findall(r"[a-z]+", b))
    la, lb = list((wa - wb).elements()), list((wb - wa).elements())
    budget = max(3, sum(wa.values()) // NOISE_PER_WORDS)
    noise = 0
    for x in sorted(la, key=len, reverse=True):  # misread words
        near = [y for y in lb if Levenshtein.distance(x, y) <= (2 if len(x) >= 8 else MAX_MISREAD)]
        if near and len(x) > MAX_STRAY:
            lb.remove(near[0])
            la.remove(x)
            noise += 1
    for one, other in ((la, lb), (lb, la)):  # a word split in two on the other side
        for x in sorted(one, key=len, reverse=True):
            parts = next(((y, z) for y in other for z in other
                          if y is not z and (y + z == x or z + y == x)), None)
            if parts:
                one.remove(x)
                other.remove(parts[0])
                other.remove(parts[1])
                noise += 1
    if any(len(x) > MAX_STRAY for x in la + lb):
        return False  # a word on one side only: another message, another name
    return noise + len(la) + len(lb) <= budget


def explain(items: list[tuple[str, str, str | None]], duplicate: str, original: str) -> str:
    """What matched between `duplicate` and `original` (names in `items`), for the warning."""
    by = {name: (fp, text) for name, fp, text in items}
    (fa, ta), (fb, tb) = by[duplicate], by[original]
    why = f"same picture: {hash_distance(fa, fb)} of {HASH_BITS} hash bits differ"
    na, nb = _norm_text(ta), _norm_text(tb)
    if na and nb:
        words = len(na.split())
        if na == nb:
            why += f"; the same text, {words} words"
        else:
            why += f"; the same text, {words} words and every number, OCR noise aside"
    else:
        why += "; no text to compare"
    return why


def _images_match(a: tuple[int, int, int], b: tuple[int, int, int]) -> int | None:
    """The hash distance if the two parsed fingerprints match, else None."""
    (aa, ma, ha), (ab, mb, hb) = a, b
    if abs(aa - ab) > MAX_ASPECT_DIFF * max(aa, ab):
        return None
    if abs(ma - mb) > MAX_MEAN_DIFF:
        return None
    d = (ha ^ hb).bit_count()
    return d if d <= MAX_HASH_DISTANCE else None


def find_duplicates(items: list[tuple[str, str, str | None]]) -> list[tuple[str, str]]:
    """Later duplicates of earlier files: [(duplicate_file, original_file), ...].

    `items` are (file, fingerprint, ocr_text or None) in the order that decides which
    copy is the original: the first one wins. A file that repeats several earlier ones is
    reported once, against the closest; the original named is always a file that is not
    itself a duplicate. Raises ValueError on a malformed fingerprint.
    """
    parsed = [(_parse(fp), _norm_text(text)) for _, fp, text in items]
    root: list[int] = []  # root[i]: index of the original item i repeats (i if none)
    out: list[tuple[str, str]] = []
    for i, (pi, ti) in enumerate(parsed):
        best, best_d = None, None
        for j in range(i):
            pj, tj = parsed[j]
            d = _images_match(pi, pj)
            if d is None or (best_d is not None and d >= best_d):
                continue
            if not _texts_agree(ti, tj):
                continue
            best, best_d = j, d
        if best is None:
            root.append(i)
        else:
            root.append(root[best])
            out.append((items[i][0], items[root[best]][0]))
    return out


def candidates(texts: list[str | None]) -> set[int]:
    """Indexes of the items that may be a duplicate of another, judged by OCR text alone.

    Two images whose texts disagree are never duplicates (see `_texts_agree`), so only
    the items returned here need a fingerprint, which costs a full decode. An item with
    no text is always a candidate. Fast: one rapidfuzz matrix over all texts.
    """
    norm = [_norm_text(t) for t in texts]
    out = {i for i, t in enumerate(norm) if not t}
    with_text = [i for i, t in enumerate(norm) if t]
    if len(with_text) > 1:
        scores = process.cdist([norm[i] for i in with_text], [norm[i] for i in with_text],
                               scorer=fuzz.ratio, score_cutoff=MIN_TEXT_RATIO, dtype=np.uint8)
        np.fill_diagonal(scores, 0)
        for a, b in zip(*np.nonzero(scores)):
            out.add(with_text[a])
            out.add(with_text[b])
    if len(with_text) < len(norm):
        out.update(with_text)  # an image without text may repeat any other
    return out
