"""The site's logo made printable: 1 bit per dot, no wider than the paper, centred on it.

Done here once, when the printer is set up, instead of through python-escpos's ``image(center=True)``:
that centres only when the profile knows the paper's width in dots and otherwise *prints* a warning
to stdout (the journal) on every receipt, and refuses an image wider than the profile's width.
"""

from __future__ import annotations

from PIL import Image, ImageOps

MAX_HEIGHT = 400  # dots: 5 cm at 203 dpi; a taller logo is scaled down, paper is not free


def printable_logo(image: Image.Image, dots: int) -> Image.Image:
    """``image`` as a black-and-white raster exactly ``dots`` wide (a multiple of 8), centred."""
    if dots <= 0 or dots % 8:
        raise ValueError(f"paper width of {dots} dots: expected a positive multiple of 8")
    picture = image
    if picture.mode in ("RGBA", "LA", "P"):
        picture = picture.convert("RGBA")
        white = Image.new("RGBA", picture.size, (255, 255, 255, 255))
        picture = Image.alpha_composite(white, picture)  # transparent areas print as paper, not black
    picture = ImageOps.grayscale(picture)
    scale = min(1.0, dots / picture.width, MAX_HEIGHT / picture.height)
    if scale < 1.0:
        size = (max(1, int(picture.width * scale)), max(1, int(picture.height * scale)))
        picture = picture.resize(size, Image.Resampling.LANCZOS)
    mono = picture.convert("1")  # Floyd-Steinberg dithering: greys come out as dot patterns
    canvas = Image.new("1", (dots, mono.height), 1)
    canvas.paste(mono, ((dots - mono.width) // 2, 0))
    return canvas
