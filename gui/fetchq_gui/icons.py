"""Icons: SVGs from ``resources/icons`` drawn in the palette's text colour, sharp at any scale."""

from __future__ import annotations

from functools import cache
from importlib import resources

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication

SIZES = (16, 22, 24, 32, 48, 64)


@cache
def _svg(name: str) -> str:
    return (resources.files("fetchq_gui.resources") / "icons" / f"{name}.svg").read_text("utf-8")


def _render(svg: str, size: int, scale: float) -> QPixmap:
    renderer = QSvgRenderer(QByteArray(svg.encode("utf-8")))
    pixels = max(1, round(size * scale))
    image = QImage(pixels, pixels, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    renderer.render(painter, QRectF(0, 0, pixels, pixels))
    painter.end()
    pixmap = QPixmap.fromImage(image)
    pixmap.setDevicePixelRatio(scale)
    return pixmap


def icon(name: str, color: QColor | None = None) -> QIcon:
    """The icon ``name``, its ``currentColor`` strokes in ``color`` (default: window text)."""
    app = QApplication.instance()
    if color is None:
        palette = app.palette() if isinstance(app, QApplication) else QPalette()
        color = palette.color(QPalette.ColorRole.WindowText)
    svg = _svg(name).replace("currentColor", color.name())
    scale = app.devicePixelRatio() if isinstance(app, QApplication) else 1.0
    result = QIcon()
    for size in SIZES:
        result.addPixmap(_render(svg, size, max(1.0, scale)))
    return result


def app_icon() -> QIcon:
    """The application icon (full colour, not tinted)."""
    result = QIcon()
    svg = _svg("fetchq")
    for size in (*SIZES, 128, 256):
        result.addPixmap(_render(svg, size, 1.0))
    return result
