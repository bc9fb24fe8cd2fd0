"""The dispute desk in a real browser: Debian's chromium driven by Playwright against a
real `evidence serve` process with the real OCR engine on the sample case.

The developer's flow and the admin's flow run as one story (each step needs the last):
create a case, upload the sample's 15 screenshots, see the 3 failing with their reasons,
fix a note, build a draft, send it; the admin finds it at the top of the queue, reads
the report beside the page previews, returns it with a comment; the developer fixes it
and sends it again; the admin approves, downloads a PDF that passes `evidence validate`,
and marks it submitted. Then: 403 on another developer's case, a form without its CSRF
token refused, a non-image and a 30000x30000 image refused with a message, and a
document and the rebuttal letter set in the page."""
from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import pytest

from desk_support import ROOT, SAMPLE, add_user, desk_server, huge_png, invoice_pdf, need

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
PASSWORD = "correct horse battery"
SHOTS = sorted(p for p in (SAMPLE / "screenshots").rglob("*") if p.suffix in (".png", ".jpg"))
SITE = "Screenshot 2024-10-30 at 09.02.11.png"
FAILING = {"IMG_4490.png", "janet-thread.png", "Screenshot_20241026-093000.png"}
LONG = 240_000  # ms: OCR of 15 screenshots on a busy 2-core machine


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    need("chromium", not Path(CHROMIUM).exists(), "apt-get install chromium")
    pytest.importorskip("playwright")
    data = tmp_path_factory.mktemp("desk")
    for email, role in (("dev@example.com", "developer"), ("dev2@example.com", "developer"),
                        ("admin@example.com", "admin")):
        add_user(data, email, role, PASSWORD)
    with desk_server(data, "--job-workers", "2") as base:
        yield base, data


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def sign_in(browser, base, email):
    ctx = browser.new_context(base_url=base, accept_downloads=True)
    ctx.set_default_timeout(30_000)
    page = ctx.new_page()
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login button[type=submit]")
    page.wait_for_url(re.compile(r"/(cases|queue)$"))
    return page


def shot(page, name):
    return page.locator(f'article.shot[data-file="{name}"]')


def drop_file(page, path: Path):
    """Drag and drop, as a person would from a file manager: a drop event with the file."""
    page.evaluate("""([name, bytes]) => {
        const file = new File([new Uint8Array(bytes)], name, {type: "image/png"});
        const dt = new DataTransfer();
        dt.items.add(file);
        document.getElementById("dropzone").dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true}));
    }""", [path.name, list(path.read_bytes())])


