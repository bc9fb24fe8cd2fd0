"""Hostile files and everyday mistakes in a case folder (issue 10).

Every hostile file is generated here (none is fetched or committed): each one gets one
line naming it and the problem, and the good screenshots are still checked and built.
"""
from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import time
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from evidence.cli import cli
from evidence.errors import InputError
from evidence.imageio import open_image

EPS_LOOP = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 9 9\n{ } loop\n"  # hangs Ghostscript


def dds_bytes() -> bytes:
    """A DDS header with pixel format flags 8: Pillow's DDS plugin raises
    NotImplementedError('Unknown pixel format flags 8')."""
    header = bytearray(124)
    struct.pack_into("<7I", header, 0, 124, 0x1007, 4, 4, 16, 0, 0)
    struct.pack_into("<2I", header, 72, 32, 8)  # ddspf size, flags = 8
    return b"DDS " + bytes(header) + b"\0" * 64


def psd_bytes() -> bytes:
    return b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, 4, 4, 8, 3) + b"\0" * 64


def encoded(fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im = Image.new("RGB", (32, 24), "navy")
    if fmt in ("MPO", "PNG-APNG"):
        frames = [im, Image.new("RGB", (32, 24), "red")]
        fmt = "MPO" if fmt == "MPO" else "PNG"
        im.save(buf, fmt, save_all=True, append_images=frames[1:])
    else:
        im.save(buf, fmt, **kw)
    return buf.getvalue()


HOSTILE = {  # name under screenshots/ -> (bytes, words the one line must contain)
    "eps-loop.png": (EPS_LOOP, "is an EPS/PostScript file, not a screenshot"),
    "texture.png": (dds_bytes(), "is a DDS texture, not a screenshot"),
    "layers.png": (psd_bytes(), "is a Photoshop (PSD) file, not a screenshot"),
    "scan.png": (encoded("TIFF"), "is a TIFF file, not a screenshot"),
    "paint.png": (encoded("BMP"), "is a BMP file, not a screenshot"),
    "clip.png": (encoded("GIF"), "is a GIF file, not a screenshot"),
    "burst.avifs": (b"\0\0\0\x1cftypavis" + b"\0" * 40, "AVIFS is not supported"),
    "cut.png": (encoded("PNG")[:60], "truncated"),
}


@pytest.fixture
def no_child_processes(monkeypatch):
    """Fail if anything tries to start a program (Pillow's EPS plugin runs Ghostscript)."""
    def refuse(*a, **kw):
        raise AssertionError(f"a child process was started: {a[:1]}")
    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
    monkeypatch.setattr(os, "fork", refuse)
    monkeypatch.setattr(os, "posix_spawn", refuse)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_image_is_one_input_error_and_no_program_starts(tmp_path, name, no_child_processes):
    data, words = HOSTILE[name]
    path = tmp_path / name
    path.write_bytes(data)
    start = time.monotonic()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no third-party warning leaks out of the loader
        with pytest.raises(InputError) as e:
            open_image(path)
    assert time.monotonic() - start < 5
    if not name.endswith(".avifs"):  # ingest names .avifs by extension; the loader by content
        assert words in e.value.message
    assert "\n" not in str(e.value) and e.value.path == path


def test_fifo_named_png_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        open_image(fifo)


@pytest.mark.parametrize("name, fmt", [("stereo.mpo", "MPO"), ("anim.apng", "PNG-APNG"),
                                       ("anim.png", "PNG-APNG"), ("photo.jpg", "JPEG")])
def test_multi_frame_png_and_jpeg_decode_their_first_frame(tmp_path, name, fmt):
    path = tmp_path / name
    path.write_bytes(encoded(fmt))
    im = open_image(path)
    assert im.size == (32, 24) and im.getpixel((5, 5))[2] > 100  # navy, the first frame


# --- the whole run: one line per bad file, the good screenshot still built ----------

@pytest.fixture(scope="module")
def hostile_case(tmp_path_factory):
    from fixtures.generate import phone_series
    root = tmp_path_factory.mktemp("hostile") / "case"
    phone_series(root, 1, seed=3)
    shots = root / "screenshots"
    for name, (data, _) in HOSTILE.items():
        (shots / name).write_bytes(data)
    (shots / "stereo.mpo").write_bytes(encoded("MPO"))  # decoded: a 32x24 image, no text
    os.mkfifo(shots / "pipe.png")
    (shots / "evil\nname\x1b[2J.png").write_bytes(EPS_LOOP)
    (shots / "README.md").write_text("notes to self\n")
    (shots / "orphan.png.txt").write_text("a note whose screenshot is gone\n")
    return root


def _run(args, tmp_path):
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    return CliRunner().invoke(cli, args, env=env)


def test_check_and_build_name_every_unused_file(hostile_case, tmp_path, no_child_processes):
    good = [p.name for p in (hostile_case / "screenshots").glob("IMG_*.png")]
    assert len(good) == 1
    r = _run(["check", str(hostile_case), "--json", "-j", "1"], tmp_path)
    assert r.exit_code == 1, r.output
    report = json.loads(r.stdout)
    by_file = {Path(u["file"]).name: u["reason"] for u in report["unused"]}
    for name, (_, words) in HOSTILE.items():
        assert words in by_file[name], (name, by_file.get(name))
    assert "not a regular file" in by_file["pipe.png"]
    assert "not a screenshot" in by_file["README.md"]
    assert "no screenshot's note" in by_file["orphan.png.txt"]
    assert "is an EPS" in by_file["evil\nname\x1b[2J.png"]
    ok = [s for s in report["screenshots"] if s["ok"]]
    assert [Path(s["file"]).name for s in ok] == good  # the good one was still checked
    # text: one line per problem, the hostile name escaped
    t = _run(["check", str(hostile_case), "-j", "1"], tmp_path)
    assert "\x1b" not in t.output and "evil\\nname\\x1b[2J.png" in t.output
    assert all(name in t.output for name in HOSTILE)

    out = tmp_path / "pkg.pdf"
    b = _run(["build", str(hostile_case), "--draft", "--json", "-j", "1", "-o", str(out)], tmp_path)
    assert b.exit_code == 0, b.output
    built = json.loads(b.stdout)
    # the MPO decodes (a JPEG): a draft keeps it, marked failing; the rest are not used
    assert sorted(Path(f).name for f in built["order"]) == sorted(good + ["stereo.mpo"])
    unused = {Path(u["file"]).name for u in built["unused"]}
    assert set(HOSTILE) | {"pipe.png", "README.md", "orphan.png.txt"} <= unused
    text = _run(["build", str(hostile_case), "--draft", "-j", "1", "-o", str(out)], tmp_path)
    assert "not used: screenshots/eps-loop.png: is an EPS" in text.stdout


def test_strict_build_failure_says_draft_and_json_has_an_object(hostile_case, tmp_path):
    r = _run(["build", str(hostile_case), "--json", "-j", "1", "-o", str(tmp_path / "x.pdf")],
             tmp_path)
    assert r.exit_code == 1
    data = json.loads(r.stdout)
    assert data["ok"] is False and data["exit_code"] == 1 and "--draft" in data["message"]
    assert any("eps-loop.png" in d for d in data["details"])
    assert "--draft" in str(r.exception)


# --- validate: polyglots and misnamed packages ----------------------------------------

def _pdf(path: Path) -> Path:
    import pikepdf
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.save(path)
    return path


def test_validate_fails_a_zip_appended_after_eof(tmp_path):
    import zipfile
    from evidence.validate import validate_package
    pkg = _pdf(tmp_path / "poly.pdf")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("payload.txt", "hello")
    pkg.write_bytes(pkg.read_bytes() + buf.getvalue())
    r = validate_package(pkg)
    c = r.check("readable")
    assert c.status == "fail" and "a polyglot: a ZIP archive is appended after the last %%EOF" in c.detail
    junk = _pdf(tmp_path / "junk.pdf")
    junk.write_bytes(junk.read_bytes() + b"\nsome stray trailing text\n")
    c = validate_package(junk).check("readable")
    assert c.status == "warn" and "after the last %%EOF" in c.detail


def test_validate_warns_about_a_pdf_not_named_pdf(tmp_path):
    from evidence.validate import validate_package
    c = validate_package(_pdf(tmp_path / "package.png")).check("readable")
    assert c.status == "warn" and "named .png but it is a PDF" in c.detail
    png = tmp_path / "shot.pdf"
    Image.new("RGB", (4, 4)).save(png, "PNG")
    r = validate_package(png)
    assert r.unreadable and "it is a PNG image" in r.check("readable").detail
