"""Regenerate docs/report-screenshot.png: the demo report in headless Chromium.

Run from the project folder (needs the [report] extra and Debian's chromium):

    python docs/make_screenshot.py
"""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

from kmeanskit.datasets import load_mall_customers
from kmeanskit.report import write_report
from kmeanskit.segmentation import Segmenter

HERE = Path(__file__).resolve().parent


def main() -> int:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("needs chromium (apt-get install chromium)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        segmenter = Segmenter(columns=["Annual Income (k$)", "Spending Score (1-100)"],
                              noun="customers")
        report = write_report(folder / "report.html",
                              segmenter.fit(load_mall_customers()), segmenter,
                              source="bundled mall-customers demo data")
        shot = folder / "shot.png"
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-background-networking", "--disable-component-update",
                        "--no-first-run", "--disable-sync", f"--user-data-dir={folder / 'p'}",
                        "--window-size=1280,1900", f"--screenshot={shot}", report.as_uri()],
                       check=True, capture_output=True)
        image = Image.open(shot).convert("RGB")
        image.resize((960, int(image.height * 960 / image.width)), Image.LANCZOS).save(
            HERE / "report-screenshot.png", optimize=True)
    print(HERE / "report-screenshot.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
