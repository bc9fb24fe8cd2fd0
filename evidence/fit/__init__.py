"""Fit the package under its byte cap: choose how each exhibit image is encoded.

`fit(items, budget, overhead=...)` encodes every exhibit image so that the images total
at most (budget - overhead) * 0.98, at the best rung of one quality ladder that fits,
the same rung for every image ("lower quality evenly, never ruin one page"). If even the
bottom rung (the legibility floor) is too big it raises TooBig (exit 3) with the overage
and the three heaviest exhibits, and nothing is written. The 2 % margin covers what we
cannot count here (PDF object headers around each image); the pipeline re-checks the
real file and may call again with a larger `overhead`.

The ladder (rung = a resolution cap in px per inch of the image's drawn width, a JPEG
quality and a palette's colour count; every image gets the same rung):

    rung    0   1   2   3   4   5   6   7   8   9  10  11  12  13  14  15
    dpi   300 300 300 300 300 250 200 200 170 150 125 110 100  90  80  72
    q      90  85  80  70  65  60  50  50  50  50  50  50  50  50  50  50
    colours 256 64 32  16   8   8   8   4   4   4   4   4   4   4   4   4

Colours first, at full resolution, then resolution: at OCRmyPDF's half on 60 generated
chats (bench/peer_bench.py --generated 60 --half), 4 colours at 125-150 dpi read the
e-mail on 12/12 sampled pages where 16 colours at 72 dpi (same bytes) read 8/12; on
the 20 real screenshots with an e-mail tesseract read 16/20 originals, 17/20 at 16
colours, 16/20 at 8 and 4. 72 dpi (one image px per pt: below it the image is blurrier
than the page at 100 %) and q50 are the bottom. Per image and rung the candidates are:

* JPEG at the rung's quality, baseline, Huffman-optimised, 4:2:0, from pixels only;
  "L" (grey) when the crop is grey (channel spread <= 12 for 99.9 % of pixels);
* for a flat UI crop (its 256 commonest colours cover >= 95 % of pixels; a chat
  screenshot is ~99.5 %: anti-aliased text), or a grey one below 256 colours, a
  palette PNG, no dither: 256 and 64 colours by Pillow's fast octree (lossless when the
  crop has that few), 32..4 by libimagequant (an octree of 16 loses thin strokes:
  13/20 e-mails against 17/20); for a grey crop at 256 an 8-bit grey PNG;
* for a mostly flat crop (>= 70 % of a 1-in-9 sample in 256 colours: a chat with
  avatars, wallpaper or a JPEG's noise; a photo ~1 %) a palette PNG at <= 32 colours.

Palette PNGs list only the colours used (the PDF repeats the palette in hex in each
image's dictionary; `EncodedImage.size` counts it), and their rows are unfiltered,
deflated at 6 on rung 0 and 9 below (10-25 % smaller than Pillow's adaptive filters).
zopfli was measured and left out: another 5-13 %, but 0.1-1.6 s CPU an image.

Each image takes the smallest candidate at its rung, or a smaller one from a better
rung already computed (a PNG can grow when downscaled by a little: 56 kB at 1170 px,
70 kB at 0.85x). Downscales smaller than 8 % are skipped for the same reason.

The floors (bench/fit_floor.py; rapidocr 3.x defaults, PP-OCRv6 small; Bitstream Vera
cards in four chat styles: black on white, on a grey bubble, white on a blue bubble,
grey caption; a name, two e-mails full of dots, a date; "exact" ignores whitespace):

* Text: a required field's OCR box is never taken below 12 px (`min_text_px * scale
  >= 12`; sizes are rounded up). Lossless and palette PNG read 8/8 e-mails down to a
  10.5 px box, so 12 px keeps a margin.
* JPEG quality >= 50, and a JPEG never takes that box below 19 px; where the source's
  text is under 19 px already, JPEG quality stays >= 90. E-mails read exactly, of 48
  (6 sub-pixel phases x 8), by box height:

      box px   q95  q90  q80  q60  q50  q40
      21.0            .    .   48   48   48
      18.9            .    .   48   48   48
      17.6            .    .   48   47   47
      16.4            .    .   46   46   44
      15.5      48   48   48
      13.9      48   48   47
      12.2      48   48   46          (q60 20/24, q50 21/24, q40 18/24 at 12.2 px)

  On cards of font 12..24 px (boxes 19..28 px) every field read at q >= 50 and q40
  lost e-mails first (7/8 at font 12). The misreads are the feared ones: "mail" ->
  "mall", "reilly" -> "rellly", "." -> ",". 4:4:4 chroma read no better than 4:2:0
  and cost 20-35 % more bytes. Palette PNG with 256..8 colours read everything.

What the candidates cost (one 1170x2532 chat screenshot, 17 pt text at 3x):

      scale               1.0   0.7   0.5   0.3
      palette PNG (256)    56    55    29    20  kB
      JPEG q90 4:2:0      242   156    98    50
      JPEG q50 4:2:0      129    79    49    24

So flat screenshots go palette PNG at every rung and shrink by resolution; 256 -> 16
colours saved only ~5 %, so colour count is not a rung. Optimised Huffman tables save
~15 % but take 6x the encode time: a quick JPEG is compared first and only a JPEG that
can win is optimised.

Search, cheapest first: one pass encodes every image at rung 0; if that fits, done
(one decode per image). Otherwise each pass predicts every image's size at the untried
rungs (pixels^0.65 x a per-quality factor, anchored on the sizes already measured),
encodes the first rung predicted to fit, plus the rung above or below it only when the
prediction is within 5 % of the target; the first such pass also encodes the bottom
rung, which settles TooBig without a pass of its own. Usually two passes (the 47 real
screenshots at 4.5 MB and at 3.65 MB: rung 0, then the chosen rung and the bottom). Nothing decoded is kept between passes; a worker holds one source
(and its crops) at a time, and the parent keeps only the best encoding per rung.

Work runs in a process pool (fork where safe: ~0.15 s to start against ~0.75 s for
spawn) when there are >= 4 sources; crops of one file are one task (one decode). An
optional on-disk cache (`cache_dir`, e.g. default_cache_dir()) keeps each rung's
winner keyed by (file sha256, crop rows, Pillow version, encoding); a rerun then
decodes nothing. Entries are written atomically; a bad entry is a miss.

Timings (bench/fit_bench.py on this 2-core box, shared with other jobs: CPU seconds of
all processes are the steady figure, wall time follows the load):

* 100 fixture phone screenshots (phone_series: 585x1266): rung 0 fits both 4.5 MB and
  2 MB (1.32 MB, 13 kB each, all palette PNG): one pass, 3.1-3.2 s CPU, 1.7 s wall
  (median of 5, load 2.5); with a warm encode cache 0.06 s.
* 200 of them: 6.2 s CPU, 4.8 s wall; under 2 MB TooBig after two passes (13.6 s CPU,
  7.3 s wall; warm 0.35 s). Peak RSS 39 MB here, 36 MB per worker.
* 100 renders at 1170x2532 under 4.5 MB: rung 7 (125 dpi), 3 passes (rungs 0; 4,5,6,12;
  7,8), 51-55 s CPU, ~170 ms per image and pass (decode 24 ms, imageio.open_image's two
  full copies ~20 ms, a resize 20-40 ms per rung, octree 30 ms, PNG 20 ms); warm 0.3 s.
  Peak RSS 69 MB here, 75 MB per worker.

Metadata: images are decoded to pixels by imageio.open_image and saved with no exif=,
no icc_profile=, and an empty .info (PNG save would otherwise copy an ICC profile and
dpi from .info), so no EXIF, GPS, ICC or text chunk reaches the package.

Embedding: `data` is the JPEG or PNG file; `pdf_image(enc)` gives the parts to embed it
as is (JPEG under /DCTDecode; PNG's IDAT under /FlateDecode with the PNG predictor and
its palette as /Indexed). Letting a PDF library decode and re-compress a PNG (reportlab
does) would undo the fit.

The package, by stage: `ladder` (the constants, the rungs, an image's candidates at a
rung), `types` (what `fit` takes and gives), `encode` (one image, in the workers),
`cache` (the on-disk encode cache), `runner` (the tasks, in a pool), `search` (`fit`).
Every name is importable from `evidence.fit` as before the split.
"""
from __future__ import annotations

