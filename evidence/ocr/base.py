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


@dataclass(frozen=True)
class OcrLine:
    text: str
    box: Box
    confidence: float

    def to_json(self) -> dict:
        return {"text": self.text, "box": self.box.to_list(), "conf": round(self.confidence, 4)}

    @classmethod
    def from_json(cls, d: dict) -> "OcrLine":
        return cls(str(d["text"]), Box.from_list(d["box"]), float(d["conf"]))


def lines_from_quads(found) -> list[OcrLine]:
    """Engines report (quadrilateral, text, confidence); keep non-empty text, with the
    quad's axis-aligned bounding box and the confidence clamped to [0, 1]."""
    lines = []
    for quad, text, conf in found:
        text = str(text).strip()
        if not text:
            continue
        xs = [float(p[0]) for p in quad]
        ys = [float(p[1]) for p in quad]
        lines.append(OcrLine(text, Box(min(xs), min(ys), max(xs), max(ys)),
                             max(0.0, min(1.0, float(conf)))))
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
