"""Importing users from a CSV file: the documentation, the progress, the anomalies by line."""

from __future__ import annotations

import re
import threading

import pytest
from playwright.sync_api import expect

from services.importer.service_layer import runner
from tests.browser.conftest import Portal, shoot, sign_in
from tests.waiting_kit import DEADLINE

pytestmark = pytest.mark.browser


def test_an_import_with_anomalies_shows_them_by_line(portal: Portal, new_page, monkeypatch) -> None:
    # The job is held before its first batch until the page has shown it running: the progress is
    # always seen, however fast the machine (the portal runs in this process).
    started, release = threading.Event(), threading.Event()
    record_batch = runner.record_batch

    def held_record_batch(*args, **kwargs):
        started.set()
        release.wait(DEADLINE)
        return record_batch(*args, **kwargs)

    monkeypatch.setattr(runner, "record_batch", held_record_batch)
    admin = portal.active_administrator()
    good, other = portal.new_email("dupont"), portal.new_email("durand")
    bulk = [f"M;Bulk{n};Row{n};{portal.new_email(f'bulk{n}')};;;en-GB;1" for n in range(150)]
    csv = (
        "\r\n".join(
            [
                "Civility;Last name;First name;Email address;Phone;Mobile;Language code;Security level",
                f"M;Dupont;Jean;{good};;;fr-FR;2",
                "MME;Durand;Anne;not-an-address;;;fr-FR;2",
                f"MLE;Petit;Julie;{other};;;en-GB;7",
                f"M;Martin;Paul;{good};;;en-GB;2",
                *bulk,
            ]
        )
        + "\r\n"
    )
    page = new_page()
    sign_in(page, admin, "/users/import")
    expect(page.get_by_role("heading", name="Import users", exact=True, level=1)).to_be_visible()
    expect(page.get_by_role("heading", name="Documentation")).to_be_visible()
    expect(page.get_by_role("table", name="Expected formats by column")).to_contain_text(
        "Security level"
    )
    shoot(page, "import")
    page.get_by_label("CSV file").set_input_files(
        files=[{"name": "users.csv", "mimeType": "text/csv", "buffer": csv.encode()}]
    )
    page.get_by_role("button", name="Import").click()

    expect(page).to_have_url(re.compile(r"/users/import/[^/]+/[^/]+$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("users.csv")
    loads = []
    page.on("framenavigated", lambda frame: loads.append(frame.url))
    progress = page.locator("#import-progress")
    try:
        assert started.wait(DEADLINE), "the import job never started"
        expect(progress).to_have_attribute("data-running", "true")
        expect(progress).to_contain_text("0 of 154 lines processed")
        with page.expect_request(
            lambda request: request.resource_type == "fetch", timeout=DEADLINE * 1000
        ):
            pass  # the block asks for the job's progress by itself
    finally:
        release.set()
    expect(progress).to_contain_text("Finished", timeout=DEADLINE * 1000)
    assert loads == [], f"the page reloaded instead of updating its progress: {loads}"
    anomalies = page.get_by_role("table", name="Anomalies")
    expect(anomalies.locator("tbody tr")).to_have_count(3)
    expect(anomalies).to_contain_text("Email address")
    expect(anomalies).to_contain_text("Security level")
    expect(progress).to_contain_text("151 users created, 3 lines rejected out of 154")
    expect(page.get_by_role("link", name="Download the anomalies (CSV)")).to_be_visible()
    shoot(page, "import-finished")

    # The created user waits for activation; the administrator sends the e-mail again
    page.goto("/users?status=pending_activation&name=Dupont")
    row = page.get_by_role("row", name=re.compile("DUPONT Jean"))
    expect(row).to_contain_text("Not activated")
    row.get_by_role("checkbox").check()
    page.get_by_role("button", name="Send the activation email").click()
    expect(
        page.get_by_role("status").filter(has_text="Activation email sent to 1 users")
    ).to_be_visible()


def test_a_file_that_cannot_be_read_is_refused_at_once(portal: Portal, new_page) -> None:
    admin = portal.active_administrator()
    page = new_page()
    sign_in(page, admin, "/users/import")
    page.get_by_label("CSV file").set_input_files(
        files=[
            {
                "name": "users.txt",
                "mimeType": "text/plain",
                "buffer": b"\x89PNG\r\n\x1a\n\x00\x00binary",
            }
        ]
    )
    page.get_by_role("button", name="Import").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("The file users.txt cannot be imported.")
    expect(page.get_by_label("CSV file")).to_be_visible()
    shoot(page, "import-refused")
