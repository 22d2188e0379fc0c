"""Real-browser checks of the reports with Debian's chromium through Playwright (file URLs only).

Fails (does not skip) when /usr/bin/chromium is missing: `.ci/run` installs it.
"""

from __future__ import annotations

from pathlib import Path

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
