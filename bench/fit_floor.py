"""Measure the legibility floor that evidence/fit.py relies on.

Renders chat-like cards (Bitstream Vera from reportlab, the three required fields: a
name, two e-mail addresses full of dots, a date) in the four styles a chat screenshot
uses (black on white, black on a grey bubble, white on a blue bubble, grey caption on
white), encodes them the way fit.py does (JPEG quality 90..10 with 4:2:0 and 4:4:4
chroma, palette PNG with 256..8 colours), reads them back with the real rapidocr and
counts the fields that still read *exactly* (whitespace ignored).

Then it downscales a large card step by step and reports at which OCR box height the
e-mail addresses stop reading (fit.py's 12 px floor is on that same box height: the
pipeline's `min_text_px` is the height of an OCR box).

Finally it prints what each encoding costs in bytes on a full phone screenshot, so the
ladder's steps can be judged by what they save.

    python bench/fit_floor.py            # full tables (a few minutes on 2 cores)
    python bench/fit_floor.py --quick    # fewer sizes and qualities
"""
from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import reportlab
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from evidence.fit import encode_jpeg, encode_palette, resample  # noqa: E402

FONT_DIR = os.path.join(os.path.dirname(reportlab.__file__), "fonts")
NAME = "Jane Cooper"
EMAILS = ("jane.cooper@example.com", "m.o.reilly@shop-mail.co.uk")
DATE = "Oct 28, 2024"
FIELDS = (("name", NAME), ("email", EMAILS[0]), ("email", EMAILS[1]), ("date", DATE))
# (label, bubble fill, text colour): what chat apps draw
STYLES = (("white", "#FFFFFF", "#000000"), ("grey", "#E9E9EB", "#000000"),
          ("blue", "#0B84FF", "#FFFFFF"), ("caption", "#FFFFFF", "#8E8E93"))
WORDS = ("the order was delivered on time but the package was empty when I opened it "
         "please refund my card ok I will check with the courier and get back to you "
         "tomorrow thanks here is the tracking number and a photo of the box").split()


