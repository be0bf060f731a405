"""Labelled contact sheets with Pillow: a grid of images, each with a caption,
and optional row and column headings, laid out like the paper's figures."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..preprocess import to_uint8

BACKGROUND = (255, 255, 255)
INK = (20, 20, 20)


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has only the small bitmap font
        return ImageFont.load_default()


def make_sheet(cells, row_labels=None, column_labels=None, title=None, cell_size=None,
               font_size=None) -> np.ndarray:
    """cells: rows of (image or None, caption); returns an (H, W, 3) uint8 sheet.

    Images are scaled to fit a cell of `cell_size` (width, height), the
    largest image's size by default; None leaves the cell blank.
    """
    images = [np.asarray(img) for row in cells for img, _ in row if img is not None]
    if cell_size is None:
        cell_size = (max(i.shape[1] for i in images), max(i.shape[0] for i in images))
    cw, ch = cell_size
    font_size = font_size or max(12, cw // 14)
    font = _font(font_size)
    caption_h = int(font_size * 1.6)
    pad = max(4, cw // 40)
    left = int(font_size * 0.62 * max((len(l) for l in row_labels or [""]), default=0)) + 2 * pad \
        if row_labels else 0
    top = (int(font_size * 1.8) if column_labels else 0) + (int(font_size * 2.2) if title else 0)
    columns = max(len(row) for row in cells)
    width = left + columns * (cw + pad) + pad
    height = top + len(cells) * (ch + caption_h + pad) + pad
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    if title:
        title_size = int(font_size * 1.2)
        while title_size > 8 and draw.textlength(title, font=_font(title_size)) > width - 2 * pad:
            title_size -= 1  # shrink a long title to the sheet's width
        draw.text((pad, pad), title, fill=INK, font=_font(title_size))
    y0 = top
    if column_labels:
        for c, label in enumerate(column_labels):
            x = left + pad + c * (cw + pad)
            draw.text((x + cw // 2, y0 - font_size), label, fill=INK, font=font, anchor="mm")
    for r, row in enumerate(cells):
        y = y0 + pad + r * (ch + caption_h + pad)
        if row_labels:
            draw.text((pad, y + ch // 2), row_labels[r], fill=INK, font=font, anchor="lm")
        for c, (image, caption) in enumerate(row):
            x = left + pad + c * (cw + pad)
            if image is not None:
                tile = Image.fromarray(to_uint8(np.asarray(image)))
                tile.thumbnail((cw, ch), Image.Resampling.LANCZOS)
                sheet.paste(tile, (x + (cw - tile.width) // 2, y + (ch - tile.height) // 2))
            if caption:
                draw.text((x + cw // 2, y + ch + caption_h // 2), caption, fill=INK, font=font,
                          anchor="mm")
    return np.asarray(sheet)
