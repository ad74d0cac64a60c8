"""Screenshots of each view from the real running app (Playwright + system Chromium).

    python docs/screenshots/capture.py [--out docs/screenshots] [--example 1]

Uses the same configuration as `python app.py` (DRAPE_* environment), starts
the app on a free port in this process, drives it like a visitor and closes
it. PNGs are palette-quantised so each stays well under 500 KB.
"""
from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shrink(path: Path, limit: int = 480_000) -> None:
    """Quantise to a 256-colour palette (photos survive it well; text stays crisp)."""
    from PIL import Image

    im = Image.open(path).convert("RGB")
    for colours in (256, 128, 64):
        im.quantize(colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)
        if path.stat().st_size < limit:
            return
    im.thumbnail((im.width * 3 // 4, im.height * 3 // 4))
    im.quantize(128).save(path, optimize=True)


def wait_results(page, selector: str, timeout: float = 60_000) -> None:
    page.wait_for_selector(f"{selector} img", timeout=timeout)
    page.wait_for_timeout(800)  # let thumbnails decode before the shot


def capture(url: str, out: Path, example: int = 1) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    shots = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1360, "height": 1000}, device_scale_factor=1)
        page.goto(url, wait_until="load")
        page.wait_for_selector("#examples img", timeout=60_000)
        page.locator("#examples img").nth(example - 1).click()
        wait_results(page, "#results")
        for name, tab, ready in (("search", None, None), ("stages", "Pipeline stages", "#stages"),
                                 ("compare", "Compare", None), ("share", "Share & API", None)):
            if tab:
                page.get_by_role("tab", name=tab).click()
            if name == "compare":
                page.get_by_role("button", name="Compare A and B").click()
                wait_results(page, "#gallery_b")
                page.wait_for_timeout(1500)
            elif ready:
                wait_results(page, ready)
            elif name == "share":
                page.get_by_role("button", name="Update link").click()
                page.wait_for_timeout(1500)
            path = out / f"{name}.png"
            page.screenshot(path=str(path), full_page=True)
            shrink(path)
            shots.append(path)
        browser.close()
    return shots


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    ap.add_argument("--example", type=int, default=1, help="which example query to click (1-based)")
    args = ap.parse_args()
    from demo import build
    from pipeline import config

    app = build(config.load())
    port = free_port()
    app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    try:
        for path in capture(f"http://127.0.0.1:{port}/", args.out, args.example):
            print(f"{path}  {path.stat().st_size // 1024} KB")
    finally:
        app.blocks.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