from .ladder import (  # noqa: F401
    BOTTOM, DEFLATE_LOW, DEFLATE_TOP, FLAT_COVERAGE, FLAT_MAX_COLORS, GRAY_OUTLIERS,
    GRAY_TOLERANCE, JPEG_FLOOR, JPEG_SMALL_TEXT_QUALITY, JPEG_SUBSAMPLING, JPEG_TEXT_PX,
    LADDER, Level, level_size, MOSTLY_FLAT, OCTREE_MIN_COLORS, PALETTE_FLOOR,
    PNG_COMPRESS_LEVEL, PREDICTION_MARGIN, QUANT_SPEED, RESAMPLE, SAFETY, SCHEMA, SNAP,
    TEXT_FLOOR_PX, text_floor_scale, _AREA_EXPONENT, _C_FACTOR, _Q_FACTOR, _quantiser,
    _Spec, _specs, _Stats, imagequant)
from .types import (  # noqa: F401
    CropSource, EncodedImage, FitItem, FitResult, _crop, _Done, _Job, _order,
    _palette_length, _smaller, _spec_of)
from .encode import (  # noqa: F401
    compact_palette, encode_jpeg, encode_palette, encode_png, measure, palette_png,
    quantize, resample, _bare, _choose, _DEFLATER, _encode, _few_colourful, _grayish,
    _mostly_flat, _resize, _Sized, _zlib_stream, _libdeflate)
from .cache import (  # noqa: F401
    default_cache_dir, _DiskCache)
from .runner import (  # noqa: F401
    PARALLEL_MIN_TASKS, _picklable, _run_task, _Runner)
from .search import (  # noqa: F401
    encode_at, fit, placeholder, _group, _kb, _model, _predict, _report, _search, _State,
    _too_big_message)
from . import cache, encode, ladder, runner, search, types  # noqa: F401
