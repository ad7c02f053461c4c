"""The tray icon's pictures, drawn with Pillow (no image files to ship or keep in sync).

One picture per :class:`TrayState`: a card outline or a filled card, with a round badge
whose symbol (not only its colour) tells the state apart, so the macOS template version
(black on transparent, tinted by the menu bar) and colour-blind users see the same thing.
Each size is drawn at four times its size and scaled down, which keeps 16 px readable.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from pathlib import Path

from PIL import Image, ImageDraw


class TrayState(enum.Enum):
    NO_READER = "no-reader"
    NO_CARD = "no-card"
    READY = "ready"
    BUSY = "busy"
    ATTENTION = "attention"


SIZES = (16, 22, 24, 32, 48, 64)
"""Windows 16/24/32/48 (tray and .ico), GNOME/KDE 22/24, macOS menu bar 16/32 (Retina);
64 for large panels and the .deb's hicolor icons."""
ICO_SIZES = (16, 24, 32, 48, 64)

_CARD = (0, 82, 147, 255)  # a dark blue card
_GREY = (110, 110, 110, 255)
_BADGE = {
    TrayState.NO_READER: _GREY,
    TrayState.NO_CARD: None,
    TrayState.READY: (30, 150, 60, 255),
    TrayState.BUSY: (30, 110, 220, 255),
    TrayState.ATTENTION: (215, 40, 30, 255),
}
_BLACK = (0, 0, 0, 255)
_CLEAR = (0, 0, 0, 0)
_WHITE = (255, 255, 255, 255)
_SCALE = 4


def draw(state: TrayState, size: int, *, template: bool = False) -> Image.Image:
    """The RGBA picture of ``state``, ``size`` pixels square. ``template``: black shapes on
    transparency only (macOS menu-bar template images)."""
    if size < 8:
        raise ValueError(f"an icon of {size} px cannot be drawn legibly")
    big = size * _SCALE
    image = Image.new("RGBA", (big, big), _CLEAR)
    pen = ImageDraw.Draw(image)
    u = big / 32  # drawing unit: the picture is designed on a 32 x 32 grid

    def box(x0: float, y0: float, x1: float, y1: float) -> tuple[int, int, int, int]:
        return (round(x0 * u), round(y0 * u), round(x1 * u), round(y1 * u))

    filled = state in (TrayState.READY, TrayState.BUSY, TrayState.ATTENTION)
    ink = _BLACK if template else (_CARD if filled else _GREY)
    card = box(1, 6, 25, 22)
    radius = round(3 * u)
    if filled:
        pen.rounded_rectangle(card, radius, fill=ink)
        # The chip: a hole in the template, gold in colour.
        pen.rounded_rectangle(box(4, 10, 10, 15), round(u), fill=_CLEAR if template else
                              (230, 190, 60, 255))
    else:
        pen.rounded_rectangle(card, radius, outline=ink, width=max(1, round(2 * u)))
        pen.rounded_rectangle(box(4, 10, 10, 15), round(u), outline=ink, width=max(1, round(u)))

    badge = _BADGE[state]
    if badge is not None:
        colour = _BLACK if template else badge
        symbol = _CLEAR if template else _WHITE
        centre, r = (23 * u, 22 * u), 9 * u
        # A ring of transparency separates the badge from the card underneath.
        pen.ellipse(
            (centre[0] - r - 1.5 * u, centre[1] - r - 1.5 * u,
             centre[0] + r + 1.5 * u, centre[1] + r + 1.5 * u),
            fill=_CLEAR,
        )
        pen.ellipse((centre[0] - r, centre[1] - r, centre[0] + r, centre[1] + r), fill=colour)
        _symbol(pen, state, centre, u, symbol)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def _symbol(
    pen: ImageDraw.ImageDraw,
    state: TrayState,
    centre: tuple[float, float],
    u: float,
    colour: tuple[int, int, int, int],
) -> None:
    cx, cy = centre
    width = max(1, round(2.2 * u))
    if state is TrayState.READY:  # a tick
        pen.line(
            [(cx - 4.5 * u, cy), (cx - 1 * u, cy + 3.5 * u), (cx + 5 * u, cy - 4 * u)],
            fill=colour, width=width, joint="curve",
        )
    elif state is TrayState.BUSY:  # three dots
        for dx in (-4.5, 0.0, 4.5):
            d = 1.6 * u
            pen.ellipse((cx + dx * u - d, cy - d, cx + dx * u + d, cy + d), fill=colour)
    elif state is TrayState.ATTENTION:  # an exclamation mark
        pen.rectangle((cx - 1.2 * u, cy - 5.5 * u, cx + 1.2 * u, cy + 1.5 * u), fill=colour)
        pen.ellipse((cx - 1.4 * u, cy + 3 * u, cx + 1.4 * u, cy + 5.8 * u), fill=colour)
    elif state is TrayState.NO_READER:  # a cross
        for a, b in (((-4, -4), (4, 4)), ((-4, 4), (4, -4))):
            pen.line(
                [(cx + a[0] * u, cy + a[1] * u), (cx + b[0] * u, cy + b[1] * u)],
                fill=colour, width=width,
            )


def all_sizes(state: TrayState, *, template: bool = False) -> dict[int, Image.Image]:
    return {size: draw(state, size, template=template) for size in SIZES}


def write_ico(state: TrayState, path: Path, sizes: Iterable[int] = ICO_SIZES) -> Path:
    """A Windows .ico holding each size drawn for itself (not one picture rescaled)."""
    images = [draw(state, size) for size in sorted(sizes, reverse=True)]
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(
        path,
        format="ICO",
        sizes=[image.size for image in images],
        append_images=images[1:],
    )
    return path


def write_pngs(state: TrayState, directory: Path, name: str = "eid-bridge") -> list[Path]:
    """``<directory>/<N>x<N>/apps/<name>.png`` for every size: a hicolor icon theme tree."""
    written = []
    for size, image in all_sizes(state).items():
        target = directory / f"{size}x{size}" / "apps" / f"{name}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        image.save(target)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m bridge.tray.icons DIR``: the installers' icons (hicolor PNGs, .ico)."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m bridge.tray.icons OUTPUT_DIR", file=sys.stderr)
        return 2
    out = Path(args[0])
    write_pngs(TrayState.READY, out / "hicolor")
    write_ico(TrayState.READY, out / "eid-bridge.ico")
    for state in TrayState:
        draw(state, 32, template=True).save(out / f"template-{state.value}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
