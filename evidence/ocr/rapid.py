"""RapidOCR (PP-OCR models on onnxruntime): the default engine.

The models ship inside the rapidocr wheel (`rapidocr/models/`). We pass their paths
explicitly, so rapidocr's own "download the model if it is missing" code never runs:
a missing model file is an EngineError, never a download.

Settings (all part of `key()`, with the rapidocr version and the model file names):

- `det_limit_type`, `det_limit_side_len`: how the text detector scales the image.
  rapidocr's default is `min`/736, i.e. the detector runs at the image's full size
  (after rapidocr's global 2000 px cap). `max`/N caps the detector input at N px.
- `use_cls`: the 0/180 degree angle classifier. Screenshots are upright.
- `max_side_len`: rapidocr first shrinks the whole image so its longer side is at most
  this (its default: 2000 px), and crops the text lines it recognizes from that shrunk
  image. We let screenshots through whole (4000): detection is capped anyway, and the
  recognizer then sees the original pixels (it read "2024-03-05 14:07" where the 2000 px
  copy gave "2024-03-0514:07"), at no measured cost.

Chosen with bench/ocr_settings.py: one process, 1 onnxruntime thread (as a worker), the
settings interleaved image by image; "read" = one OCR line contains the exact string.
The machine (2 cores) was shared with other jobs, so seconds are high and noisy; compare
within a run. Rendered chat screenshots, 16 images 720x1600 ... 1644x3840, light and
dark, PNG and JPEG; median s/image and name / email / date read, in two runs:

                                         run 1              run 2
    default (det min 736, cls on)        2.38 s 16 16 13    6.21 s 16 16 14
    det min 736, cls off                 2.68 s 16 16 13
    det max 1280, cls off                1.69 s 16 16 16    2.77 s 16 16 16
    det max 960, cls off                 1.39 s 16 16 15
    det max 1280, cls off, side 4000     1.69 s 16 16 16    2.72 s 16 16 16  <- first default
    det max 960, cls off, side 4000      1.21 s 16 16 15    2.28 s 16 16 15

fixtures.generate.phone_series, 12 images 1170x2532: default 3.40 s, max 1280 2.05 s,
max 1280 side 4000 1.97 s, max 960 side 4000 1.39 s, all 12/12 on all three fields.
So the detector's resolution is the cost (the angle classifier costs little); capped at
1280 it keeps every field in 0.45-0.7x the default's time, while 960 starts losing
dates. Every date miss logged (run 1, --verbose) was "2024-03-05 14:07" read as
"2024-03-0514:07": a dropped space, which the date finder has to tolerate anyway (it
happens at every setting on some images).

Later, with lines recognised one at a time (REC_BATCH) and a quiet machine, the same 16
images: max 1280 0.88 s, max 1024 0.76 s, max 960 0.74 s, all 16/16/16; and `evidence
check` verdict and `when` on 145 fixture screenshots (the sample case, 100 half-size and
30 full-size phone shots) stayed 145/145 at 1024, 12 % faster than 1280. So the default
is max 1024: a margin above 960, where the earlier run lost a date.

- `det_model`: "int8" (the default) or "fp32". The detector we ship in ocr/models/ is
  rapidocr's PP-OCRv6_det_small quantised to int8 (tools/quantize_models.py, calibrated on
  rendered screenshots only). On the 47 real screenshots, one thread, one process (bench
  run 2026-11-30, load ~1): detection 27.9 -> 7.4 CPU s, the whole first reading 69.4 ->
  48.1 CPU s; `bench/real_fields.py` gives the same verdict for every image and field
  (name 46/47, email 47/47, date 47/47, filed-under 24/24, look-alike rejected 47/47), the
  text read is 99.0 % the same (rapidfuzz ratio, mean per image), and 2 % fewer lines are
  found, mostly icons. "fp32" is the wheel's float model, for a machine where int8 is
  slower (no AVX2/VNNI) or to compare.
"""
from __future__ import annotations

import functools
import logging
import os
from importlib import metadata
from pathlib import Path

from PIL import Image

from ..errors import EngineError
from ..imageio import sha256_file
from ..workers import release_memory
from .base import OcrLine, lines_from_quads

DEFAULT_DET_LIMIT_TYPE = "max"
DEFAULT_DET_LIMIT_SIDE_LEN = 1024
DEFAULT_USE_CLS = False
DEFAULT_MAX_SIDE_LEN = 4000  # rapidocr's own default for Global.max_side_len is 2000
DEFAULT_DET_MODEL = "int8"
# Lines are recognised one at a time: with one thread per worker, batches of 6 only pad
# short lines to the widest one. Measured on 6 fixture phone shots (585x1266, 11-16 lines):
# recognition 0.50-0.58 s per image at batch 6, 0.43 s at batch 1, same text.
REC_BATCH = 1
# The recogniser pads every line to at least REC_MIN_WIDTH px (at its 48 px height):
# rapidocr's default is 320, so a short line ("Today", "Inbox", a date) costs as much as
# a 320 px one, and its transformer's cost grows faster than linearly with width.
# Measured on every third of ../shared/real-screenshots (532 lines, one thread, CPU
# seconds so that load from other jobs does not count): recognition 14.1 s at 320, 10.5
# at 160, 10.1 at 96, 9.8 at 48; the lines that changed at 160 were icons read as
# symbols and a clipped word ("Look who's ba" -> "Look who's bal"); 96 and below started
# misreading single letters. Batching the lines (sorted by width) cost more, not less:
# 14.7 s at batch 1, 17.4 at 8, 20.5 at 16 (each batch is padded to its widest line).
REC_MIN_WIDTH = 160

