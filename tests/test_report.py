"""The HTML report: content, self-containment, and a real headless browser."""

import base64
import io
import re
import shutil
import subprocess

import numpy as np
import pytest

pytest.importorskip("jinja2", reason="the report needs the optional [report] extra")
pytest.importorskip("matplotlib", reason="the report needs the optional [report] extra")

from kmeanskit.datasets import load_mall_customers  # noqa: E402
from kmeanskit.report import build_report, write_report  # noqa: E402
from kmeanskit.segmentation import Segmenter  # noqa: E402

SECTIONS = ["summary", "choosing-k", "segments", "profiles", "distributions", "silhouette",
            "categories", "reproduce"]
FEATURES = ["Annual Income (k$)", "Spending Score (1-100)"]


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory):
    segmenter = Segmenter(columns=FEATURES, noun="customers")
    result = segmenter.fit(load_mall_customers())
    path = tmp_path_factory.mktemp("report") / "report.html"
    write_report(path, result, segmenter, source="demo")
    return path, result


def _images(page):
    return re.findall(r'src="data:image/png;base64,([^"]+)"', page)


def test_report_has_every_section_figure_and_table(demo_report):
    path, result = demo_report
    page = path.read_text()
    for section in SECTIONS:
        assert f'<section id="{section}">' in page
    images = _images(page)
    # elbow, silhouette vs k, scatter, distributions, silhouette knife, gender shares
    assert len(images) == 6
    from PIL import Image

    for encoded in images:
        image = Image.open(io.BytesIO(base64.b64decode(encoded)))
        assert image.size[0] > 300 and np.asarray(image.convert("L")).std() > 5
    assert page.count("<table>") >= 4
    for text in result.descriptions.values():
        assert text in page
    assert "200 customers were split into 5 segments by k-means" in page
    assert 'alt="Share of Gender in each segment"' in page


def test_report_is_self_contained(demo_report):
    page = demo_report[0].read_text()
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<script" not in page and "@import" not in page


def test_report_for_mixtures_and_fixed_k():
    customers = load_mall_customers()
    gmm = Segmenter(columns=FEATURES, method="gmm", k="2-6")
    page = build_report(gmm.fit(customers), gmm)
    assert "Gaussian mixture" in page and "covariances" in page
    fixed = Segmenter(columns=FEATURES + ["Age"], k=4)
    page = build_report(fixed.fit(customers), fixed)
    assert "K = 4 was set by hand" in page


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip("no headless Chromium (apt-get install chromium) for the browser test")


BROWSER_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync",
                 "--disable-extensions"]


def test_report_renders_in_a_headless_browser(demo_report, tmp_path):
    chromium = _chromium()
    path, _ = demo_report
    flags = BROWSER_FLAGS + [f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([chromium, *flags, "--dump-dom", path.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    for section in SECTIONS:
        assert f'id="{section}"' in dom.stdout
    assert len(_images(dom.stdout)) == 6 and dom.stdout.count("<table>") >= 4
    assert "Uncaught" not in dom.stderr and "ERROR:CONSOLE" not in dom.stderr
    shot = tmp_path / "shot.png"
    done = subprocess.run([chromium, *flags, "--window-size=1280,2400",
                           f"--screenshot={shot}", path.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape == (2400, 1280)
    assert np.unique(pixels).size > 50 and (pixels < 200).mean() > 0.05
