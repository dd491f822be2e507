"""``edgeq report`` on a real run folder (the digits demo converted to int8 and float16 with the
per-layer report, both inspected, the int8 model exported and benchmarked on this machine and on
an emulated Cortex-M4), the page rendered by headless Chromium: plots drawn, tables filled,
every figure tagged, nothing loaded from outside, a screenshot that is not blank."""

from __future__ import annotations

import contextlib
import html
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from edgeq.cli import run
from tests.conftest import require_tool

WIDTH = 1280
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

# Appended to a copy of the page: measures what Chromium laid out, into a <pre> that --dump-dom prints.
PROBE = """<pre id="edgeq-probe"></pre><script>
window.addEventListener("load", () => {
  const size = (element) => { const r = element.getBoundingClientRect(); return [r.width, r.height, r.left, r.top]; };
  const sections = {};
  for (const section of document.querySelectorAll("section.panel")) {
    sections[section.id] = {
      plots: [...section.querySelectorAll("figure img")].map((img) =>
        [img.naturalWidth, img.naturalHeight, ...size(img)]),
      tables: [...section.querySelectorAll("table")].map((table) =>
        [table.tBodies[0].rows.length, ...size(table)]),
    };
  }
  const figures = [...document.querySelectorAll(".fig")].map((f) => [f.className, f.title]);
  const notes = [...document.querySelectorAll("ol.footnotes li")].map((li) => li.textContent.trim());
  document.getElementById("edgeq-probe").textContent = JSON.stringify({
    sections, figures, notes, tables: document.querySelectorAll("table").length,
    width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight,
  });
});
</script></body>"""


@pytest.fixture(scope="session")
def browser() -> str:
    """Chromium (or Chrome): skips, or fails under EDGEQ_REQUIRE_TOOLCHAINS=1, before the slow set-up."""
    for name in BROWSERS[1:]:
        path = shutil.which(name)
        if path is not None:
            return path
    return require_tool(BROWSERS[0])


def _chromium(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
             "--disable-extensions", "--force-device-scale-factor=1", f"--user-data-dir={profile}"]  # fmt: skip
    return subprocess.run([browser, *flags, *args], capture_output=True, text=True, timeout=180, check=True)


@pytest.fixture(scope="module")
def run_folder(digits_model, digits_split, tmp_path_factory) -> Path:
    """The folder edgeq run would write, made with the real commands, and a hand-written run.json."""
    for tool in ("gcc", "arm-none-eabi-gcc", "qemu-system-arm"):
        require_tool(tool)
    out = tmp_path_factory.mktemp("report") / "out"
    out.mkdir()
    calib, test = digits_split
    convert = ["convert", str(digits_model), "--calib", str(calib), "--eval", str(test), "--scale", "0.0625",
               "--mode", "int8,float16", "--layer-report", "-o", str(out / "convert")]  # fmt: skip
    assert run(convert) == 0
    (out / "inspect").mkdir()
    for tflite in sorted((out / "convert").glob("*.tflite")):
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            assert run(["inspect", str(tflite), "--json"]) == 0
        (out / "inspect" / f"{tflite.stem}.json").write_text(printed.getvalue())
    int8 = out / "convert" / "digits_cnn_int8.tflite"
    assert run(["export", "mcu", str(int8), "-o", str(out / "mcu")]) == 0
    bench = ["bench", str(int8), "--on", "host,cortex-m4", "--runs", "20", "--json", str(out / "bench.json")]
    assert run(bench) == 0
    stages = [
        ("convert", "ran", 9.7),
        ("inspect", "ran", 2.3),
        ("export", "reused", 0.0),
        ("bench", "ran", 1.4),
    ]
    (out / "run.json").write_text(
        json.dumps(
            {
                "schema_version": 1, "kind": "edgeq.run", "edgeq_version": "0.1.0",
                "config": {"model": {"path": str(digits_model)}, "data": {"scale": 0.0625},
                           "convert": {"modes": ["int8", "float16"], "layer_report": True},
                           "export": {"mode": "int8", "template": "plain"},
                           "bench": {"targets": ["host", "cortex-m4"], "modes": ["int8"], "runs": 20}},
                "stages": [{"name": name, "status": status, "seconds": seconds, "inputs_sha256": f"{i:064x}"}
                           for i, (name, status, seconds) in enumerate(stages)],
                "environment": {"python": "3.11.7", "edgeq": "0.1.0"},
            }
        )
    )  # fmt: skip
    return out