# The models that ship in the rapidocr wheel (rapidocr 3.x default configuration).
DET_MODEL = "PP-OCRv6_det_small.onnx"
REC_MODEL = "PP-OCRv6_rec_small.onnx"
CLS_MODEL = "ch_ppocr_mobile_v2.0_cls_mobile.onnx"
# The int8 detector we ship (ocr/models/), made from this float one by
# tools/quantize_models.py. rapidocr's pre- and post-processing are the float model's.
FLOAT_DET_MODEL = DET_MODEL
FLOAT_DET_SHA256 = "090f04abcd9d9a7498bc4ebf677e4cb9bdce1fe4197ddb7e529f1ef44e1ff94f"
INT8_DET_MODEL = "PP-OCRv6_det_small.int8.onnx"
OUR_MODELS = Path(__file__).resolve().parent / "models"


def rapidocr_version() -> str:
    try:
        return metadata.version("rapidocr")
    except metadata.PackageNotFoundError:
        raise EngineError("rapidocr is not installed: pip install rapidocr onnxruntime") from None


class RapidEngine:
    """One rapidocr pipeline. Build once per process; `recognize` per image."""

    name = "rapidocr"

    def __init__(self, *, det_limit_type: str = DEFAULT_DET_LIMIT_TYPE,
                 det_limit_side_len: int = DEFAULT_DET_LIMIT_SIDE_LEN,
                 use_cls: bool = DEFAULT_USE_CLS,
                 max_side_len: int = DEFAULT_MAX_SIDE_LEN,
                 det_model: str = DEFAULT_DET_MODEL,
                 threads: int = 1):
        self.settings = _check_settings(det_limit_type, det_limit_side_len, use_cls, max_side_len,
                                        det_model)
        self.threads = int(threads)
        try:
            import rapidocr
            from rapidocr import RapidOCR
        except ImportError as e:
            raise EngineError(f"cannot import rapidocr ({e}): pip install rapidocr onnxruntime") from None
        model_dir = Path(rapidocr.__file__).resolve().parent / "models"
        needed = [REC_MODEL] + ([CLS_MODEL] if self.settings["use_cls"] else [])
        if self.settings["det_model"] == "fp32":
            needed.insert(0, DET_MODEL)
        missing = [m for m in needed if not (model_dir / m).is_file()]
        if missing:
            raise EngineError(
                f"rapidocr's bundled model(s) {', '.join(missing)} are missing from {model_dir}; "
                f"reinstall it: pip install --force-reinstall rapidocr")
        det_path = _det_model_path(self.settings["det_model"], model_dir)
        s = self.settings
        params = {
            "Global.log_level": "error",
            "Global.use_cls": s["use_cls"],
            "Global.max_side_len": s["max_side_len"],
            "Global.model_root_dir": str(model_dir),
            "Det.limit_type": s["det_limit_type"],
            "Det.limit_side_len": s["det_limit_side_len"],
            "Det.model_path": str(det_path),
            "Rec.model_path": str(model_dir / REC_MODEL),
            "Rec.rec_batch_num": REC_BATCH,
            "Rec.rec_img_shape": [3, 48, REC_MIN_WIDTH],
            # word boxes from the recogniser's character positions (no extra model run);
            # highlights outline whole words with them (see ocr/words.py)
            "Global.return_word_box": True,
            # onnxruntime's memory arena off: it keeps the largest image's buffers for the
            # worker's life. Measured on every second real screenshot (24, one worker, one
            # thread, load ~10 so CPU seconds): arena on 37.5 CPU s, PSS 478 MB between
            # images; off 38.3 s, 394 MB; off with malloc_trim after each image (see
            # ocr._worker_call) 127 MB. An earlier quiet-machine run had found ~7-10 % less
            # time with it; the difference is now within the noise, and two workers at
            # ~480 MB each broke the 600 MB budget (issue 12). Same output: not in the key.
            "EngineConfig.onnxruntime.enable_cpu_mem_arena": False,
            "Cls.model_path": str(model_dir / CLS_MODEL),
            "EngineConfig.onnxruntime.intra_op_num_threads": self.threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
        try:
            self._ocr = RapidOCR(params=params)
            # rapidocr loads its models on first use; load them now so that a broken
            # model fails here (at engine construction) and not on the first image.
            self._ocr._load_det_model()
            self._ocr._load_rec_model()
            if s["use_cls"]:
                self._ocr._load_cls_model()
        except EngineError:
            raise
        except Exception as e:  # onnxruntime raises its own types for damaged models
            raise EngineError(f"rapidocr cannot load its models: {e}".splitlines()[0]) from None
        self._trim_after_detection()
        # RapidOCR() sets its logger level from Global.log_level; keep it quiet anyway.
        logging.getLogger("RapidOCR").setLevel(logging.ERROR)
        self._key = self.key_for(**self.settings)

    def _trim_after_detection(self) -> None:
        """Hand the detector's scratch memory back before the lines are recognised.

        glibc keeps what the detector freed (its dynamic mmap threshold rises past the
        detector's tensors, so they come from the heap and stay there), so a worker held
        the detection peak through the whole recognition; with the other worker detecting
        at the same time the tree went over 600 MB (issue 12). Measured on the first 12
        real screenshots, one worker: RSS over the idle worker during recognition
        +88..200 MB before, +64..118 after; CPU 15.7 s against 15.9 s."""
        detect = self._ocr.detect_and_crop

        def detect_and_trim(*args, **kwargs):
            try:
                return detect(*args, **kwargs)
            finally:
                release_memory()
        self._ocr.detect_and_crop = detect_and_trim

    @classmethod
    def key_for(cls, *, det_limit_type: str = DEFAULT_DET_LIMIT_TYPE,
                det_limit_side_len: int = DEFAULT_DET_LIMIT_SIDE_LEN,
                use_cls: bool = DEFAULT_USE_CLS, max_side_len: int = DEFAULT_MAX_SIDE_LEN,
                det_model: str = DEFAULT_DET_MODEL, threads: int = 1) -> str:
        """The cache key for these settings, without loading any model (cheap)."""
        s = _check_settings(det_limit_type, det_limit_side_len, use_cls, max_side_len, det_model)
        det = os.path.splitext(DET_MODEL)[0]
        if s["det_model"] == "int8":  # named by its content: a rebuilt model is a new key
            det = f"{os.path.splitext(INT8_DET_MODEL)[0]}-{_file_sha(_det_model_path('int8'))[:12]}"
        models = "+".join([det] + [os.path.splitext(m)[0] for m in
                                   ([REC_MODEL] + ([CLS_MODEL] if s["use_cls"] else []))])
        return (f"rapidocr-{rapidocr_version()};models={models};"
                f"det={s['det_limit_type']}{s['det_limit_side_len']};"
                f"cls={int(s['use_cls'])};max_side={s['max_side_len']};rec_batch={REC_BATCH};"
                f"rec_w={REC_MIN_WIDTH};words=1")

    def key(self) -> str:
        return self._key

    def recognize(self, image: Image.Image) -> list[OcrLine]:
        if image.mode != "RGB":
            image = image.convert("RGB")
        out = self._ocr(image)
        txts = getattr(out, "txts", None)
        boxes = getattr(out, "boxes", None)
        scores = getattr(out, "scores", None)
        if not txts or boxes is None or scores is None:
            return []
        return lines_from_quads(zip(boxes, txts, scores),
                                _words_per_line(txts, getattr(out, "word_results", None)))


def _words_per_line(txts, word_results) -> list:
    """rapidocr's word results as one list of (text, quad) per line of `txts`.

    rapidocr leaves out lines that got no word boxes, so the two lists can differ in
    length: a word list belongs to a line only if its words spell that line."""
    out: list = [()] * len(txts)
    j = 0
    for i, txt in enumerate(txts):
        if j >= len(word_results or ()):
            break
        words = [(w[0], w[2]) for w in word_results[j] if len(w) == 3 and w[2] is not None]
        if "".join(t for t, _ in words).replace(" ", "") == str(txt).replace(" ", ""):
            out[i] = words
            j += 1
    return out


def _det_model_path(which: str, rapidocr_models: Path | None = None) -> Path:
    """The detector file for det_model `which`; EngineError if it is missing."""
    if which == "fp32":
        return (rapidocr_models or Path()) / DET_MODEL
    path = OUR_MODELS / INT8_DET_MODEL
    if not path.is_file():
        raise EngineError(f"the int8 text detector {path} is missing: reinstall evidence, "
                          "or set the rapidocr engine's det_model to fp32")
    return path


@functools.lru_cache(maxsize=4)
def _file_sha(path: Path) -> str:
    return sha256_file(path)


def _check_settings(det_limit_type, det_limit_side_len, use_cls, max_side_len,
                    det_model=DEFAULT_DET_MODEL) -> dict:
    if det_model not in ("int8", "fp32"):
        raise EngineError(f"rapidocr det_model must be 'int8' or 'fp32', not {det_model!r}")
    if det_limit_type not in ("min", "max"):
        raise EngineError(f"rapidocr det_limit_type must be 'min' or 'max', not {det_limit_type!r}")
    try:
        side = int(det_limit_side_len)
        max_side = int(max_side_len)
    except (TypeError, ValueError):
        raise EngineError("rapidocr det_limit_side_len and max_side_len must be integers") from None
    if not 32 <= side <= 8192 or not 32 <= max_side <= 16384:
        raise EngineError(f"rapidocr side lengths out of range: det {side}, max {max_side}")
    return {"det_limit_type": det_limit_type, "det_limit_side_len": side,
            "use_cls": bool(use_cls), "max_side_len": max_side, "det_model": det_model}
