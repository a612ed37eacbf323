#!/usr/bin/env python3
"""Save every screen of the console, on the fixed sample fleet, as SVG into docs/screens/ (and, with --png,
as PNG through headless Chromium, to look at). Run: .venv/bin/python scripts/screens.py --png

The screens and keys are the snapshot tests' own (tests/console/test_snapshots.py), so the pictures in the
docs are the ones the tests compare."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.console.test_snapshots import SCREENS, settle  # noqa: E402
from wattfleet.tui.sampleapp import prometheus_app, sample_app  # noqa: E402

OUT = ROOT / "docs" / "screens"
SIZES = {"160x48": (160, 48), "80x24": (80, 24)}


async def save(name: str, keys: list[str], size: tuple[int, int], out: Path) -> Path:
    app = prometheus_app() if name == "fleet-prometheus" else sample_app()
    async with app.run_test(size=size) as pilot:
        await settle(keys)(pilot)
        path = out / f"{name}-{size[0]}x{size[1]}.svg"
        app.save_screenshot(path.name, str(out))
    return path


def to_png(svg: Path, size: tuple[int, int]) -> Path:
    png = svg.with_suffix(".png")
    width, height = (1700, 1100) if size[0] > 100 else (900, 600)
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={png}",
                    f"--window-size={width},{height}", svg.as_uri()], check=True, capture_output=True)
    return png


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--png", action="store_true", help="also convert each SVG to PNG with headless Chromium")
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--only", action="append", default=[], metavar="NAME", help="only these screens (repeatable)")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.png and shutil.which("chromium") is None:
        raise SystemExit("chromium is not installed (Debian: apt-get install chromium)")
    for name, keys in SCREENS.items():
        if args.only and name not in args.only:
            continue
        for size in SIZES.values():
            svg = asyncio.run(save(name, keys, size, args.out))
            print(svg)
            if args.png:
                print(to_png(svg, size))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
