import pytest
from PIL import Image

from evidence.errors import InputError
from evidence.imageio import open_image


def test_exif_orientation_is_applied_and_metadata_dropped(tmp_path):
    p = tmp_path / "rot.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 cw to display
    Image.new("RGB", (40, 20), "white").save(p, exif=exif, icc_profile=b"junk")
    im = open_image(p)
    assert im.size == (20, 40) and im.mode == "RGB"
    assert "icc_profile" not in im.info and "exif" not in im.info


def test_upright_and_transparent_images(tmp_path):
    p = tmp_path / "a.png"
    Image.new("RGBA", (10, 10), (0, 0, 0, 0)).save(p)
    im = open_image(p)
    assert im.mode == "RGB" and im.getpixel((5, 5)) == (255, 255, 255)


@pytest.mark.parametrize("content, message", [(b"", "cannot decode"), (b"hello", "not an image")])
def test_bad_files(tmp_path, content, message):
    p = tmp_path / "x.png"
    p.write_bytes(content)
    with pytest.raises(InputError) as e:
        open_image(p)
    assert "x.png" in str(e.value)