def font(px: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(os.path.join(FONT_DIR, "VeraBd.ttf" if bold else "Vera.ttf"), px)


def render_card(font_px: int, width: int = 750, min_height: int = 1000,
                shift: int = 0) -> Image.Image:
    """Every field in every style, each in its own bubble, at one font size. `shift`
    moves everything by a few px, so a later downscale samples the glyphs differently."""
    f = font(font_px)
    line = round(font_px * 1.7)
    pad = round(font_px * 0.8)
    height = max(min_height, len(STYLES) * (len(FIELDS) * line + 2 * pad + font_px) + 40)
    im = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(im)
    y = 20 + shift
    for _, fill, ink in STYLES:
        tw = max(d.textlength(t, font=f) for _, t in FIELDS)
        x = 16 + shift
        d.rounded_rectangle([x, y, x + tw + 2 * pad, y + len(FIELDS) * line + 2 * pad],
                            radius=pad, fill=fill)
        for k, (_, text) in enumerate(FIELDS):
            d.text((x + pad, y + pad + k * line), text, font=f, fill=ink)
        y += len(FIELDS) * line + 2 * pad + font_px
    return im


def render_phone(width: int = 1170, height: int = 2532, density: float = 3.0, seed: int = 0,
                 name: str = NAME, email: str = EMAILS[0], date: str = DATE) -> Image.Image:
    """A phone chat screenshot: header with the contact's name and e-mail, a date line,
    then grey (incoming) and blue (outgoing) bubbles of 17 pt text at `density` px/pt."""
    rnd = random.Random(seed)
    d_ = density
    im = Image.new("RGB", (width, height), "white")
    dr = ImageDraw.Draw(im)
    body, small, head = font(round(17 * d_)), font(round(12 * d_)), font(round(17 * d_), True)
    dr.rectangle([0, 0, width, int(100 * d_)], fill="#F6F6F6")
    dr.line([0, int(100 * d_), width, int(100 * d_)], fill="#D1D1D6", width=max(1, int(d_ / 2)))
    dr.text((width // 2, int(60 * d_)), name, font=head, fill="black", anchor="mm")
    dr.text((width // 2, int(85 * d_)), email, font=small, fill="#8E8E93", anchor="mm")
    y = int(115 * d_)
    dr.text((width // 2, y), f"{date} at 3:14 PM", font=small, fill="#8E8E93", anchor="mt")
    y += int(28 * d_)
    i = 0
    lh = int(22 * d_)
    while y < height - 90 * d_:
        out = i % 2 == 1
        text = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(3, 14)))
        if i == 2:
            text = "you can reach me at " + email
        lines, cur = [], ""
        for word in text.split():
            t = (cur + " " + word).strip()
            if dr.textlength(t, font=body) > width * 0.66 and cur:
                lines.append(cur)
                cur = word
            else:
                cur = t
        lines.append(cur)
        tw = max(dr.textlength(x, font=body) for x in lines)
        bw, bh = tw + 24 * d_, lh * len(lines) + 14 * d_
        x0 = width - 12 * d_ - bw if out else 12 * d_
        if y + bh > height - 90 * d_:
            break
        dr.rounded_rectangle([x0, y, x0 + bw, y + bh], radius=int(17 * d_),
                             fill="#0B84FF" if out else "#E9E9EB")
        for k, x in enumerate(lines):
            dr.text((x0 + 12 * d_, y + 6 * d_ + k * lh), x, font=body,
                    fill="white" if out else "black")
        y += bh + 8 * d_
        i += 1
    # the input bar
    dr.rectangle([0, height - int(80 * d_), width, height], fill="#F6F6F6")
    dr.rounded_rectangle([int(50 * d_), height - int(68 * d_), width - int(50 * d_),
                          height - int(36 * d_)], radius=int(16 * d_), fill="white",
                         outline="#D1D1D6", width=max(1, int(d_ / 2)))
    return im


# ---------------------------------------------------------------------------------------

ENCODINGS_FULL = (["png"] + [f"jpeg{q}/420" for q in range(90, 0, -10)]
                  + [f"jpeg{q}/444" for q in range(90, 0, -10)]
                  + [f"pal{c}" for c in (256, 64, 32, 16, 8)])
ENCODINGS_QUICK = (["png"] + [f"jpeg{q}/420" for q in (90, 70, 50, 40, 30, 20)]
                   + [f"jpeg{q}/444" for q in (50, 30)] + [f"pal{c}" for c in (256, 32, 16)])


def encode(img: Image.Image, enc: str) -> bytes:
    if enc == "png":
        out = io.BytesIO()
        img.save(out, "PNG", compress_level=1)
        return out.getvalue()
    if enc.startswith("jpeg"):
        q, ss = enc[4:].split("/")
        return encode_jpeg(img, int(q), subsampling=2 if ss == "420" else 0)
    if enc.startswith("pal"):
        return encode_palette(img, int(enc[3:]))
    raise ValueError(enc)


def norm(s: str) -> str:
    return "".join(s.split())


class Reader:
    def __init__(self):
        from rapidocr import RapidOCR
        self.engine = RapidOCR(params={"Global.log_level": "error"})
        self.calls = 0
        self.seconds = 0.0

    def read(self, img: Image.Image) -> list[tuple[str, float]]:
        """(text, box height) for each line rapidocr finds."""
        t = time.perf_counter()
        r = self.engine(np.asarray(img.convert("RGB")))
        self.seconds += time.perf_counter() - t
        self.calls += 1
        if not r.txts:
            return []
        return [(str(txt), float(np.max(b[:, 1]) - np.min(b[:, 1])))
                for txt, b in zip(r.txts, np.asarray(r.boxes))]


def score(lines: list[tuple[str, float]]) -> dict[str, int]:
    """How many of each field read exactly (there is one bubble per style)."""
    got = [norm(t) for t, _ in lines]
    counts = {"name": 0, "email": 0, "date": 0}
    for field, text in FIELDS:
        counts[field] += min(len(STYLES), got.count(norm(text)))
    return counts


def email_box_height(lines: list[tuple[str, float]]) -> float | None:
    hs = [h for t, h in lines if norm(t) in {norm(e) for e in EMAILS}]
    return statistics.median(hs) if hs else None


def quality_table(reader: Reader, sizes: list[int], encodings: list[str]) -> None:
    n_email = 2 * len(STYLES)
    n_all = len(FIELDS) * len(STYLES)
    print(f"\n== exact reads by encoding and font size (emails /{n_email}, all fields /{n_all}) ==")
    cards = {px: render_card(px) for px in sizes}
    heights = {}
    header = f"{'encoding':<12}" + "".join(f" | font {px:>2} px" for px in sizes)
    rows = []
    for enc in encodings:
        cells = []
        for px in sizes:
            data = encode(cards[px], enc)
            img = Image.open(io.BytesIO(data)).convert("RGB")
            lines = reader.read(img)
            if enc == "png":
                heights[px] = email_box_height(lines)
            c = score(lines)
            cells.append(f" | {c['email']:>2} {sum(c.values()):>2} {len(data) // 1024:>3}K")
        rows.append(f"{enc:<12}" + "".join(cells))
    print("box px     " + "".join(
        f" | box {heights[px]:>5.1f}  " if heights[px] else " | box   ?    " for px in sizes))
    print(header)
    for r in rows:
        print(r)
    print("(cell: e-mails read exactly, all fields read exactly, bytes of the card)")


def downscale_table(reader: Reader, base_px: int, scales: list[float], encodings: list[str]) -> None:
    card = render_card(base_px, width=1000, min_height=1200)
    base = email_box_height(reader.read(card)) or float("nan")
    print(f"\n== e-mails read exactly after downscale (font {base_px} px, e-mail box {base:.1f} px "
          f"at scale 1; /{2 * len(STYLES)}) ==")
    print(f"{'scale':>6} {'box px':>7} " + " ".join(f"{e:>10}" for e in encodings))
    for s in scales:
        small = resample(card, s)
        cells = []
        for enc in encodings:
            img = Image.open(io.BytesIO(encode(small, enc))).convert("RGB")
            cells.append(f"{score(reader.read(img))['email']:>10}")
        print(f"{s:>6.2f} {base * s:>7.1f} " + " ".join(cells))


def small_text_table(reader: Reader, base_px: int, scales: list[float], encodings: list[str],
                     shifts: tuple[int, ...] = (0, 1, 2)) -> None:
    """The corner that matters: text near the 12 px floor, at each JPEG quality. Each
    cell renders the card `len(shifts)` times at different sub-pixel phases."""
    cards = [render_card(base_px, width=1000, min_height=1200, shift=s) for s in shifts]
    base = email_box_height(reader.read(cards[0])) or float("nan")
    n = 2 * len(STYLES) * len(shifts)
    print(f"\n== small text: e-mails read exactly (/{n}), all fields (/{2 * n}) "
          f"(font {base_px} px, e-mail box {base:.1f} px at scale 1) ==")
    print(f"{'scale':>6} {'box px':>7} " + " ".join(f"{e:>11}" for e in encodings))
    misreads: dict[str, set[str]] = {}
    for s in scales:
        cells = []
        for enc in encodings:
            em = allf = 0
            for card in cards:
                img = Image.open(io.BytesIO(encode(resample(card, s), enc))).convert("RGB")
                lines = reader.read(img)
                c = score(lines)
                em += c["email"]
                allf += sum(c.values())
                for t, _ in lines:
                    if "@" in t and norm(t) not in {norm(e) for e in EMAILS}:
                        misreads.setdefault(enc, set()).add(t)
            cells.append(f"{em:>5} {allf:>5}")
        print(f"{s:>6.2f} {base * s:>7.1f} " + " ".join(cells))
    for enc, bad in misreads.items():
        print(f"  misread by {enc}: " + ", ".join(sorted(bad)[:6]))


def bytes_table() -> None:
    phone = render_phone()
    print(f"\n== bytes of one {phone.width}x{phone.height} chat screenshot (17 pt text @3x) ==")
    encs = ["png", "pal256", "pal64", "pal32", "pal16"] + [f"jpeg{q}/420" for q in
                                                           (90, 80, 70, 60, 50, 40, 30)]
    encs += ["jpeg90/444", "jpeg50/444"]
    scales = (1.0, 0.85, 0.7, 0.6, 0.5, 0.4, 0.3)
    print(f"{'encoding':<12}" + "".join(f" {s:>7.2f}" for s in scales))
    for enc in encs:
        cells = []
        for s in scales:
            cells.append(f" {len(encode(resample(phone, s), enc)) / 1024:>6.0f}K")
        print(f"{enc:<12}" + "".join(cells))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--skip-downscale", action="store_true")
    ap.add_argument("--skip-small", action="store_true")
    ap.add_argument("--skip-bytes", action="store_true")
    ap.add_argument("--small-scales", type=float, nargs="+", default=None)
    ap.add_argument("--small-encodings", nargs="+", default=None)
    ap.add_argument("--shifts", type=int, default=3, help="sub-pixel phases per cell")
    args = ap.parse_args()
    t0 = time.perf_counter()
    if not args.skip_bytes:
        bytes_table()
    reader = Reader()
    if not args.skip_quality:
        sizes = [12, 16, 24] if args.quick else [12, 14, 16, 20, 24]
        quality_table(reader, sizes, ENCODINGS_QUICK if args.quick else ENCODINGS_FULL)
    if not args.skip_downscale:
        scales = ([1.0, 0.6, 0.5, 0.4, 0.35, 0.3] if args.quick else
                  [1.0, 0.8, 0.7, 0.6, 0.55, 0.5, 0.45, 0.4, 0.35, 0.3, 0.25])
        downscale_table(reader, 32, scales, ["png", "pal256", "pal32", "jpeg60/420",
                                             "jpeg50/420", "jpeg40/420"])
    if not args.skip_small:
        scales = args.small_scales or ([0.4, 0.32] if args.quick else [0.4, 0.36, 0.32, 0.29])
        encs = args.small_encodings or (["png", "pal256"] + [
            f"jpeg{q}/420" for q in ((80, 60, 50, 40) if args.quick else (90, 80, 70, 60, 50, 40))])
        small_text_table(reader, 32, scales, encs, shifts=tuple(range(args.shifts)))
    print(f"\n{reader.calls} OCR calls, {reader.seconds:.0f} s OCR, "
          f"{time.perf_counter() - t0:.0f} s in all")


if __name__ == "__main__":
    main()
