"""PNG export of report figures through kaleido, which drives a Chromium-family browser.

Kaleido (v1) does not bundle a browser: it uses the one named by ``BROWSER_PATH`` or a system
Chrome/Chromium. ``find_browser()`` says which one will be used; without one, ``export_png``
raises ``NoBrowserError`` with what to install, before writing anything.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from memsim.errors import InputError

CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome",
              "/usr/bin/google-chrome-stable")


class NoBrowserError(InputError):
    """PNG export was asked for but no Chromium/Chrome executable is available."""


def find_browser() -> str | None:
    """Path of the browser kaleido will use (``BROWSER_PATH``, then system chromium/chrome), or None."""
    env = os.environ.get("BROWSER_PATH")
    if env and Path(env).is_file() and os.access(env, os.X_OK):
        return env
    for candidate in CANDIDATES:
        if Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def require_browser() -> str:
    """The browser path, or ``NoBrowserError`` saying what to install."""
    browser = find_browser()
    if browser is None:
        raise NoBrowserError("PNG export needs Chromium or Chrome and none was found: install "
                             "Debian's chromium (apt-get install chromium) or set BROWSER_PATH "
                             "to a Chrome/Chromium executable", field="--png")
    return browser


def export_png(figures, directory: str | Path, *, width: int = 1200, height: int = 600,
               scale: float = 1.0) -> list[Path]:
    """Write each ``memsim.report.html.Figure`` as ``<directory>/<slug>.png``; returns the paths.

    Files are rendered into a temporary directory beside them and renamed into place. Raises ``NoBrowserError`` when no
    browser is available.
    """
    browser = require_browser()
    os.environ.setdefault("BROWSER_PATH", browser)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    import tempfile

    import plotly.io as pio

    tmp = Path(tempfile.mkdtemp(prefix=".png.", dir=directory))
    try:
        staged = [tmp / f"{f.slug}.png" for f in figures]
        # one browser session renders all figures (plotly.io.write_images)
        pio.write_images([f.fig for f in figures], staged, format="png", width=width,
                         height=height, scale=scale)
        paths = []
        for f, src in zip(figures, staged):
            dest = directory / f"{f.slug}.png"
            os.replace(src, dest)
            paths.append(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return paths
