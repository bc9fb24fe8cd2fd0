"""What every OCR engine takes and returns.

An engine takes one RGB image and returns text lines, each with an axis-aligned box in
the image's pixel coordinates (origin top-left) and a confidence in [0, 1].
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from PIL import Image


@dataclass(frozen=True)
class Box:
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    def shifted(self, dx: float = 0.0, dy: float = 0.0) -> "Box":
        return Box(self.x0 + dx, self.y0 + dy, self.x1 + dx, self.y1 + dy)

    def union(self, other: "Box") -> "Box":
        return Box(min(self.x0, other.x0), min(self.y0, other.y0),
                   max(self.x1, other.x1), max(self.y1, other.y1))

    def to_list(self) -> list[float]:
        return [round(self.x0, 1), round(self.y0, 1), round(self.x1, 1), round(self.y1, 1)]

    @classmethod
    def from_list(cls, v) -> "Box":
        x0, y0, x1, y1 = (float(a) for a in v)
        return cls(x0, y0, x1, y1)


Word = tuple[str, Box]


@dataclass(frozen=True)
class OcrLine:
    """One line of text. `words`, when known, are the line's words left to right, each
    with its own box (see `ocr.words`): what a highlight outlines, so it crosses no glyph."""

    text: str
    box: Box
    confidence: float
    words: tuple[Word, ...] = ()

    def shifted(self, dx: float = 0.0, dy: float = 0.0) -> "OcrLine":
        return OcrLine(self.text, self.box.shifted(dx, dy), self.confidence,
                       tuple((t, b.shifted(dx, dy)) for t, b in self.words))

    def to_json(self) -> dict:
        d = {"text": self.text, "box": self.box.to_list(), "conf": round(self.confidence, 4)}
        if self.words:
            d["words"] = [[t, b.to_list()] for t, b in self.words]
        return d

    @classmethod
    def from_json(cls, d: dict) -> "OcrLine":
        words = tuple((str(t), Box.from_list(b)) for t, b in d.get("words", ()))
        return cls(str(d["text"]), Box.from_list(d["box"]), float(d["conf"]), words)


def quad_box(quad) -> Box:
    """The axis-aligned bounding box of a quadrilateral [(x, y), ...]."""
    xs = [float(p[0]) for p in quad]
    ys = [float(p[1]) for p in quad]
    return Box(min(xs), min(ys), max(xs), max(ys))


def lines_from_quads(found, words=None) -> list[OcrLine]:
    """Engines report (quadrilateral, text, confidence); keep non-empty text, with the
    quad's axis-aligned bounding box and the confidence clamped to [0, 1]. `words`, if
    given, is per found line a list of (text, quad) word boxes."""
    lines = []
    words = list(words) if words is not None else []
    for i, (quad, text, conf) in enumerate(found):
        text = str(text).strip()
        if not text:
            continue
        line_words = tuple((str(t).strip(), quad_box(q)) for t, q in
                           (words[i] if i < len(words) else ()) if str(t).strip())
        lines.append(OcrLine(text, quad_box(quad), max(0.0, min(1.0, float(conf))),
                             line_words))
    return lines


@dataclass(frozen=True)
class OcrResult:
    """All the text an engine found on one image, top to bottom."""

    lines: tuple[OcrLine, ...]
    width: int
    height: int
    engine: str  # the engine's cache key: name, version and settings

    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    def to_json(self) -> dict:
        return {"engine": self.engine, "width": self.width, "height": self.height,
                "lines": [line.to_json() for line in self.lines]}

    @classmethod
    def from_json(cls, d: dict) -> "OcrResult":
        return cls(tuple(OcrLine.from_json(x) for x in d["lines"]), int(d["width"]),
                   int(d["height"]), str(d["engine"]))


@runtime_checkable
class Engine(Protocol):
    """An OCR engine. Built once per worker process; `recognize` is called per image."""

    name: str

    def key(self) -> str:
        """Name, version and every setting that changes the output: part of the cache key."""

    def recognize(self, image: Image.Image) -> list[OcrLine]:
        """Read one RGB image. Boxes are in that image's pixel coordinates."""
