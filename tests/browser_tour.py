"""A person's tour of `wikiart serve` in headless Chromium (Debian's ``chromium``, driven by
Playwright with ``executable_path``): upload a painting, wait for the top-5 styles and the
similar paintings, send a file that is not an image, open every other tab and use it, and save
a screenshot at each step. The browser test runs it against tiny models; run it by hand
against the demo's models for the README's screenshots:

    wikiart serve --run runs/demo --port 7861 &
    python tests/browser_tour.py http://127.0.0.1:7861/ --painting PAINTING --out docs/serve
"""

from __future__ import annotations

import argparse
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

TIMEOUT_MS = 120_000


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        if path := shutil.which(name):
            return path
    return None


@dataclass
class Tour:
    """What the tour saw."""

    top5: str = ""
    similar: int = 0
    error_toast: str = ""
    after_error: str = ""
    example_caption: str = ""
    explore_caption: str = ""
    repainted: bool = False
    generated: int = 0
    hosts: set[str] = field(default_factory=set)
    page_errors: list[str] = field(default_factory=list)
    screenshots: list[Path] = field(default_factory=list)


def _upload(page, elem_id: str, path: Path) -> None:
    page.locator(f"#{elem_id} input[type=file]").set_input_files(str(path))


def _loaded(page, selector: str) -> None:
    """Wait until every picture matching ``selector`` has been fetched and decoded."""
    page.wait_for_function(
        "sel => { const ims = [...document.querySelectorAll(sel)];"
        " return ims.length > 0 && ims.every(im => im.complete && im.naturalWidth > 0); }",
        arg=selector,
    )


def _click_map_point(page, x: float, y: float) -> None:
    """Click the map picture at its own pixel ``(x, y)``, wherever and however large the page
    draws it (``object-fit: contain`` letterboxing included)."""
    img = page.locator("#explore-map img").first
    box = img.bounding_box()
    nw, nh = img.evaluate("el => [el.naturalWidth, el.naturalHeight]")
    scale = min(box["width"] / nw, box["height"] / nh)
    left = box["x"] + (box["width"] - nw * scale) / 2
    top = box["y"] + (box["height"] - nh * scale) / 2
    page.mouse.click(left + x * scale, top + y * scale)


def tour(
    url: str,
    painting: Path,
    out: Path,
    *,
    bad_file: Path | None = None,
    map_point: tuple[float, float] | None = None,
    tabs: tuple[str, ...] = ("Explore", "Re-paint", "Generate"),
    content: Path | None = None,
) -> Tour:
    from playwright.sync_api import expect, sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    seen = Tour()

    def shot(page, name: str) -> None:
        path = out / f"{len(seen.screenshots) + 1:02d}_{name}.png"
        page.screenshot(path=str(path), full_page=True)
        seen.screenshots.append(path)

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium_path(), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            page.on("request", lambda r: seen.hosts.add(urlparse(r.url).hostname or r.url))
            page.on("pageerror", lambda e: seen.page_errors.append(str(e)))
            page.goto(url)
            expect(page.get_by_role("tab", name="Classify")).to_be_visible()

            # Classify: a painting -> top-5 styles and the similar paintings
            _upload(page, "classify-image", painting)
            top5 = page.locator("#classify-top5")
            expect(top5).to_contain_text("%")
            similar = page.locator("#classify-similar img")
            expect(similar.first).to_be_visible()
            _loaded(page, "#classify-similar img")
            seen.top5, seen.similar = top5.inner_text(), similar.count()
            shot(page, "classify")

            if bad_file is not None:  # not an image: a message, and the page goes on
                _upload(page, "classify-image", bad_file)
                toast = page.get_by_text("not an image", exact=False).first
                expect(toast).to_be_visible()
                seen.error_toast = toast.inner_text()
                shot(page, "bad_upload")
                for close in page.locator("[data-testid=toast-close]").all():
                    close.click()
                _upload(page, "classify-image", painting)
                expect(top5).to_contain_text("%")
                seen.after_error = top5.inner_text()

            # a click on a gallery example classifies it: its nearest painting changes
            examples = page.locator("#classify-examples button")
            if examples.count():
                first = page.locator("#classify-similar .caption-label").first
                before = first.inner_text()
                examples.first.click()
                expect(first).not_to_have_text(before)
                seen.example_caption = first.inner_text()

            if "Explore" in tabs:
                page.get_by_role("tab", name="Explore").click()
                expect(page.locator("#explore-map img").first).to_be_visible()
                if map_point is not None:
                    _click_map_point(page, *map_point)
                else:  # a painting by its number instead
                    number = page.locator("#explore-number input")
                    number.fill("7")
                    number.press("Enter")
                caption = page.locator("#explore-caption")
                expect(caption).to_contain_text("#")
                expect(page.locator("#explore-pick img").first).to_be_visible()
                _loaded(page, "#explore-pick img")
                seen.explore_caption = caption.inner_text()
                shot(page, "explore")

            if "Re-paint" in tabs:
                page.get_by_role("tab", name="Re-paint").click()
                _upload(page, "repaint-content", content or painting)
                page.locator("#repaint-button").click()
                expect(page.locator("#repaint-result img").first).to_be_visible()
                _loaded(page, "#repaint-result img")
                seen.repainted = True
                shot(page, "repaint")

            if "Generate" in tabs:
                page.get_by_role("tab", name="Generate").click()
                page.locator("#generate-button").click()
                generated = page.locator("#generate-gallery img")
                expect(generated.first).to_be_visible()
                _loaded(page, "#generate-gallery img")
                seen.generated = generated.count()
                shot(page, "generate")
        finally:
            browser.close()
    return seen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("url")
    ap.add_argument("--painting", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--content", type=Path, help="the picture to re-paint (default: --painting)")
    ap.add_argument("--map-point", type=float, nargs=2, help="a map pixel to click (x y)")
    args = ap.parse_args()
    seen = tour(args.url, args.painting, args.out, map_point=args.map_point, content=args.content)
    print(f"top-5: {seen.top5!r}\nsimilar: {seen.similar}  generated: {seen.generated}")
    print(f"hosts: {sorted(seen.hosts)}  page errors: {seen.page_errors}")
    print("screenshots:", *seen.screenshots, sep="\n  ")


if __name__ == "__main__":
    main()
