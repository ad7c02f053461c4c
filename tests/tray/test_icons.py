"""The icon pictures: every size each OS asks for, one distinct picture per state."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from bridge.tray.icons import ICO_SIZES, SIZES, TrayState, draw, main, write_ico


@pytest.mark.parametrize("template", [False, True])
def test_every_state_at_every_size(template: bool) -> None:
    for size in SIZES:
        pictures = {state: draw(state, size, template=template) for state in TrayState}
        for picture in pictures.values():
            assert picture.size == (size, size)
            assert picture.mode == "RGBA"
            assert picture.getbbox() is not None  # something is drawn
        # Five states, five different pictures, even at 16 px and without colour.
        assert len({p.tobytes() for p in pictures.values()}) == len(TrayState)


def pixels(picture: Image.Image) -> list[tuple[int, int, int, int]]:
    width, height = picture.size
    rgba = picture.convert("RGBA")
    return [rgba.getpixel((x, y)) for y in range(height) for x in range(width)]  # type: ignore[misc]


def test_template_pictures_are_black_on_transparency() -> None:
    for state in TrayState:
        picture = draw(state, 32, template=True)
        colours = {(r, g, b) for (r, g, b, alpha) in pixels(picture) if alpha > 0}
        assert colours == {(0, 0, 0)}


def test_colour_says_the_state() -> None:
    def has(picture: Image.Image, colour: tuple[int, int, int]) -> bool:
        return any(tuple(p[:3]) == colour and p[3] == 255 for p in pixels(picture))

    assert has(draw(TrayState.READY, 64), (30, 150, 60))
    assert has(draw(TrayState.ATTENTION, 64), (215, 40, 30))
    assert not has(draw(TrayState.NO_CARD, 64), (30, 150, 60))


def test_windows_ico_holds_each_size(tmp_path: Path) -> None:
    path = write_ico(TrayState.READY, tmp_path / "eid-bridge.ico")
    with Image.open(path) as ico:
        assert ico.format == "ICO"
        assert set(ico.info["sizes"]) == {(s, s) for s in ICO_SIZES}
        ico.size = (16, 16)  # type: ignore[misc]
        ico.load()
        # The 16 px entry is the one drawn at 16 px, not the 64 px picture shrunk.
        assert ico.convert("RGBA").tobytes() == draw(TrayState.READY, 16).tobytes()


def test_installer_icons(tmp_path: Path) -> None:
    assert main([str(tmp_path)]) == 0
    for size in SIZES:
        with Image.open(tmp_path / "hicolor" / f"{size}x{size}" / "apps" / "eid-bridge.png") as p:
            assert p.size == (size, size)
    assert (tmp_path / "eid-bridge.ico").stat().st_size > 0
    assert main([]) == 2


def test_too_small_to_draw() -> None:
    with pytest.raises(ValueError, match="4 px"):
        draw(TrayState.READY, 4)
