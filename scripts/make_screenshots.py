"""The README's pictures, from the bundled demo: `make screenshots` (needs Chromium and the test extras).

    docs/images/projected-page.png       the projected page, light theme (1600 × 1000)
    docs/images/pdf-observability.png    the PDF pre-read's observability review (pdftoppm, 110 dpi)
    docs/images/ops-wheel.png            the Ops Wheel on the page
    docs/images/slide-attention.png      presentation mode, 1280 × 720: what needs our attention
    docs/images/slide-wheel.png          the wheel's slide after a spin, the winner in large type
    docs/images/slide-team-focus.png     the picked team's focus

Deterministic but for the wheel's random pick; the other pictures change only with the report.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
CHROMIUM = os.environ.get("OPSMEETING_CHROMIUM", "/usr/bin/chromium")


def main() -> int:
    from playwright.sync_api import sync_playwright

    IMAGES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        subprocess.run([sys.executable, "-m", "opsmeeting", "demo", "--out", str(out)], check=True,
                       stdout=subprocess.DEVNULL)
        pdf = out / "report.pdf"
        page_of = _page_with(pdf, "2. Observability review")
        subprocess.run(["pdftoppm", "-png", "-r", "110", "-f", str(page_of), "-l", str(page_of), "-singlefile",
                        str(pdf), str(out / "pdf")], check=True)
        shutil.copy(out / "pdf.png", IMAGES / "pdf-observability.png")
        url = (out / "report.html").as_uri()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1600, "height": 1000}, color_scheme="light")
            page.goto(url)
            page.screenshot(path=str(IMAGES / "projected-page.png"))
            page.evaluate("document.getElementById('wheel').scrollIntoView()")
            page.screenshot(path=str(IMAGES / "ops-wheel.png"))
            slides = browser.new_page(viewport={"width": 1280, "height": 720}, color_scheme="light",
                                      reduced_motion="reduce")
            slides.goto(url)
            slides.keyboard.press("p")
            slides.evaluate("document.fonts.ready")
            slides.screenshot(path=str(IMAGES / "slide-attention.png"))
            slides.keyboard.press("w")
            slides.keyboard.press("s")
            slides.locator(".deck #wheel-winner").wait_for(state="visible")
            slides.screenshot(path=str(IMAGES / "slide-wheel.png"))
            slides.keyboard.press("ArrowRight")
            slides.screenshot(path=str(IMAGES / "slide-team-focus.png"))
            browser.close()
    for name in sorted(IMAGES.glob("*.png")):
        print(f"{name.relative_to(ROOT)}  {name.stat().st_size // 1024} kB")
    return 0


def _page_with(pdf: Path, heading: str) -> int:
    from pypdf import PdfReader

    reader = PdfReader(pdf)
    for item in reader.outline:
        if not isinstance(item, list) and item.title == heading:
            return reader.get_destination_page_number(item) + 1
    raise SystemExit(f"{pdf}: no bookmark {heading!r}")


if __name__ == "__main__":
    raise SystemExit(main())
