#!/usr/bin/env python3
"""Save every screen of the console, on the fixed sample fleet, as SVG into docs/screens/ (and, with --png,
as PNG through headless Chromium, to look at). Run: .venv/bin/python scripts/screens.py --png"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
from pathlib import Path

from wattfleet.tui.sampleapp import sample_app

OUT = Path(__file__).resolve().parents[1] / "docs" / "screens"
SCREENS = {"fleet": [], "host": ["down", "enter"], "record": ["down", "enter", "enter"], "launcher": ["l"],
           "pareto": ["p"], "help": ["question_mark"]}
SIZES = {"160x48": (160, 48), "80x24": (80, 24)}


async def save(name: str, keys: list[str], size: tuple[int, int], out: Path) -> Path:
    app = sample_app()
    async with app.run_test(size=size) as pilot:
        await pilot.pause(0.3)
        for key in keys:
            await pilot.press(key)
            await pilot.pause(0.3)
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
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, keys in SCREENS.items():
        for size in SIZES.values():
            svg = asyncio.run(save(name, keys, size, args.out))
            print(svg)
            if args.png:
                if shutil.which("chromium") is None:
                    raise SystemExit("chromium is not installed (Debian: apt-get install chromium)")
                print(to_png(svg, size))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
