"""Draw the three rating faces of the terminal: ``python assets/make_faces.py``.

Writes ``assets/faces/{very_satisfied,satisfied,dissatisfied}.png``: 512 px,
transparent, drawn at 4x and downsampled so every edge is antialiased.

The mouth carries the meaning (big open smile, smile, frown) so the faces read
without colour. The colours differ in lightness as well as hue: seen by a
red/green colour-blind person (deuteranope) the green face stays clearly
lighter than the red one (CIE L* about 68 against 52), and the blue one keeps
its hue. Dark features on every face keep a contrast of at least 3.5:1.

Needs only Pillow; the PNGs are committed, so the terminal never runs this.
"""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 512
SCALE = 4
INK = (27, 31, 36, 255)  # #1B1F24, the features and the outline

FACES = {
    "very_satisfied": (92, 191, 74, 255),   # #5CBF4A light green, L* 69
    "satisfied": (58, 134, 214, 255),       # #3A86D6 blue, L* 55
    "dissatisfied": (208, 64, 44, 255),     # #D0402C red-orange, L* 48
}


def _arc_points(cx: float, cy: float, r: float, start_deg: float, end_deg: float, n: int = 96):
    """Points along a circle arc; angles in degrees, 0 = right, 90 = down (image coordinates)."""
    return [
        (cx + r * math.cos(math.radians(a)), cy + r * math.sin(math.radians(a)))
        for a in (start_deg + (end_deg - start_deg) * i / n for i in range(n + 1))
    ]


def _stroke(draw: ImageDraw.ImageDraw, points, width: float, fill) -> None:
    """A thick polyline with round joints and round caps.

    Drawn as one quad per segment plus a disc at every point: Pillow's own
    wide lines leave gaps at the joints of a finely sampled curve.
    """
    half = width / 2
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        length = math.hypot(x1 - x0, y1 - y0) or 1.0
        nx, ny = -(y1 - y0) / length * half, (x1 - x0) / length * half
        draw.polygon([(x0 + nx, y0 + ny), (x1 + nx, y1 + ny), (x1 - nx, y1 - ny), (x0 - nx, y0 - ny)], fill=fill)
    for x, y in points:
        draw.ellipse((x - half, y - half, x + half, y + half), fill=fill)


def draw_face(kind: str) -> Image.Image:
    """The face ``kind`` at SIZE px, antialiased, on a transparent background."""
    s = SIZE * SCALE
    c = s / 2
    radius = 0.47 * s
    outline = 0.034 * s
    img = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)

    draw.ellipse((c - radius, c - radius, c + radius, c + radius), fill=INK)
    inner = radius - outline
    draw.ellipse((c - inner, c - inner, c + inner, c + inner), fill=FACES[kind])

    r = inner
    # Eyes: upright ovals, a little above the centre.
    eye_dx, eye_y, eye_rx, eye_ry = 0.33 * r, c - 0.22 * r, 0.085 * r, 0.13 * r
    for ex in (c - eye_dx, c + eye_dx):
        draw.ellipse((ex - eye_rx, eye_y - eye_ry, ex + eye_rx, eye_y + eye_ry), fill=INK)

    stroke = 0.10 * r
    if kind == "very_satisfied":
        # A wide open smile: a gently curved top edge over a deep half-ellipse.
        half_w, top, depth = 0.52 * r, c + 0.10 * r, 0.50 * r
        upper = [(c + half_w * t, top + 0.06 * r * (1 - t * t)) for t in (i / 48 - 1 for i in range(97))]
        lower = [
            (c + half_w * math.cos(math.radians(a)), top + depth * math.sin(math.radians(a)))
            for a in (i * 180 / 96 for i in range(97))
        ]
        shape = upper + lower  # left→right along the top, right→left along the bottom
        draw.polygon(shape, fill=INK)
        _stroke(draw, shape + [shape[0]], 0.07 * r, INK)  # rounds the two corners
    elif kind == "satisfied":
        _stroke(draw, _arc_points(c, c - 0.04 * r, 0.52 * r, 25, 155), stroke, INK)
    else:
        _stroke(draw, _arc_points(c, c + 0.84 * r, 0.52 * r, 205, 335), stroke, INK)
        # Eyebrows raised at the inner ends: sad rather than angry.
        for side in (-1, 1):
            inner_end = (c + side * 0.20 * r, eye_y - 0.31 * r)
            outer_end = (c + side * 0.44 * r, eye_y - 0.22 * r)
            _stroke(draw, [inner_end, outer_end], 0.075 * r, INK)

    # Resize premultiplied so the transparent edge does not turn dark.
    return img.convert("RGBa").resize((SIZE, SIZE), Image.LANCZOS).convert("RGBA")


def main(out_dir: Path | None = None) -> list[Path]:
    out_dir = out_dir or Path(__file__).parent / "faces"
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in FACES:
        target = out_dir / f"{kind}.png"
        draw_face(kind).save(target, optimize=True)
        written.append(target)
        print(f"wrote {target}")
    return written


if __name__ == "__main__":
    main()
