"""Media hygiene: re-encode images so no EXIF/GPS metadata reaches a staff group."""

from __future__ import annotations

import io

from PIL import Image, ImageOps

IMAGE_MIME_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/heic",
                              "image/tiff", "image/gif"})


def strip_image_metadata(data: bytes, *, max_side: int = 2560) -> bytes:
    """Decode and re-encode an image as a fresh JPEG: pixels only, no EXIF, GPS or XMP.

    The orientation tag is applied to the pixels first so the picture still looks right.
    """
    with Image.open(io.BytesIO(data)) as original:
        image = ImageOps.exif_transpose(original)
        image = image.convert("RGB")
        image.thumbnail((max_side, max_side))
        clean = Image.new("RGB", image.size)
        clean.paste(image)
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=88, optimize=True)
    return out.getvalue()
