import os

from PIL import Image

from evidence.case import load_case
from evidence.ingest import discover, is_ignored


def make_case(tmp_path, extra=""):
    (tmp_path / "case.toml").write_text(
        '[client]\nname = "Jane Cooper"\nemail = "jane@example.com"\n' + extra, encoding="utf-8")
    (tmp_path / "screenshots").mkdir(exist_ok=True)
    return tmp_path


def png(path, color="white"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (40, 30), color).save(path)
    return path


def test_finds_images_recursively_and_skips_junk(tmp_path):
    root = make_case(tmp_path)
    s = root / "screenshots"
    png(s / "a.png")
    png(s / "nested" / "b.png")
    Image.new("RGB", (10, 10)).save(s / "c.JPG", "JPEG")
    for junk in [".DS_Store", "._a.png", "Thumbs.db", "x.png.part", "y.crdownload", "z.tmp",
                 "~$doc.png", ".hidden.png", "a.png.swp"]:
        (s / junk).write_bytes(b"junk")
    (s / "a.png.txt").write_text("note for a\n", encoding="utf-8")
    found = discover(load_case(root))
    assert [x.rel for x in found.screenshots] == [
        "screenshots/a.png", "screenshots/c.JPG", "screenshots/nested/b.png"]
    assert found.screenshots[0].note == "note for a"
    assert found.problems == []


def test_case_toml_note_wins_over_sidecar(tmp_path):
    root = make_case(tmp_path, '[[screenshot]]\nfile = "screenshots/a.png"\nnote = "from toml"\n')
    png(root / "screenshots" / "a.png")
    (root / "screenshots" / "a.png.txt").write_text("from sidecar", encoding="utf-8")
    (shot,) = discover(load_case(root)).screenshots
    assert shot.note == "from toml"


def test_bad_files_are_reported_and_the_rest_go_on(tmp_path):
    root = make_case(tmp_path, '[[screenshot]]\nfile = "screenshots/missing.png"\n')
    s = root / "screenshots"
    png(s / "good.png")
    (s / "empty.png").write_bytes(b"")
    (s / "photo.heic").write_bytes(b"\0" * 10)
    (s / "loop1.png").symlink_to(s / "loop2.png")
    (s / "loop2.png").symlink_to(s / "loop1.png")
    os.symlink(s, s / "self")  # a folder link loop
    found = discover(load_case(root))
    assert [x.rel for x in found.screenshots] == ["screenshots/good.png"]
    msgs = {p.path.name: p.message for p in found.problems}
    assert "empty" in msgs["empty.png"]
    assert "not supported" in msgs["photo.heic"]
    assert "not found" in msgs["missing.png"]
    assert "link" in msgs["loop1.png"] and "link" in msgs["loop2.png"]
    for p in found.problems:
        assert "\n" not in str(p) and p.path is not None


def test_package_itself_is_excluded(tmp_path):
    root = make_case(tmp_path)
    png(root / "screenshots" / "a.png")
    png(root / "screenshots" / "out.png")
    found = discover(load_case(root), exclude={root / "screenshots" / "out.png"})
    assert [x.rel for x in found.screenshots] == ["screenshots/a.png"]


def test_ingest_never_modifies_sources(tmp_path):
    root = make_case(tmp_path)
    p = png(root / "screenshots" / "a.png")
    before = (p.read_bytes(), p.stat().st_mtime_ns)
    discover(load_case(root))
    assert (p.read_bytes(), p.stat().st_mtime_ns) == before


def test_ignore_rules():
    assert is_ignored(".DS_Store") and is_ignored("Thumbs.db") and is_ignored("x.part")
    assert not is_ignored("IMG_0001.png")


def test_a_folder_of_ten_thousand_files_is_bounded(tmp_path):
    import time

    from evidence import ingest
    root = make_case(tmp_path)
    s = root / "screenshots"
    data = (tmp_path / "one.png")
    png(data)
    blob = data.read_bytes()
    for i in range(10_000):
        (s / f"IMG_{i:05d}.png").write_bytes(blob)
    t = time.perf_counter()
    found = discover(load_case(root))
    elapsed = time.perf_counter() - t
    assert len(found.screenshots) == ingest.MAX_IMAGES
    assert found.screenshots[-1].rel == f"screenshots/IMG_{ingest.MAX_IMAGES - 1:05d}.png"
    (problem,) = found.problems
    assert "10000 images" in problem.message and "9000 ignored" in problem.message
    assert elapsed < 30
