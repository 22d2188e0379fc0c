"""Real-browser checks of the reports with Debian's chromium through Playwright (file URLs only).

Fails (does not skip) when /usr/bin/chromium is missing: `.ci/run` installs it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import pytest

from memsim.report import write_compare_report, write_run_report, write_sweep_report
from test_compare import entries
from test_report_helpers import XSS, make_result, make_sweep_df

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    assert Path(CHROMIUM).is_file(), (f"{CHROMIUM} not found: install Debian's chromium "
                                      "(apt-get install -y chromium) to run the browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield b
        b.close()


def open_report(browser, path: Path, shot: Path):
    """Load ``path`` by file URL with network requests refused; return page facts."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems, dialogs, requests = [], [], []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    def route(r):
        requests.append(r.request.url)
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            r.abort()

    page.route("**/*", route)
    page.goto(path.resolve().as_uri())
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length > 0 && "
                           "Array.from(document.querySelectorAll('.js-plotly-plot'))"
                           ".every(d => d.querySelector('svg.main-svg'))", timeout=30000)
    facts = page.evaluate("""() => ({
        divs: document.querySelectorAll('div[id^="fig-"]').length,
        plots: document.querySelectorAll('.js-plotly-plot').length,
        rendered: Array.from(document.querySelectorAll('.js-plotly-plot'))
                       .filter(d => d.querySelector('svg')).length,
        xss: document.querySelectorAll('img[src="x"]').length,
        flag: window.__xss === true,
    })""")
    png = page.screenshot(path=str(shot), full_page=True)
    page.close()
    return facts, problems, dialogs, [u for u in requests if not u.startswith("file://")], png


def non_blank(browser, png: bytes) -> bool:
    """True when the screenshot has real content: pixel statistics computed in the browser
    (canvas) since no image library is a dependency."""
    import base64

    page = browser.new_page()
    stats = page.evaluate("""async (src) => {
        const img = new Image();
        img.src = src;
        await img.decode();
        const c = document.createElement('canvas');
        c.width = img.width; c.height = img.height;
        const ctx = c.getContext('2d');
        ctx.drawImage(img, 0, 0);
        const d = ctx.getImageData(0, 0, c.width, c.height).data;
        let n = 0, sum = 0, sq = 0, dark = 0;
        for (let i = 0; i < d.length; i += 4 * 7) {
            const g = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
            n++; sum += g; sq += g * g; if (g < 128) dark++;
        }
        const mean = sum / n;
        return {w: c.width, h: c.height, std: Math.sqrt(sq / n - mean * mean), dark: dark / n};
    }""", "data:image/png;base64," + base64.b64encode(png).decode())
    page.close()
    return stats["w"] > 0 and stats["h"] > 0 and stats["std"] > 5 and stats["dark"] > 0.001


def check(browser, path: Path, tmp_path: Path, expected: int):
    facts, problems, dialogs, remote, png = open_report(browser, path, tmp_path / (path.stem + ".png"))
    assert facts["divs"] == expected and facts["plots"] == expected and facts["rendered"] == expected, facts
    assert problems == [], problems
    assert dialogs == [] and facts["xss"] == 0 and not facts["flag"]
    assert remote == []
    assert non_blank(browser, png)


def test_run_report_renders(browser, tmp_path):
    path = write_run_report(make_result(), tmp_path / "run.html")
    check(browser, path, tmp_path, 6)


def test_sweep_report_renders(browser, tmp_path):
    path = write_sweep_report(make_sweep_df(), {"name": "s"}, tmp_path / "sweep.html")
    check(browser, path, tmp_path, 3)


def test_compare_report_renders(browser, tmp_path):
    path = write_compare_report(entries(), tmp_path / "compare.html", network="mobilenet_v2")
    check(browser, path, tmp_path, 3)


def test_xss_layer_name_runs_no_script(browser, tmp_path):
    hostile = (XSS, "<script>window.__xss=true</script>", "</script><script>alert(2)</script>",
               "<svg onload=alert(3)>", "pool4", "<a href=javascript:alert(4)>x</a>")
    result = make_result(layer_names=hostile, name="<img src=x onerror=alert(5)>")
    path = write_run_report(result, tmp_path / "xss.html")
    check(browser, path, tmp_path, 6)
    es = entries()
    es[0].hardware = XSS
    path = write_compare_report(es, tmp_path / "xss-compare.html", network=XSS)
    check(browser, path, tmp_path, 3)


def test_hostile_layer_name_from_an_imported_csv_runs_no_script(browser, tmp_path):
    """End to end: a SCALE-Sim CSV names a layer with markup; simulate, report, open."""
    import memsim

    csv = tmp_path / "hostile.csv"
    csv.write_text("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
                   f"Num Filter, Strides,\n{XSS},16,16,3,3,8,16,1,\nsafe,14,14,3,3,16,16,1,\n")
    scenario = tmp_path / "s.yaml"
    hw = Path(__file__).resolve().parents[1] / "configs" / "hardware" / "raspberry-pi-5.yaml"
    scenario.write_text(f"name: xss\nhardware: {hw}\nstreams:\n  - {{network: hostile.csv, dtype: int8}}\n")
    result = memsim.simulate(scenario)
    assert XSS in set(result.layers["name"])
    path = write_run_report(result, tmp_path / "xss-imported.html")
    check(browser, path, tmp_path, 6)


