"""The report renders in a real headless Chromium (Debian's ``chromium``): a non-blank page
with the charts' colours, drawn from the file alone (the network is off for the browser)."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from livebase.features import FeaturesSettings
from livebase.report import build_report, render_html
from livebase.segments import SegmentationRun
from livebase.store import Store

from .conftest import ALERTS, SMALL_DATES

Runs = tuple[Store, dict[date, SegmentationRun]]
WIDTH, HEIGHT = 1280, 2400


def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        reason = "chromium is not installed: run 'make system-deps' (Debian package 'chromium')"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return found


def screenshot(page: Path, folder: Path) -> Path:
    shot = folder / "shot.png"
    subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={folder / 'profile'}",
            f"--screenshot={shot}",
            f"--window-size={WIDTH},{HEIGHT}",
            page.resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return shot


@pytest.mark.slow
def test_the_report_renders_in_headless_chromium(small: Runs, tmp_path: Path) -> None:
    from matplotlib import image

    store, _ = small
    data = build_report(store, FeaturesSettings(), ALERTS, SMALL_DATES[1])
    page = tmp_path / "report.html"
    page.write_text(render_html(data, lang="ru", currency="RUB"), encoding="utf-8")
    shot = screenshot(page, tmp_path)
    assert shot.exists() and shot.stat().st_size > 10_000
    pixels = image.imread(str(shot))[..., :3]
    assert pixels.shape[:2] == (HEIGHT, WIDTH)
    ink = (pixels < 0.9).any(axis=2)
    assert ink.mean() > 0.03, "the page is (almost) blank"
    # the treemap's and the grid's colours: saturated pixels, in the upper part of the page
    saturation = pixels.max(axis=2) - pixels.min(axis=2)
    assert (saturation[: HEIGHT // 2] > 0.3).mean() > 0.02, "no charts drawn"
    colours = np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 200