def test_developer_and_admin_take_a_case_from_screenshots_to_submission(server, browser, tmp_path):
    from playwright.sync_api import expect
    base, data = server
    dev = sign_in(browser, base, "dev@example.com")
    dev.goto("/cases/new")
    dev.fill("input[name=client_name]", "Jane Cooper")
    dev.fill("input[name=client_email]", "jane.cooper@example.com")
    dev.fill("input[name=dispute_id]", "dp_1Q2w3E")
    dev.fill("input[name=processor]", "stripe")
    dev.fill("input[name=amount]", "249.00 USD")
    dev.fill("input[name=respond_by]", (dt.date.today() + dt.timedelta(days=2)).isoformat())
    dev.click("#new-case button[type=submit]")
    dev.wait_for_url(re.compile(r"/cases/\d+$"))
    case_url = dev.url
    case_id = case_url.rsplit("/", 1)[1]

    # 14 through the file picker, one dragged and dropped
    assert len(SHOTS) == 15
    dev.set_input_files("#file-input", [str(p) for p in SHOTS[:-1]])
    expect(dev.locator("#upload-messages")).to_contain_text("stored 14")
    # each screenshot's check is on the page as soon as it is read, the others still being read
    expect(dev.locator("article.shot.ok, article.shot.failing").first).to_contain_text(
        "filed under:", timeout=LONG)
    assert dev.locator("#jobs .job").count() == 1, "the check should still be running"
    drop_file(dev, SHOTS[-1])
    # uploaded alone, the client's live site fails as a conversation; the advice says why
    expect(dev.locator("#check-summary")).to_have_text(
        re.compile(r"15 screenshot\(s\), 4 failing"), timeout=LONG)
    site = shot(dev, SITE)
    expect(site).to_contain_text("set its kind to 'site'")
    site.locator("select[name=kind]").select_option("site")
    site.locator("textarea[name=note]").fill("The client's live website still shows the logo")
    site.locator(".save-shot").click()
    expect(dev.locator("#check-summary")).to_have_text(
        re.compile(r"15 screenshot\(s\), 3 failing"), timeout=LONG)
    failing = dev.locator("article.shot.failing")
    assert {failing.nth(i).get_attribute("data-file") for i in range(failing.count())} == FAILING
    reasons = {name: shot(dev, name).locator(".failure").all_inner_texts() for name in FAILING}
    assert any("client email" in r and "Include the client's email" in r
               for r in reasons["IMG_4490.png"]), reasons
    assert any("client name 'Jane Cooper' not found" in r for r in reasons["janet-thread.png"])
    assert any("no message date visible" in r and "Scroll until a message date shows" in r
               for r in reasons["Screenshot_20241026-093000.png"]), reasons
    expect(shot(dev, "IMG_4471.png")).to_contain_text("jane.cooper@example.com")

    # "Today" on IMG_4466 is dated by the upload time, years from the rest: check warns,
    # and the developer sets the date by hand (as the sample's case.toml does)
    expect(shot(dev, "IMG_4466.png").locator(".shot-warning")).to_contain_text(
        "far from the case's other dates")
    shot(dev, "IMG_4466.png").locator("input[name=manual_date]").fill("2024-10-10")
    shot(dev, "IMG_4466.png").locator(".save-shot").click()
    expect(shot(dev, "IMG_4466.png")).to_contain_text("(manual)", timeout=LONG)

    # fix a note
    note = "Client says the preview looks great"
    shot(dev, "IMG_4471.png").locator("textarea[name=note]").fill(note)
    shot(dev, "IMG_4471.png").locator(".save-shot").click()
    expect(shot(dev, "IMG_4471.png").locator("textarea[name=note]")).to_have_value(note)
    expect(dev.locator("#audit")).to_contain_text("screenshot edited")

    # build a draft, see its pages, send it
    dev.click("#build-draft")
    expect(dev.locator("#package-info")).to_contain_text("DRAFT (3 failing)", timeout=LONG)
    expect(dev.locator("#send-review")).to_be_enabled(timeout=LONG)
    dev.fill("#send-form input[name=message]", "first round")
    dev.click("#send-review")
    expect(dev.locator("#case .status")).to_have_text("in review")

    # the admin: top of the queue, the report beside the previews, return with a comment
    admin = sign_in(browser, base, "admin@example.com")
    admin.goto("/queue")
    first = admin.locator("#queue-review tbody tr").first
    assert first.get_attribute("data-case") == case_id and "soon" in first.get_attribute("class")
    first.locator("a").click()
    expect(admin.locator("#report-verdict")).to_be_visible(timeout=LONG)
    expect(admin.locator("#report")).to_contain_text("manifest")
    pages = admin.locator("#previews img")
    assert pages.count() >= 16
    pages.first.scroll_into_view_if_needed()
    admin.wait_for_function("document.querySelector('#previews img').naturalWidth > 0")
    expect(admin.locator("#approve")).to_be_disabled()  # a draft cannot be approved
    comment = "Three screenshots fail: remove them and build the strict package"
    admin.fill("#return-comment", comment)
    admin.click("#return")
    expect(admin.locator("#case .status")).to_have_text("returned")

    # the developer sees the comment, fixes it, sends it again
    dev.goto(case_url)
    expect(dev.locator("#review-comment")).to_contain_text(comment)
    for name in sorted(FAILING):
        shot(dev, name).locator(".remove-shot").click()
        expect(shot(dev, name)).to_have_count(0)
    dev.click("#build-strict")
    expect(dev.locator("#package-info")).to_contain_text("strict", timeout=LONG)
    expect(dev.locator("#send-review")).to_be_enabled(timeout=LONG)
    dev.click("#send-review")
    expect(dev.locator("#case .status")).to_have_text("in review")

    # the admin approves, downloads, and the PDF passes `evidence validate`; submitted
    admin.goto(case_url)
    expect(admin.locator("#report-verdict")).to_have_text("PASS", timeout=LONG)
    admin.click("#approve")
    expect(admin.locator("#case .status")).to_have_text("approved")
    with admin.expect_download() as d:
        admin.click("#download-approved")
    pdf = tmp_path / "approved.pdf"
    d.value.save_as(pdf)
    r = subprocess.run([sys.executable, "-m", "evidence.cli", "validate", str(pdf)], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    admin.fill("#processor-ref", "du_1QxYz")
    admin.click("#mark-submitted")
    expect(admin.locator("#case .status")).to_have_text("submitted")
    expect(admin.locator("#case")).to_contain_text("du_1QxYz")
    for action in ("created", "uploaded", "sent for review", "returned", "approved", "downloaded",
                   "submitted"):
        expect(admin.locator("#audit")).to_contain_text(action)
    dev.context.close()
    admin.context.close()


@pytest.fixture(scope="module")
def dev_case(server, browser):
    base, _ = server
    page = sign_in(browser, base, "dev@example.com")
    page.goto("/cases/new")
    page.fill("input[name=client_name]", "Ada Client")
    page.fill("input[name=client_email]", "ada@example.com")
    page.click("#new-case button[type=submit]")
    page.wait_for_url(re.compile(r"/cases/\d+$"))
    yield page
    page.context.close()


def test_another_developers_case_is_403(server, browser, dev_case):
    base, _ = server
    other = sign_in(browser, base, "dev2@example.com")
    resp = other.goto(dev_case.url)
    assert resp.status == 403
    assert "another developer" in other.inner_text("#error")
    assert "Ada Client" not in other.content()
    other.context.close()


def test_a_form_without_its_csrf_token_is_refused(dev_case):
    page = dev_case
    page.goto(page.url)
    page.fill("#edit-case input[name=reason]", "changed without a token")
    page.evaluate("document.querySelector('#edit-case input[name=csrf]').remove()")
    page.click("#edit-case button[type=submit]")
    expect_text = page.inner_text("#error")
    assert "CSRF" in expect_text
    page.goto(page.url.replace("/edit", ""))
    assert "changed without a token" not in page.content()


def test_a_non_image_and_a_30000_pixel_square_are_refused_with_a_message(dev_case):
    from playwright.sync_api import expect
    page = dev_case
    page.goto(re.sub(r"/edit$", "", page.url))
    page.set_input_files("#file-input", [
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a screenshot"},
        {"name": "huge.png", "mimeType": "image/png", "buffer": huge_png(30000, 30000)}])
    refused = page.locator("#upload-messages li.refused")
    expect(refused).to_have_count(2)
    expect(refused.nth(0)).to_contain_text("notes.txt: refused, not an image")
    expect(refused.nth(1)).to_contain_text("huge.png: refused, image is too large")
    expect(refused.nth(1)).to_contain_text("50 Mpx limit")
    page.reload()
    expect(page.locator("#check-summary")).to_contain_text("0 screenshot(s)")


def test_a_screenshot_pasted_from_the_clipboard_is_stored(dev_case):
    from playwright.sync_api import expect
    page = dev_case
    page.goto(re.sub(r"/edit$", "", page.url))
    png = (SAMPLE / "screenshots" / "IMG_4480.png").read_bytes()
    page.evaluate("""(bytes) => {
        const dt = new DataTransfer();
        dt.items.add(new File([new Uint8Array(bytes)], "image.png", {type: "image/png"}));
        document.dispatchEvent(new ClipboardEvent("paste", {clipboardData: dt, bubbles: true}));
    }""", list(png))
    expect(page.locator("#check-summary")).to_contain_text("1 screenshot(s)", timeout=LONG)
    expect(page.locator("article.shot")).to_have_attribute("data-file", "image.png")


def test_a_document_with_what_it_proves_and_the_letter_are_set_in_the_page(server, dev_case):
    """Issue 13's case.toml keys from the page: [[document]] with proves, [rebuttal] text."""
    import tomllib
    from playwright.sync_api import expect
    _, data = server
    page = dev_case
    page.goto(re.sub(r"/edit$", "", page.url))
    idle = page.locator("#jobs .job")
    page.fill("#edit-case input[name=reason]", "product_not_received")
    page.click("#edit-case button[type=submit]")
    expect(idle).to_have_count(0, timeout=LONG)
    page.set_input_files("#document-input", [{"name": "invoice-118.pdf", "mimeType":
                                              "application/pdf", "buffer": invoice_pdf()}])
    page.click("#upload-document")
    doc = page.locator('article.document[data-file="invoice-118.pdf"]')
    expect(doc).to_contain_text("invoice, 1 page")
    expect(idle).to_have_count(0, timeout=LONG)
    doc.locator('input[name=proves][value="invoice"]').check()
    doc.locator("textarea[name=note]").fill("Paid invoice for the logo")
    doc.locator(".save-document").click()
    expect(doc.locator('input[name=proves][value="invoice"]')).to_be_checked()
    expect(idle).to_have_count(0, timeout=LONG)
    letter = "We delivered the logo on October 9, 2024; Exhibit 2 is the paid invoice."
    page.fill("#rebuttal-text", letter)
    page.click("#save-rebuttal")
    expect(page.locator("#audit")).to_contain_text("rebuttal edited")
    expect(page.locator("#rebuttal-text")).to_have_value(letter)
    [toml] = [tomllib.loads(p.read_text()) for p in (data / "cases").glob("*/case.toml")
              if "Ada Client" in p.read_text()]
    assert toml["rebuttal"]["text"] == letter
    assert toml["document"][0]["proves"] == ["invoice"] and toml["document"][0]["kind"] == "invoice"


def test_a_job_ending_does_not_wipe_what_is_being_typed(dev_case):
    """The live status reloads the page when a job ends, unless a form holds unsaved text:
    then it says the results are ready and keeps the note and the letter being typed."""
    from playwright.sync_api import expect
    page = dev_case
    page.goto(re.sub(r"/edit$", "", page.url))
    first, second = SAMPLE / "screenshots" / "IMG_4471.png", SAMPLE / "screenshots" / "IMG_4480.png"
    drop_file(page, first)  # nothing typed: the page reloads itself when the check ends
    expect(shot(page, first.name).locator("textarea[name=note]")).to_be_visible(timeout=LONG)
    expect(page.locator("#jobs .job")).to_have_count(0, timeout=LONG)
    page.goto(page.url)  # settled: no job left running from the upload
    note = "Jane confirms she received the files (typed, not saved yet)"
    letter = "Dear reviewer, we delivered the logo on October 9 (typed, not saved yet)."
    shot(page, first.name).locator("textarea[name=note]").fill(note)
    page.fill("#rebuttal-text", letter)
    page.evaluate("window.notReloaded = true")
    drop_file(page, second)  # a check job starts and ends while the text sits unsaved
    expect(page.locator("#ready-notice")).to_contain_text("Results are ready", timeout=LONG)
    assert page.evaluate("window.notReloaded === true"), "the page was reloaded"
    expect(shot(page, first.name).locator("textarea[name=note]")).to_have_value(note)
    expect(page.locator("#rebuttal-text")).to_have_value(letter)
    expect(page.locator("#jobs .job")).to_have_count(0)
    # saving the note keeps it; the reload then shows the finished check of the second one
    shot(page, first.name).locator(".save-shot").click()
    expect(shot(page, first.name).locator("textarea[name=note]")).to_have_value(note)
    expect(shot(page, second.name).locator("textarea[name=note]")).to_be_visible()
