"""Build the int8 OCR models shipped in evidence/ocr/models/ from rapidocr's bundled ones.

    pip install ".[quantize]"            # onnx, for the opset conversion
    python tools/quantize_models.py      # writes evidence/ocr/models/*.int8.onnx

Why: the text detector was 40 % of the first OCR reading's CPU on the 47 real screenshots
(27.9 of 69.4 CPU s, one thread), and the whole cold build cost twice the CPU of
img2pdf + OCRmyPDF (issue 12). Static int8 quantisation of the detector (QDQ, per-channel
int8 weights, uint8 activations, MinMax calibration) cut detection to 7.4 CPU s with the
same field verdicts on all 47 real screenshots (bench/real_fields.py) and 99.0 mean text
similarity to the float model's reading; the rest of the difference is mostly icons and
where a line's box is split.

How, reproducibly:
- the source is the float model in the installed rapidocr wheel (its sha256 is recorded
  in evidence/ocr/models/README.md; this script refuses another one unless --any-source);
- onnx's version converter lifts it from opset 11 to 13 (per-channel DequantizeLinear needs
  an `axis`, which opset 11 lacks), then onnxruntime's `quant_pre_process` and
  `quantize_static`;
- calibration data are the detector inputs of screenshots rendered by fixtures/generate.py
  (phones light and dark at two sizes, e-mail, help desk, team chat and web layouts).
  Never the real screenshots: they are the measuring set, and a held-back real set judges.

The output depends only on the source model, the rendered images (deterministic) and the
onnx/onnxruntime versions, so the OCR cache key names the int8 file's own sha256 prefix
(ocr/rapid.py), not these versions.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODELS_DIR = ROOT / "evidence" / "ocr" / "models"

def calibration_images(tmp: Path) -> list[Path]:
    """Rendered screenshots of every layout, light and dark, at two phone sizes."""
    from fixtures.generate import LAYOUTS, Message, Shot, phone_series, write_case
    phone_series(tmp / "phones", 8, seed=7, scale=1.0)
    phone_series(tmp / "small", 4, seed=11, scale=0.5)
    shots = [Shot(f"desk-{i}.png", layout=layout,
                  date=datetime(2024, 5, 1, 10) + timedelta(days=i, minutes=37 * i),
                  date_style=("mdy", "long_at", "iso", "dmy", "rfc2822", "dotted")[i % 6],
                  messages=[Message(f"Order #{48000 + i}: the files are attached, please confirm"),
                            Message("Thanks, received and all looks good", me=True),
                            Message(f"Invoice {i} paid, see you next week")],
                  title=f"Re: project milestone {i}")
             for i, layout in enumerate(LAYOUTS)]
    write_case(tmp / "desk", shots, overwrite=True)
    exts = {".png", ".jpg", ".jpeg"}
    return sorted(p for p in tmp.rglob("*") if p.suffix.lower() in exts and "screenshots" in p.parts)


def detector_inputs(images: list[Path]):
    """The detector's input tensors for these images, as our engine feeds it."""
    import numpy as np

    from evidence.imageio import open_image
    from evidence.ocr.rapid import RapidEngine
    engine = RapidEngine(det_model="fp32")
    session = engine._ocr.text_det.session
    cls = type(session)
    original = cls.__call__
    got = []

    def recording(self, x):
        if self is session:
            got.append(np.array(x))
        return original(self, x)
    cls.__call__ = recording
    try:
        for path in images:
            with open_image(path) as image:
                engine.recognize(image)
    finally:
        cls.__call__ = original
    return got, session.get_input_names()[0]


def quantize(source: Path, out: Path, inputs, input_name: str) -> None:
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                          QuantType, quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter(inputs)

        def get_next(self):
            x = next(self._it, None)
            return None if x is None else {input_name: x}

    with tempfile.TemporaryDirectory() as tmp:
        lifted, pre = Path(tmp) / "opset13.onnx", Path(tmp) / "pre.onnx"
        onnx.save(version_converter.convert_version(onnx.load(str(source)), 13), str(lifted))
        quant_pre_process(str(lifted), str(pre), skip_symbolic_shape=True)
        part = out.with_suffix(".part")
        quantize_static(str(pre), str(part), Reader(), quant_format=QuantFormat.QDQ,
                        per_channel=True, weight_type=QuantType.QInt8,
                        activation_type=QuantType.QUInt8,
                        calibrate_method=CalibrationMethod.MinMax)
        part.replace(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=MODELS_DIR)
    ap.add_argument("--any-source", action="store_true",
                    help="quantise whatever detector the installed rapidocr ships")
    args = ap.parse_args()
    import rapidocr

    from evidence.imageio import sha256_file
    from evidence.ocr import rapid
    source = Path(rapidocr.__file__).resolve().parent / "models" / rapid.FLOAT_DET_MODEL
    digest = sha256_file(source)
    if digest != rapid.FLOAT_DET_SHA256 and not args.any_source:
        print(f"{source}: sha256 {digest} is not the model the shipped int8 detector was "
              f"made from ({rapid.FLOAT_DET_SHA256}); pass --any-source to quantise it anyway",
              file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        images = calibration_images(Path(tmp))
        inputs, name = detector_inputs(images)
    out = args.out / rapid.INT8_DET_MODEL
    quantize(source, out, inputs, name)
    print(f"{out}: {out.stat().st_size:,} bytes, sha256 {sha256_file(out)}, "
          f"calibrated on {len(inputs)} rendered screenshots (from {source.name} {digest[:12]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
