"""Images in and out: reading any photo as 8-bit RGB, regions of large photos, pixel conversions, bpp."""
