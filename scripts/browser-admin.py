"""The admin page in headless Chromium, as a person uses it (run by
scripts/browser-test.sh, which starts igfeed and the fake Instagram):
log in, connect an account through the fake's authorize page by clicking
Allow, see it listed as valid with its expiry and its posts, refresh it,
delete it, log out. Screenshots of the dashboard (desktop and phone) go to
SHOTS_DIR. Fails on any console error, page error, Content-Security-Policy
violation or failed request of igfeed's.

Environment: ADMIN_URL (igfeed, e.g. http://127.0.0.1:8080), ADMIN_KEY,
CHROMIUM (the browser binary), SHOTS_DIR.
"""

import os
import re
import sys
import time

from playwright.sync_api import expect, sync_playwright

BASE = os.environ["ADMIN_URL"].rstrip("/")
KEY = os.environ["ADMIN_KEY"]
SHOTS = os.environ["SHOTS_DIR"]
ACCOUNT = "shop"
problems = []
shots = []

# Reports Content-Security-Policy violations of every page to Python.
CSP_WATCH = """
document.addEventListener('securitypolicyviolation', (e) => {
  window.reportViolation(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} on ${document.location.href}`);
});
"""


def watch(context):
    context.expose_binding("reportViolation", lambda _source, text: problems.append(f"CSP violation: {text}"))
    context.add_init_script(CSP_WATCH)

    def on_page(page):
        page.on("console", lambda m: m.type == "error" and problems.append(f"console error: {m.text} ({page.url})"))
        page.on("pageerror", lambda e: problems.append(f"page error: {e} ({page.url})"))

    context.on("page", on_page)

    def on_response(res):
        if res.url.startswith(BASE) and res.status >= 400:
            problems.append(f"HTTP {res.status} for {res.url}")

    context.on("response", on_response)
    # Not failures of igfeed: ERR_ABORTED is a load the browser dropped
    # because the page navigated away (a click while lazy pictures load);
    # ERR_NETWORK_CHANGED, the machine's interfaces changing under Chromium
    # (a container starting beside the test), after which it retries. What
    # each step expects to see is checked all the same.
    benign = ("ERR_ABORTED", "ERR_NETWORK_CHANGED")
    context.on(
        "requestfailed",
        lambda r: not any(b in (r.failure or "") for b in benign)
        and problems.append(f"request failed: {r.url} ({r.failure})"),
    )


def step(text):
    print(f"  - {text}", flush=True)


def shot(page, name):
    path = os.path.abspath(os.path.join(SHOTS, name))
    page.screenshot(path=path, full_page=True)
    shots.append(path)


def card(page):
    return page.locator(f"#account-{ACCOUNT}")


def images_loaded(page, selector):
    return page.eval_on_selector_all(
        selector, "imgs => imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0)"
    )


def main():
    os.makedirs(SHOTS, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=os.environ["CHROMIUM"],
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"],
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        watch(context)
        page = context.new_page()

        step("the dashboard asks for the admin key")
        page.goto(f"{BASE}/admin/")
        expect(page).to_have_url(f"{BASE}/admin/login")
        page.fill("#key", "not-the-key")
        page.click("button[type=submit]")
        expect(page.locator(".flash.error")).to_have_text("That is not the admin key.")
        shot(page, "login-refused.png")
        # The refused login is a 403 page by design: not a problem.
        problems[:] = [x for x in problems if not ("403" in x and "/admin/login" in x)]
        page.fill("#key", KEY)
        page.click("button[type=submit]")
        expect(page).to_have_url(f"{BASE}/admin/")
        expect(page.locator("#account-default")).to_be_visible()

        step("Connect with Instagram: the fake's authorize page, Allow")
        page.fill("#connect-name", ACCOUNT)
        page.click("#connect button[type=submit]")
        expect(page.get_by_role("heading", name=re.compile("Allow this app to access"))).to_be_visible()
        assert "/oauth/authorize" in page.url, page.url
        page.get_by_role("button", name="Allow").click()
        # Back from Instagram (another site): the page continues to the dashboard.
        page.wait_for_url(f"{BASE}/admin/")
        flash = page.locator(".flash.ok")
        expect(flash).to_contain_text(f"Connected {ACCOUNT} (Instagram: @")
        expect(flash).to_contain_text("the token expires in 59 days")
        expect(card(page).locator(".badge")).to_have_text("valid")
        expect(card(page)).to_contain_text("in 59 days")
        expect(card(page)).not_to_contain_text("assumed")
        print(f"    {flash.inner_text()}")
        shot(page, "connected.png")

        step("its posts appear once its feed is fetched")
        deadline = time.time() + 30
        while True:
            # A reload while pictures load would abort them: wait first.
            page.wait_for_load_state("networkidle")
            if card(page).locator(".preview img").count() > 0:
                break
            assert time.time() < deadline, "the connected account's preview never appeared"
            time.sleep(0.5)
            page.reload()
        expect(card(page).locator(".preview img")).to_have_count(6)
        for name in ("default", ACCOUNT):
            # The pictures load lazily: bring each card into view first.
            page.locator(f"#account-{name} .preview").scroll_into_view_if_needed()
            page.wait_for_load_state("networkidle")
            assert images_loaded(page, f"#account-{name} .preview img"), f"a picture of {name} did not render"
        shot(page, "dashboard.png")

        phone = browser.new_context(
            viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
            storage_state=context.storage_state(),
        )
        watch(phone)
        phone_page = phone.new_page()
        phone_page.goto(f"{BASE}/admin/")
        expect(phone_page.locator(f"#account-{ACCOUNT}")).to_be_visible()
        width = phone_page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page is wider than the phone: {width}px"
        shot(phone_page, "dashboard-phone.png")
        phone.close()

        step("refresh the token")
        card(page).get_by_role("button", name="Refresh token now").click()
        expect(page.locator(".flash.ok")).to_contain_text(f"Refreshed the token of {ACCOUNT}; it expires in 59 days")
        expect(card(page)).to_contain_text("Last refresh")
        expect(card(page).locator("dd").nth(1)).to_contain_text("moments ago")

        step("delete it, after the confirmation step")
        card(page).get_by_role("link", name="Delete…").click()
        expect(page.get_by_role("heading", name=f"Delete the account {ACCOUNT}?")).to_be_visible()
        shot(page, "delete-confirmation.png")
        page.get_by_role("button", name=f"Delete {ACCOUNT}").click()
        expect(page).to_have_url(f"{BASE}/admin/")
        expect(page.locator(".flash.ok")).to_have_text(f"Deleted the account {ACCOUNT}.")
        expect(card(page)).to_have_count(0)
        shot(page, "after-delete.png")

        step("log out")
        page.get_by_role("button", name="Log out").click()
        expect(page.locator(".flash.ok")).to_have_text("You have logged out.")
        page.goto(f"{BASE}/admin/")
        expect(page).to_have_url(f"{BASE}/admin/login")
        browser.close()

    for path in shots:
        print(f"screenshot: {path}")
    if problems:
        print("problems in the browser:")
        for x in problems:
            print(f"  {x}")
        return 1
    print("admin page: no console errors, no CSP violations, no failed requests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