def test_compare_on_every_preset_opens_offline(browser, tmp_path):
    """`memsim compare --network mobilenet_v2 --deadline 33ms configs/hardware/*.yaml` end to end."""
    import json

    from memsim.cli import main

    presets = sorted((Path(__file__).resolve().parents[1] / "configs" / "hardware").glob("*.yaml"))
    assert len(presets) >= 14
    out = tmp_path / "compare.html"
    code = main(["compare", "--network", "mobilenet_v2", "--deadline", "33ms", "--json",
                 "--report", str(out), *map(str, presets)])
    assert code == 0
    check(browser, out, tmp_path, 3)


def _rendered_page(browser, path: Path, shot: Path):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file://") else r.abort())
    page.goto(path.resolve().as_uri())
    page.wait_for_function("Array.from(document.querySelectorAll('.js-plotly-plot'))"
                           ".every(d => d.querySelector('svg.main-svg'))", timeout=30000)
    page.screenshot(path=str(shot), full_page=True)
    return page


def test_run_report_figures_are_readable_on_screen(browser, tmp_path):
    """Issue 17, as a user sees it: histogram bars wide enough to see with a 33 ms deadline over
    2.6 ms frames, no 'new text' placeholder, timeline core rows top to bottom core0..core3 with
    layer bars wider than a hairline."""
    result = make_result(frames=30, deadline_s=0.0333)
    result.frames["latency_s"] = 0.0026 + 1e-6 * (np.arange(30) % 4)
    path = write_run_report(result, tmp_path / "run.html")
    page = _rendered_page(browser, path, tmp_path / "run-visible.png")
    facts = page.evaluate("""() => {
        const hist = document.querySelector('#fig-latency-distribution');
        const bars = Array.from(hist.querySelectorAll('g.trace.bars path'))
                          .map(p => p.getBoundingClientRect()).filter(r => r.height > 0);
        const gantt = document.querySelector('#fig-gantt');
        const ticks = Array.from(gantt.querySelectorAll('g.ytick text'))
                           .map(t => [t.textContent, t.getBoundingClientRect().top])
                           .sort((a, b) => a[1] - b[1]).map(t => t[0]);
        const layerBars = Array.from(gantt.querySelectorAll('g.trace.bars')[0].querySelectorAll('path'))
                               .map(p => p.getBoundingClientRect().width);
        return {barWidths: bars.map(r => r.width), ticks,
                layerBars: layerBars.filter(w => w >= 2).length, allLayerBars: layerBars.length,
                placeholder: document.body.innerText.includes('new text')};
    }""")
    page.close()
    assert facts["barWidths"] and min(facts["barWidths"]) >= 5, facts["barWidths"]
    assert not facts["placeholder"]
    assert facts["ticks"] == ["core0", "core1", "core2", "core3", "stream 0 frames"]
    # the worst frame's layers are on screen and visible (the other frames are off the axis)
    assert facts["layerBars"] >= 5 * 4, facts


def test_compare_report_labels_do_not_overlap_on_screen(browser, tmp_path):
    """Issue 17: 'latency vs price' labels overlapped and the breakdown showed only the slowest
    board; check in the rendered page: label boxes disjoint, every board's bar visible."""
    from memsim.config import load_hardware
    from memsim.report.compare import CompareEntry
    from test_compare import HW

    boards = [("raspberry-pi-4.yaml", 1.0), ("coral-edge-tpu.yaml", 0.95), ("raspberry-pi-5.yaml", 0.23),
              ("rk3588.yaml", 0.24), ("rk3588-cpu.yaml", 0.22), ("esp32-s3.yaml", 26.0),
              ("nvidia-a100-80gb.yaml", 0.022), ("nvidia-h100-sxm.yaml", 0.028)]
    es = []
    for i, (file, scale) in enumerate(boards):
        hw = load_hardware(HW / file)
        es.append(CompareEntry(hw.name, 0.033, str(HW / file), hw,
                               make_result(scale=scale, seed=i, deadline_s=0.033)))
    path = write_compare_report(es, tmp_path / "compare.html", network="mobilenet_v2")
    page = _rendered_page(browser, path, tmp_path / "compare-visible.png")
    facts = page.evaluate("""() => {
        const lp = document.querySelector('#fig-latency-price');
        const boxes = Array.from(lp.querySelectorAll('g.annotation-text-g'))
            .map(g => [g.textContent, g.getBoundingClientRect()])
            .filter(b => !b[0].startsWith('deadline'))
            .map(b => ({t: b[0], l: b[1].left, r: b[1].right, top: b[1].top, b: b[1].bottom}));
        const bd = document.querySelector('#fig-breakdown');
        const first = bd.querySelectorAll('g.trace.bars')[0];
        const widths = Array.from(first.querySelectorAll('path')).map(p => p.getBoundingClientRect().width);
        return {boxes, widths};
    }""")
    page.close()
    boxes = facts["boxes"]
    assert len(boxes) == len(boards)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not (a["l"] < b["r"] and b["l"] < a["r"] and a["top"] < b["b"] and b["top"] < a["b"]), (a, b)
    assert len(facts["widths"]) == len(boards) and min(facts["widths"]) >= 10, facts["widths"]
