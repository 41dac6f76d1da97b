from codec.imaging.region import REGION_SIDE, region_for


def test_small_images_are_compared_whole():
    assert region_for(512, 768) is None
    assert region_for(REGION_SIDE, REGION_SIDE) is None


def test_large_photos_get_a_centred_aligned_region_inside_the_image():
    r = region_for(5760, 8704)
    assert (r.height, r.width) == (REGION_SIDE, REGION_SIDE)
    assert r.y % 16 == 0 and r.x % 16 == 0
    assert abs(r.centre()[0] - 2880) <= 16 and abs(r.centre()[1] - 4352) <= 16
    corner = region_for(5760, 8704, centre=(0, 10_000))
    assert corner.y == 0 and corner.x % 16 == 0 and 8704 - 16 < corner.x + corner.width <= 8704
    assert "8704x5760" in r.describe() and "double-click" in r.describe()


def test_a_long_panorama_keeps_its_full_height():
    r = region_for(1000, 20000, centre=(500, 123))
    assert (r.y, r.x, r.height, r.width) == (0, 0, 1000, REGION_SIDE)
    r = region_for(1000, 20000, centre=(500, 5000))
    assert r.x == 5000 - REGION_SIDE // 2 - (5000 - REGION_SIDE // 2) % 16
