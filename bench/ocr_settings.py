"""Which rapidocr settings to ship: speed against reading the fields we check.

Renders chat-like phone screenshots with Pillow (Bitstream Vera from reportlab), each
with a contact name, an email address and a date line, and reads each with several
rapidocr settings in one process (1 onnxruntime thread, as in a worker). Reports the
median seconds per image and how many names / emails / dates were read exactly (one
OCR line contains the exact string). Settings are interleaved image by image, so load
from other processes hits them alike.

    python bench/ocr_settings.py [--n 12] [--reps 1] [--save DIR]
    python bench/ocr_settings.py --fixtures 12 [--fixture-scale 1.0]   # fixtures.generate
    python bench/ocr_settings.py --tall        # a 20000 px capture: whole vs in strips

Not a test: timings depend on the machine and its load.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import reportlab  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from evidence.ocr.rapid import RapidEngine  # noqa: E402

FONT_DIR = os.path.join(os.path.dirname(reportlab.__file__), "fonts")
REGULAR = os.path.join(FONT_DIR, "Vera.ttf")
BOLD = os.path.join(FONT_DIR, "VeraBd.ttf")

CONFIGS = {
    "default (min 736, cls)": dict(det_limit_type="min", det_limit_side_len=736, use_cls=True),
    "min 736, no cls": dict(det_limit_type="min", det_limit_side_len=736, use_cls=False),
    "max 1280, no cls": dict(det_limit_type="max", det_limit_side_len=1280, use_cls=False),
    "max 960, no cls": dict(det_limit_type="max", det_limit_side_len=960, use_cls=False),
    # rapidocr first shrinks the whole image to Global.max_side_len (2000) and crops the
    # text lines for recognition from that: let phone screenshots through whole.
    "max 1280, no cls, side 4000": dict(det_limit_type="max", det_limit_side_len=1280,
                                        use_cls=False, max_side_len=4000),
    "max 960, no cls, side 4000": dict(det_limit_type="max", det_limit_side_len=960,
                                       use_cls=False, max_side_len=4000),
    "max 1024, no cls, side 4000": dict(det_limit_type="max", det_limit_side_len=1024,
                                        use_cls=False, max_side_len=4000),
}

# (width, height, pixels per point): common phone screenshot sizes.
DEVICES = [(1170, 2532, 3.0), (1080, 2400, 2.625), (1290, 2796, 3.0), (750, 1334, 2.0),
           (1080, 2340, 2.625), (1644, 3840, 3.5), (1284, 2778, 3.0), (720, 1600, 1.75)]
PEOPLE = [("Jane Doe", "jane.doe@example.com"),
          ("Olivia Martinez", "olivia.martinez82@gmail.com"),
          ("Liam O'Connor", "liam_oconnor@outlook.com"),
          ("Kim Nguyen", "k.nguyen@protonmail.com"),
          ("Marcus Whitfield", "mwhitfield@yahoo.co.uk"),
          ("Priya Raman", "priya.raman@fastmail.com")]
DATES = ["Tuesday, March 5, 2024", "Mar 12, 2024 at 9:15 AM", "12/03/2024",
         "2024-03-05 14:07", "5 March 2024", "Friday 9 Feb 2024"]
FILLER = ["Hi, I ordered the blue jacket last week", "Did it ship yet?",
          "Yes, it went out on Monday with tracking", "Great, thanks so much!",
          "The tracking number is in the email we sent", "It says delivered but I have nothing",
          "Can you check with your neighbours?", "I did, nobody has it", "Sorry to hear that",
          "We will open a claim with the carrier today", "Okay, please keep me posted",
          "Refund issued, allow 3-5 days", "Got it, thank you", "Order #48213 confirmed"]


@dataclass
class Shot:
    image: Image.Image
    name: str
    email: str
    date: str
    label: str


def render(i: int) -> Shot:
    rnd = random.Random(i)
    width, height, ppt = DEVICES[i % len(DEVICES)]
    name, email = PEOPLE[i % len(PEOPLE)]
    date = DATES[i % len(DATES)]
    dark = i % 4 == 3
    zoom = rnd.choice([0.85, 1.0, 1.0, 1.15])
    bg, fg, grey = ((0, 0, 0), (255, 255, 255), (150, 150, 155)) if dark else \
        ((255, 255, 255), (0, 0, 0), (128, 128, 133))
    them_bubble = (38, 38, 41) if dark else (233, 233, 235)
    me_bubble, me_text = (10, 132, 255), (255, 255, 255)
    body = ImageFont.truetype(REGULAR, round(17 * ppt * zoom))
    small = ImageFont.truetype(REGULAR, round(12 * ppt * zoom))
    title = ImageFont.truetype(BOLD, round(17 * ppt))
    im = Image.new("RGB", (width, height), bg)
    d = ImageDraw.Draw(im)
    pad = round(16 * ppt)
    d.text((pad * 1.5, round(14 * ppt)), "9:41", font=small, fill=fg)
    y = round(56 * ppt)
    d.text((width / 2, y), name, font=title, fill=fg, anchor="mt")
    y += round(34 * ppt)
    d.line((0, y, width, y), fill=grey, width=max(1, round(ppt / 2)))
    y += round(16 * ppt)
    d.text((width / 2, y), date, font=small, fill=grey, anchor="mt")
    y += round(28 * ppt)
    messages = rnd.sample(FILLER, 6)
    messages.insert(rnd.randrange(1, 4), f"My email is {email}")
    for k, text in enumerate(messages):
        mine = k % 2 == 1
        tw = d.textlength(text, font=body)
        max_w = width * 0.72
        words, rows, row = text.split(), [], ""
        for w in words:
            cand = (row + " " + w).strip()
            if d.textlength(cand, font=body) > max_w and row:
                rows.append(row)
                row = w
            else:
                row = cand
        rows.append(row)
        tw = max(d.textlength(r, font=body) for r in rows)
        line_h = round(body.size * 1.3)
        bw, bh = tw + 2 * pad, line_h * len(rows) + pad
        x0 = width - pad - bw if mine else pad
        if y + bh + 3 * small.size > height - round(60 * ppt):
            break
        d.rounded_rectangle((x0, y, x0 + bw, y + bh), radius=round(18 * ppt),
                            fill=me_bubble if mine else them_bubble)
        for r, row in enumerate(rows):
            d.text((x0 + pad, y + pad / 2 + r * line_h), row, font=body,
                   fill=me_text if mine else fg)
        y += bh + round(4 * ppt)
        stamp = f"{9 + k // 3}:{(k * 7 + 3) % 60:02d} AM"
        d.text((x0 + bw if mine else x0, y), stamp, font=small, fill=grey,
               anchor="ra" if mine else "la")
        y += small.size + round(14 * ppt)
    d.rounded_rectangle((pad, height - round(50 * ppt), width - pad, height - round(14 * ppt)),
                        radius=round(18 * ppt), outline=grey, width=max(1, round(ppt / 2)))
    d.text((pad * 2, height - round(40 * ppt)), "iMessage", font=body, fill=grey)
    if i % 3 == 2:  # some people send JPEGs
        from io import BytesIO
        buf = BytesIO()
        im.save(buf, "JPEG", quality=80)
        im = Image.open(BytesIO(buf.getvalue())).convert("RGB")
    label = f"{width}x{height}{' dark' if dark else ''}{' jpeg' if i % 3 == 2 else ''} zoom{zoom}"
    return Shot(im, name, email, date, label)


def fixture_shots(n: int, scale: float) -> list[Shot]:
    """n screenshots from fixtures.generate.phone_series, fields from its truth.json."""
    import tempfile

    from fixtures.generate import phone_series

    case = Path(tempfile.mkdtemp(prefix="ocr-bench-"))
    truth = phone_series(case, n, scale=scale)
    shots = []
    for t in truth["screenshots"]:
        im = Image.open(case / t["file"]).convert("RGB")
        shots.append(Shot(im, t["name_shown"], t["email_shown"], t["date_text"],
                          f"{im.width}x{im.height} {t['layout']} {t['font']}"))
    return shots


def tall_check(configs: dict) -> None:
    """Read fixtures.generate.tall_screenshot (1170 x 20000) whole and in strips."""
    import re

    from fixtures.generate import tall_screenshot

    from evidence.ocr.tiling import recognize_tiled, tile_spans

    im = tall_screenshot(height=20000, width=1170).convert("RGB")
    print(f"tall 1170x20000, {len(tile_spans(*im.size))} strips")
    for label, cfg in configs.items():
        e = RapidEngine(threads=1, **cfg)
        for how, read in (("whole", e.recognize), ("strips", lambda i: recognize_tiled(e, i))):
            t = time.perf_counter()
            lines = read(im)
            dt = time.perf_counter() - t
            ks = [int(m.group(1)) for line in lines
                  for m in [re.match(r"Message (\d+):", line.text)] if m]
            print(f"  {label:24} {how:6} {dt:6.1f} s  name {found(lines, 'Jane Cooper')}  "
                  f"email {found(lines, 'jane.cooper@example.com')}  "
                  f"date {found(lines, 'Oct 28, 2024')}  messages {len(set(ks))} "
                  f"(duplicates {len(ks) - len(set(ks))}, highest {max(ks, default=0)})")


def found(lines, s: str) -> bool:
    return any(s in line.text for line in lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=12)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--save", type=Path, help="also save the rendered images here")
    ap.add_argument("--verbose", action="store_true", help="print misses")
    ap.add_argument("--fixtures", type=int, metavar="N",
                    help="use N screenshots from fixtures.generate.phone_series instead")
    ap.add_argument("--fixture-scale", type=float, default=1.0,
                    help="phone_series scale (1.0: 1170 px wide, 0.5: 585)")
    ap.add_argument("--tall", action="store_true",
                    help="read a 20000 px tall capture whole and in strips, then stop")
    ap.add_argument("--only", action="append", metavar="TEXT",
                    help="only the settings whose label contains TEXT (repeatable)")
    args = ap.parse_args()
    configs = {k: v for k, v in CONFIGS.items()
               if not args.only or any(t in k for t in args.only)}

    if args.tall:
        tall_check(configs)
        return
    shots = (fixture_shots(args.fixtures, args.fixture_scale) if args.fixtures
             else [render(i) for i in range(args.n)])
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
        for i, s in enumerate(shots):
            s.image.save(args.save / f"shot{i:02d}.png")
    engines = {label: RapidEngine(threads=1, **cfg) for label, cfg in configs.items()}
    for e in engines.values():  # warm up
        e.recognize(shots[0].image)
    times = {label: [] for label in engines}
    hits = {label: {"name": 0, "email": 0, "date": 0} for label in engines}
    for rep in range(args.reps):
        for s in shots:
            for label, e in engines.items():
                t = time.perf_counter()
                lines = e.recognize(s.image)
                times[label].append(time.perf_counter() - t)
                if rep == 0:
                    for field in ("name", "email", "date"):
                        ok = found(lines, getattr(s, field))
                        hits[label][field] += ok
                        if not ok and args.verbose:
                            print(f"  miss [{label}] {s.label} {field}={getattr(s, field)!r}: "
                                  f"{[line.text for line in lines]}")
    n = len(shots)
    print(f"{n} images x {args.reps} rep(s), rapidocr {RapidEngine.key_for().split(';')[0]}, "
          "1 thread, medians")
    print(f"{'setting':28} {'s/image':>8} {'min':>6} {'max':>6}  name   email  date")
    for label in engines:
        ts = times[label]
        h = hits[label]
        print(f"{label:28} {statistics.median(ts):8.2f} {min(ts):6.2f} {max(ts):6.2f}  "
              f"{h['name']:2}/{n:<3} {h['email']:2}/{n:<3} {h['date']:2}/{n}")
    print("images:", "; ".join(s.label for s in shots))


if __name__ == "__main__":
    main()
