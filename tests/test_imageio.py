import io

import numpy as np
import pytest
from PIL import Image

from codec.base.errors import ImageReadError
from codec.imaging.imageio import load_rgb, pad_to_multiple, tile_grid


def _png(img: Image.Image, fmt="PNG", **kw) -> bytes:
    b = io.BytesIO()
    img.save(b, fmt, **kw)
    return b.getvalue()


def test_rgb_passes_through(sample_pixels):
    img = load_rgb(_png(Image.fromarray(sample_pixels)))
    assert np.array_equal(img.pixels, sample_pixels)
    assert img.notes == []


def test_grey_becomes_three_equal_channels():
    g = np.arange(64, dtype=np.uint8).reshape(8, 8) * 3
    px = load_rgb(_png(Image.fromarray(g, "L"))).pixels
    assert px.shape == (8, 8, 3) and (px == g[:, :, None]).all()


def test_rgba_is_composited_onto_white_and_noted():
    a = np.zeros((4, 4, 4), np.uint8)
    a[..., 0] = 200          # red-ish
    a[:2, :, 3] = 255        # top half opaque
    a[2:, :, 3] = 0          # bottom half transparent
    img = load_rgb(_png(Image.fromarray(a, "RGBA")))
    assert (img.pixels[:2] == [200, 0, 0]).all()
    assert (img.pixels[2:] == 255).all()
    assert any("transparent" in n for n in img.notes)


def test_palette_with_transparency():
    p = Image.new("P", (4, 4), 0)
    p.putpalette([10, 20, 30] + [0, 0, 0] * 255)
    p.info["transparency"] = 0
    assert (load_rgb(_png(p, transparency=0)).pixels == 255).all()


def test_16bit_grey_is_scaled_not_clipped():
    a = np.array([[0, 257 * 128, 65535]], dtype=np.uint16)
    px = load_rgb(_png(Image.fromarray(a))).pixels
    assert px[0, :, 0].tolist() == [0, 128, 255]


def test_cmyk_jpeg():
    img = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # red
    px = load_rgb(_png(img, "JPEG", quality=95)).pixels
    assert px[..., 0].mean() > 200 and px[..., 1].mean() < 60


def test_exif_orientation_is_applied():
    a = np.zeros((4, 8, 3), np.uint8)
    a[:, :4] = 255  # left half white
    img = Image.fromarray(a)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    px = load_rgb(_png(img, "JPEG", exif=exif, quality=100)).pixels
    assert px.shape == (8, 4, 3)
    assert px[:4].mean() > 200 and px[4:].mean() < 50  # the white half is now on top


@pytest.mark.parametrize("content", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\0" * 20])
def test_unreadable_input_raises_a_sentence(content, tmp_path):
    p = tmp_path / "broken.png"
    p.write_bytes(content)
    with pytest.raises(ImageReadError, match="could not be read as an image"):
        load_rgb(p)


def test_missing_and_folder_paths(tmp_path):
    with pytest.raises(ImageReadError, match="does not exist"):
        load_rgb(tmp_path / "nope.png")
    with pytest.raises(ImageReadError, match="is a folder"):
        load_rgb(tmp_path)


def test_padding_replicates_edges():
    a = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    p = pad_to_multiple(a, 4)
    assert p.shape == (4, 4, 3)
    assert np.array_equal(p[:2, :3], a) and np.array_equal(p[3, 3], a[1, 2])
    assert pad_to_multiple(p, 4) is p


def test_tile_grid_covers_exactly_once():
    tiles = tile_grid(80, 112, 32)
    cover = np.zeros((80, 112), int)
    for y, x, h, w in tiles:
        assert h % 16 == 0 and w % 16 == 0
        cover[y:y + h, x:x + w] += 1
    assert (cover == 1).all()


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG with a valid header (CRCs right) claiming width x height, and almost no data."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


def test_a_header_claiming_50000x50000_is_refused_before_any_pixel_is_decoded():
    import resource
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ImageReadError, match="more than the 400 megapixels"):
        load_rgb(_png_claiming(50000, 50000))
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KB: nothing allocated


@pytest.mark.parametrize("data, claim", [
    (_png_claiming(20000, 15000), "20000x15000"),         # compressed, 300 MP from 100 bytes
    (b"P6 12000 9000 255\n" + b"\0" * 1000, "12000x9000"),  # uncompressed and cut short
])
def test_a_small_file_claiming_a_large_picture_is_refused_before_decoding(data, claim):
    import resource
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ImageReadError, match=f"claims {claim} pixels but holds only"):
        load_rgb(data)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000


@pytest.mark.parametrize("orientation", [1, 6])
def test_loading_a_region_gives_that_part_of_the_displayed_picture(orientation):
    from codec.imaging.region import region_for
    rng = np.random.default_rng(3)
    img = Image.fromarray(rng.integers(0, 256, (120, 200, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = _png(img, "PNG", exif=exif)
    whole = load_rgb(data).pixels
    part = load_rgb(data, crop=lambda h, w: region_for(h, w, centre=(10, 10), side=64))
    r = part.region
    assert (r.full_height, r.full_width) == whole.shape[:2]
    assert np.array_equal(part.pixels, whole[r.y:r.y + r.height, r.x:r.x + r.width])
    assert part.preview is not None and max(part.preview.shape[:2]) <= 256
    small = load_rgb(data, crop=lambda h, w: region_for(h, w, side=4096))
    assert small.region is None and np.array_equal(small.pixels, whole)
