"""Notebooks 03 and 04 in a real browser: JupyterLab on the project's environment, driven by Playwright in headless
Chromium.

`make test-browser` runs it (Debian's chromium, Playwright from PyPI launched with `executable_path`; Playwright's
own browser download cannot work offline). Each test opens its notebook with papermill's parameters injected (a
quick profile, a small run), runs every cell from JupyterLab's Run menu, and drives the playground the way a reader
does:
- notebook 03: new labels change the bars, an uploaded image gets its own bars, an uploaded non-image gets a
  message that names the file;
- notebook 04 (search, with a small CLIP of the test's own in the page CLIP's place): words asked of the pixels get
  a message, clearing them searches with the query drawing, an uploaded PDF's first page is searched with, an
  uploaded non-image gets a message that names the file.
"""
from __future__ import annotations

import io
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

pytestmark = pytest.mark.browser
ROOT = Path(__file__).parents[2]
CHROMIUM = os.environ.get("CLIPBOOK_CHROMIUM", "/usr/bin/chromium")
# what a headless Chromium needs on a machine without a network or a sandbox (the background services would try
# to reach Google's hosts at every start)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(folder: Path, notebook: str, parameters: dict):
    """JupyterLab serving `folder` with `notebook` (parameters injected as papermill does), on a free port: yields
    the notebook's URL."""
    import papermill as pm

    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium` (make test-browser does it), or point "
                    "CLIPBOOK_CHROMIUM at a Chromium.")
    (folder / "data").symlink_to(ROOT / "data")  # the workbook CLIP's cache: a checkpoint other runs made is reused
    pm.execute_notebook(str(ROOT / "notebooks" / notebook), str(folder / notebook), prepare_only=True,
                        parameters=parameters, progress_bar=False)
    subprocess.run([sys.executable, "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3"], check=True,
                   capture_output=True)
    # Settings and workspaces of this server's own: the user's ~/.jupyter/lab workspace would reopen the tabs of
    # the last server (another notebook, another folder), and two servers at once would write it in turn. The
    # notebook's kernel starts without asking (JupyterLab 4.6 asks by default).
    settings = folder / "lab-settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text('{"autoStartDefaultKernel": true}')
    port, token = _free_port(), "clipbook-browser-test"
    log = open(folder / "jupyter.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}", "--LabApp.news_url=",
         f"--LabApp.user_settings_dir={folder / 'lab-settings'}", f"--LabApp.workspaces_dir={folder / 'workspaces'}",
         "--allow-root"],  # CI and containers run as root
        stdout=log, stderr=subprocess.STDOUT, cwd=folder)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if server.poll() is not None:
                pytest.fail(f"jupyter lab exited: {(folder / 'jupyter.log').read_text()[-2000:]}")
            time.sleep(0.5)
    else:
        server.kill()
        pytest.fail("jupyter lab did not answer within 120 s")
    yield f"{url}/lab/tree/{notebook}?token={token}"
    server.terminate()
    try:
        server.wait(20)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """Notebook 03 in JupyterLab: its URL and folder."""
    folder = tmp_path_factory.mktemp("lab")
    parameters = {"PROFILE": "quick", "DEVICE": "cpu", "N_PER_CLASS": 4, "GREEDY_MAX": 2,
                  "OUTPUT_DIR": str(folder / "out")}
    for url in _serve(folder, "03_prompt_sensitivity.ipynb", parameters):
        yield url, folder


@pytest.fixture(scope="module")
def lab04(tmp_path_factory):
    """Notebook 04 in JupyterLab, small: 240 pages, one SimCLR epoch, no sweeps, and a small CLIP with random
    weights saved as open_clip saves one in the page CLIP's place (CLIP_MODEL="local-dir:..."), so no CLIP trains.
    Its URL and folder."""
    import torch

    import clipbook

    folder = tmp_path_factory.mktemp("lab04")
    torch.manual_seed(0)
    model, _, _ = clipbook.create_clip("clipbook-page", device="cpu")
    mine = clipbook.models.save_local_dir(model, "clipbook-page", folder / "mine.open_clip")
    parameters = {"PROFILE": "quick", "DEVICE": "cpu", "N_PAGES": 240, "N_QUERIES": 40, "SIMCLR_EPOCHS": 1,
                  "SIMCLR_BATCH_SIZE": 64, "CAPTION_SWEEP": [], "CORRELATION_SWEEP": [], "REALISM_SWEEP": [],
                  "OCCLUSION_QUERIES": 1, "CLIP_MODEL": f"local-dir:{mine}", "OUTPUT_DIR": str(folder / "out")}
    for url in _serve(folder, "04_clip_vs_simclr_drawings.ipynb", parameters):
        yield url, folder


def _bars(page) -> str:
    """The source of the figure the playground's output shows now (its bars)."""
    image = page.locator(".widget-output img").last  # ipywidgets 8's Output widget
    image.wait_for(state="visible", timeout=60_000)
    return image.get_attribute("src")


def _wait_for_new_bars(page, before: str, what: str) -> str:
    deadline = time.time() + 60
    while time.time() < deadline:
        now = _bars(page)
        if now != before:
            return now
        page.wait_for_timeout(250)
    raise AssertionError(f"the playground's bars did not change after {what}")


def _answer_the_kernel_dialog(page) -> None:
    """JupyterLab 4.6 can ask for a kernel on opening although the notebook names one it has (`_serve` tells it
    not to), and can close that dialog itself a moment later (4 of 28 test runs here failed before, one of them
    caught waiting 30 s on the button of a dialog already gone): take the kernel offered while the dialog is
    there; fail on any other dialog."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    dialog = page.locator(".jp-Dialog").first
    try:
        text = dialog.inner_text(timeout=2_000) if dialog.count() else ""
        if text.startswith("Select Kernel"):
            dialog.get_by_role("button", name="Select", exact=True).click(timeout=5_000)
            page.wait_for_timeout(1000)
        elif text:
            raise AssertionError(f"JupyterLab shows a dialog: {text!r}")
    except PlaywrightTimeout:
        pass  # the dialog closed before it could be read or answered


def _run_all_cells(page, folder: Path) -> None:
    """Run > Run All Cells; a click that lands while the kernel is still settling (or under a dialog) is lost, so
    it is repeated until a code cell shows it ran or runs (its prompt gets a number or a star)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    started = page.locator(".jp-CodeCell .jp-InputPrompt").filter(has_text=re.compile(r"\[[0-9*]+\]"))
    for _ in range(5):
        _answer_the_kernel_dialog(page)
        try:
            page.get_by_role("menuitem", name="Run", exact=True).click(timeout=10_000)
            page.get_by_text("Run All Cells", exact=True).click(timeout=10_000)
        except PlaywrightTimeout:
            continue  # a dialog opened in between: answer it, then try again
        deadline = time.time() + 20
        while time.time() < deadline:
            if started.count():
                return
            page.wait_for_timeout(500)
    page.screenshot(path=str(folder / "run-all-failed.png"))
    raise AssertionError("JupyterLab did not start running the notebook after five clicks on Run All Cells (view: "
                         f"{folder / 'run-all-failed.png'}); the server's log ends:\n"
                         + (folder / "jupyter.log").read_text()[-2000:])


def _open_and_run_all(p, url: str, folder: Path):
    """Chromium on `url` (a notebook in JupyterLab), every cell started from the Run menu: the browser and page."""
    browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    page.locator(".jp-Notebook").wait_for(timeout=120_000)
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=120_000)
    _run_all_cells(page, folder)
    return browser, page


def _wait_for_the_end(page, out: Path, name: str) -> None:
    """Screenshot the view, then wait until the notebook's last cell has written its metrics. With
    CLIPBOOK_BROWSER_SCREENSHOT=<path.png> set, the screenshot is kept as <path>.notebook-NN.png."""
    page.screenshot(path=str(out / "browser.png"), full_page=False)
    deadline = time.time() + 600
    while not (out / "metrics.json").is_file() and time.time() < deadline:
        page.wait_for_timeout(1000)
    assert (out / "metrics.json").is_file(), f"{name} did not run to its end in JupyterLab"
    if os.environ.get("CLIPBOOK_BROWSER_SCREENSHOT"):
        kept = Path(os.environ["CLIPBOOK_BROWSER_SCREENSHOT"]).with_suffix(f".{name.replace(' ', '-')}.png")
        shutil.copy(out / "browser.png", kept)


def _upload(page, path: Path) -> None:
    with page.expect_file_chooser() as chooser:
        page.locator(".widget-upload").click()
    chooser.value.set_files(str(path))


def _text_box(page, label: str):
    """The input of the playground's text box `label`, once its cell has run, scrolled into view as a reader
    would. JupyterLab lays out only the cells near the view (`windowingMode` "contentVisibility"), so the box is
    waited for in the page, not on screen: waiting for it to be visible waited 600 s when the run had scrolled
    past the playground."""
    box = page.locator(".widget-text", has_text=label).locator("input")
    box.wait_for(state="attached", timeout=600_000)
    box.scroll_into_view_if_needed()
    return box


def _upload_a_non_image_then_wait_for_the_end(page, folder: Path, message: str, name: str) -> None:
    """Upload a text file, expect `message` in the playground's output, then let the notebook run to its end."""
    (folder / "notes.txt").write_text("this is not an image")
    _upload(page, folder / "notes.txt")
    page.locator(".widget-output", has_text=message).wait_for(timeout=60_000)
    _wait_for_the_end(page, folder / "out", name)


def test_notebook_03_and_its_playground_in_chromium(lab, tmp_path):
    from playwright.sync_api import sync_playwright

    url, folder = lab
    png = io.BytesIO()
    Image.new("RGB", (90, 60), (220, 30, 30)).save(png, format="PNG")
    (tmp_path / "red.png").write_bytes(png.getvalue())

    with sync_playwright() as p:
        browser, page = _open_and_run_all(p, url, folder)
        # the playground: its labels box appears when its cell has run, its bars once it has refreshed
        labels = _text_box(page, "labels")
        first = _bars(page)

        labels.fill("red circle, blue star, green square")
        labels.press("Enter")
        second = _wait_for_new_bars(page, first, "new labels")

        _upload(page, tmp_path / "red.png")
        _wait_for_new_bars(page, second, "uploading red.png")

        _upload_a_non_image_then_wait_for_the_end(page, folder, "image='notes.txt' is not an image file", "notebook 03")
        browser.close()


def test_notebook_04_and_its_search_playground_in_chromium(lab04, tmp_path):
    """The search widgets as a reader meets them after Run All: the notebook's own example has left the CLIP
    encoder and the words "a technical drawing of a flange" in place."""
    from playwright.sync_api import sync_playwright

    from clipbook.data import pdf
    from clipbook.data.drawings import PageCorpus

    url, folder = lab04
    upload = PageCorpus(128, realism=1.0).dataset(3, seed=77, drawings_only=True, cache=False)
    pdf.write_pdf(upload.images, tmp_path / "my-drawings.pdf")

    with sync_playwright() as p:
        browser, page = _open_and_run_all(p, url, folder)
        words = _text_box(page, "words")
        page.wait_for_function("el => el.value === 'a technical drawing of a flange'", arg=words.element_handle(),
                               timeout=120_000)
        first = _bars(page)  # the CLIP's results for the words

        # words asked of an encoder with no text tower: a message that names both, no figure
        page.locator(".widget-dropdown", has_text="encoder").locator("select").select_option("pixels")
        page.locator(".widget-output", has_text="cannot be searched with encoder='pixels'").wait_for(timeout=60_000)

        # words cleared: the pixels search with the query drawing the slider picks
        words.fill("")
        second = _wait_for_new_bars(page, first, "clearing the words")

        # a PDF of one's own: its first page is the query
        _upload(page, tmp_path / "my-drawings.pdf")
        _wait_for_new_bars(page, second, "uploading my-drawings.pdf")

        _upload_a_non_image_then_wait_for_the_end(page, folder, "image='notes.txt' is not a readable image",
                                                  "notebook 04")
        browser.close()
