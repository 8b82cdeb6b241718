#!/usr/bin/env python3
"""JPEG files and their decoded pixels (Pillow's decoder) for cldiff's JPEG reader test.

Writes tests/golden/jpeg/: gray.jpg (12x9 baseline), rgb.jpg (10x7 baseline, 4:2:0), prog.jpg
(10x7 progressive), cmyk.jpg (refused by cldiff), trunc.jpg (rgb.jpg cut in half: an error, not a
gray-padded image), and pixels.safetensors with Pillow's decode of the first three as float32
(h, w, c) in 0..255. Run: python3 tools/golden/make_jpeg_golden.py (the C suite never needs Python)
"""
import os

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "golden", "jpeg")


def pattern(h, w, c):
    y, x = np.mgrid[0:h, 0:w]
    planes = [(37 * x + 11 * y) % 256, (200 - 19 * x + 7 * y * y) % 256, (x * y * 13 + 60) % 256]
    return np.stack(planes[:c], axis=-1).astype(np.uint8)


def main():
    os.makedirs(OUT, exist_ok=True)
    Image.fromarray(pattern(12, 9, 1)[:, :, 0], "L").save(os.path.join(OUT, "gray.jpg"), quality=90)
    rgb = Image.fromarray(pattern(7, 10, 3), "RGB")
    rgb.save(os.path.join(OUT, "rgb.jpg"), quality=85)
    rgb.save(os.path.join(OUT, "prog.jpg"), quality=85, progressive=True)
    rgb.convert("CMYK").save(os.path.join(OUT, "cmyk.jpg"), quality=85)
    data = open(os.path.join(OUT, "rgb.jpg"), "rb").read()
    open(os.path.join(OUT, "trunc.jpg"), "wb").write(data[: len(data) // 2])
    px = {}
    for name in ("gray", "rgb", "prog"):
        a = np.asarray(Image.open(os.path.join(OUT, name + ".jpg")))
        if a.ndim == 2:
            a = a[:, :, None]
        px[name] = torch.from_numpy(a.astype(np.float32).copy())
    save_file(px, os.path.join(OUT, "pixels.safetensors"))
    print("wrote", sorted(os.listdir(OUT)))


if __name__ == "__main__":
    main()