def test_report_renders_in_chromium_with_plots_tables_and_tagged_figures(browser, run_folder, tmp_path):
    assert run(["report", str(run_folder)]) == 0
    page = (run_folder / "report.html").read_text()
    markdown = (run_folder / "report.md").read_text()

    # self-contained: no scripts, nothing fetched (only data: URIs and links within the page)
    assert "<script" not in page and "url(" not in page and "@import" not in page
    assert not re.findall(r'(?:src|href)="(?!data:|#)', page)

    probe_page = tmp_path / "probe.html"
    probe_page.write_text(page.replace("</body>", PROBE))
    dumped = _chromium(browser, tmp_path / "profile", f"--window-size={WIDTH},900", "--dump-dom",
                       probe_page.as_uri()).stdout  # fmt: skip
    found = re.search(r'<pre id="edgeq-probe">(.*?)</pre>', dumped, re.S)
    assert found, dumped[-2000:]
    layout = json.loads(html.unescape(found.group(1)))
    sections = layout["sections"]
    assert list(sections) == ["accuracy", "layers", "bench", "model", "firmware", "run", "notes"]

    # plots: decoded SVGs drawn at a readable size, where each section should have them
    expected_plots = {"accuracy": 2, "layers": 1, "bench": 4, "model": 2}  # model: int8 and float16
    for name, count in expected_plots.items():
        plots = sections[name]["plots"]
        assert len(plots) == count, (name, plots)
        for natural_width, natural_height, width, height, _, _ in plots:
            assert natural_width > 200 and natural_height > 100 and width > 300 and height > 100, (
                name,
                plots,
            )

    # tables: shown, with rows (the bench figures and float16's operators are folded away)
    def shown(name: str) -> list[int]:
        return [rows for rows, width, height, _, _ in sections[name]["tables"] if width > 0 and height > 0]

    assert shown("accuracy") == [3]  # the float model, int8, float16
    assert shown("layers") and shown("layers")[0] >= 5
    assert shown("bench")[0] == 2  # host and cortex-m4
    assert shown("model")[:2] == [2, 9]  # both files, then int8's 9 operators
    assert shown("firmware") and shown("firmware")[0] >= 5
    assert shown("run")[0] == 4 and len(shown("run")) == 3  # stages, configuration, environment
    assert layout["width"] <= WIDTH  # nothing wider than the window

    # every figure is tagged with its kind and says how; estimates say "estimate"
    kinds = {re.search(r"k-(\w+)", css_class).group(1) for css_class, _ in layout["figures"]}
    assert kinds == {"measured", "counted", "estimated"}
    assert all(title.split(":")[0] in kinds and len(title) > 20 for _, title in layout["figures"])
    assert layout["notes"] and all(note.split(":")[0] in kinds for note in layout["notes"])
    estimates = [note for note in layout["notes"] if note.startswith("estimated")]
    assert estimates and all(note.startswith("estimated: estimate") for note in estimates)

    # the Markdown twin holds the same tables
    assert sum(1 for line in markdown.splitlines() if line.startswith("|---")) == layout["tables"]
    assert "## Benchmarks" in markdown and "| int8 | cortex-m4 | edgeq C engine | identical |" in markdown

    height = min(layout["height"], 16000)
    screenshot = tmp_path / "report.png"
    _chromium(browser, tmp_path / "profile", f"--window-size={WIDTH},{height}", f"--screenshot={screenshot}",
              (run_folder / "report.html").as_uri())  # fmt: skip
    _assert_not_blank(screenshot, (WIDTH, height), sections["accuracy"]["plots"][0])


def _assert_not_blank(screenshot: Path, size: tuple[int, int], plot: list[float]) -> None:
    from PIL import Image

    with Image.open(screenshot) as image:
        rgb = image.convert("RGB")
    assert rgb.size == size
    colours = rgb.getcolors(maxcolors=1 << 24)
    assert len(colours) > 1000, f"{len(colours)} colours in {screenshot}"
    background = {(243, 244, 246), (255, 255, 255)}
    inked = sum(count for count, colour in colours if colour not in background)
    assert inked > 0.1 * size[0] * size[1], f"only {inked} pixels drawn in {screenshot}"
    red, green, blue = rgb.getpixel((10, 10))
    assert blue > red + 20 and blue > green, "the header band has no colour: CSS not applied"
    _, _, width, height, left, top = plot
    drawn = rgb.crop((int(left), int(top), int(left + width), int(top + height)))
    assert len(drawn.getcolors(maxcolors=1 << 24)) > 30, "the accuracy plot is blank in the screenshot"
