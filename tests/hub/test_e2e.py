"""End to end: headless Chromium (Debian's) on the home page of a real JupyterHub behind configurable-http-proxy.

Log in through the login form, see the "Your projects" table filled from the stored state,
delete a project through its confirmation dialog, see the limit; then check the stored state.
The hub runs under base_url /jh/, so every link and API call of the page must honour it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

import pytest
from persistent_binderhub.projects import previous_home_project
from playwright.sync_api import Page, expect

from tests.hub.running_hub import (
    BINDER_URL,
    DEFAULT_IMAGE,
    REGISTRY,
    SeedUser,
    browser,  # noqa: F401 (the fixture, used by name below)
    log_in,
    project,
    running_hub,
    state_of,
)

LIMIT = 3
ERIN = (
    project("https://github.com/jupyterhub/binderhub", "main", request="v2/gh/jupyterhub/binderhub/main",
            last_used="2025-06-03T09:15:00Z"),
    project("https://gitlab.com/group/sub/analysis", "0123456789abcdef0123456789abcdef01234567",
            last_used="2025-06-02T17:45:00Z"),
    project("https://doi.org/10.5281/zenodo.3242074", "3242074", last_used=None),
)
DAVE = (project("https://github.com/dave/running"), project("https://github.com/dave/idle"))
# A display name as hostile as a crafted BinderHub request could make it, and a quote in the ref.
HOSTILE_NAME = """gh/<img src=x onerror="window.pwned=1">/'"></a><script>window.pwned=2</script>"""
MALLORY = (replace(project("https://github.com/mallory/repo", "it's\"<b>"), display_name=HOSTILE_NAME),)
# A project whose stored image is not from this hub's registry (a hand-edited database), which
# the hub refuses to launch, and one without an image (as entries of the earlier format may be),
# which has no Launch.
GUS = state_of(replace(project("https://github.com/gus/broken"), image="docker.io/evil/image:1"),
               replace(project("https://github.com/gus/imageless"), image=""))
# The earlier persistent BinderHub's format, most recent last.
CAROL = {"projects": [["https://github.com/carol/old.git", "registry.example.org/binder/old:abc", "abc",
                       "gh/carol/old", "never"]]}
# Two repositories and the previous home: below the limit of 3, which counts repositories only.
HUGO = state_of(*ERIN[:2], previous_home_project(DEFAULT_IMAGE))



@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    users = {"erin": SeedUser(state_of(*ERIN)), "dave": SeedUser(state_of(*DAVE), running=True),
             "carol": SeedUser(CAROL), "gus": SeedUser(GUS),
             "mallory": SeedUser(state_of(*MALLORY)), "hugo": SeedUser(HUGO)}
    with running_hub(tmp_path_factory.mktemp("e2e-hub"), users, base_url="/jh/", projects_limit=LIMIT) as running:
        yield running


@pytest.fixture
def page_errors() -> list[str]:
    """Script and console errors of the page; a test removes those it expects."""
    return []


@pytest.fixture
def page(browser, hub, page_errors) -> Iterator[Page]:  # noqa: F811 (the imported fixture)
    """A fresh browser profile; fails the test on any script error or console error of the page."""
    # Reduced motion: Bootstrap then shows and hides its dialog without a fade, so no click lands mid-animation.
    context = browser.new_context(viewport={"width": 1200, "height": 800}, reduced_motion="reduce")
    # Only the hub: nothing outside 127.0.0.1 is ever fetched (no CDN).
    outside: list[str] = []
    context.route(re.compile(r"^(?!http://127\.0\.0\.1:).*"), lambda route: (outside.append(route.request.url),
                                                                             route.abort()))
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    page.on("console", lambda message: page_errors.append(message.text) if message.type == "error" else None)
    yield page
    context.close()
    assert page_errors == []
    assert outside == []


def rows(page: Page):
    return page.locator("#projects tbody tr.project-row")


def test_the_table_shows_the_stored_projects_and_the_limit(page, hub, tmp_path):
    log_in(page, hub, "erin")
    expect(rows(page)).to_have_count(3)
    for row, stored in zip(rows(page).all(), ERIN, strict=True):
        assert row.get_attribute("data-project-id") == stored.id
        link = row.locator("td").nth(0).locator("a")
        expect(link).to_have_text(stored.display_name)
        expect(link).to_have_attribute("href", stored.repo_url)
        expect(link).to_have_attribute("target", "_blank")
        expect(row.locator("td").nth(1)).to_have_text(stored.ref[:12])
        shown = stored.last_used.replace("T", " ").replace("Z", " UTC") if stored.last_used else "never"
        expect(row.locator("td.last-used")).to_have_text(shown)
        expect(row.locator("button.launch-project")).to_be_enabled()
        expect(row.locator("button.delete-project")).to_be_enabled()
    assert [link.text_content() for link in rows(page).locator("td:first-child a").all()] == [
        "gh/jupyterhub/binderhub", "gl/group/sub/analysis", "zenodo/10.5281/zenodo.3242074"]

    # At the limit (3, from configuration): said in red, and no way to start another project.
    limit = page.locator("#projects-limit")
    expect(limit).to_contain_text(f"You have 3 of at most {LIMIT} projects.")
    expect(limit).to_contain_text("You have reached the limit: delete a project before starting a new one.")
    expect(limit).to_have_class(re.compile(r"\btext-danger\b"))
    new_project = page.locator("#new-project")
    expect(new_project).to_have_attribute("href", BINDER_URL)
    expect(new_project).to_have_class(re.compile(r"\bdisabled\b"))
    expect(new_project).to_have_attribute("aria-disabled", "true")
    # Bootstrap's stylesheet is loaded and applies: a disabled link takes no clicks, buttons are styled.
    assert new_project.evaluate("e => getComputedStyle(e).pointerEvents") == "none"
    launch = rows(page).first.locator("button.launch-project")
    assert launch.evaluate("e => getComputedStyle(e).backgroundColor") not in ("", "rgba(0, 0, 0, 0)")
    assert page.locator("#projects").evaluate("e => getComputedStyle(e).width") != "auto"

    page.screenshot(path=str(tmp_path / "home-at-limit.png"), full_page=True)
    print(f"screenshot: {tmp_path / 'home-at-limit.png'}")


def test_the_previous_home_does_not_count_towards_the_limit(page, hub):
    """As the spawner counts: with two repositories of three, a new project can start."""
    log_in(page, hub, "hugo")
    expect(rows(page)).to_have_count(3)
    expect(page.locator("#projects-limit")).to_contain_text(f"You have 2 of at most {LIMIT} projects.")
    expect(page.locator("#new-project")).not_to_have_class(re.compile(r"\bdisabled\b"))


def test_deleting_a_project_through_its_confirmation_dialog(page, hub, tmp_path):
    deletes: list[str] = []
    page.on("request", lambda request: deletes.append(request.url) if request.method == "DELETE" else None)
    log_in(page, hub, "erin")
    gone = ERIN[1]
    row = page.locator(f'tr.project-row[data-project-id="{gone.id}"]')
    dialog = page.locator("#delete-dialog")

    # Once cancelled: nothing is deleted.
    row.locator("button.delete-project").click()
    expect(dialog).to_be_visible()
    expect(dialog.locator("#delete-name")).to_have_text(gone.display_name)
    expect(dialog.locator("#delete-folder")).to_have_text(f"/projects/{gone.folder}")
    expect(dialog).to_contain_text("every file in it will be deleted")
    expect(dialog).to_contain_text("This cannot be undone.")
    page.screenshot(path=str(tmp_path / "delete-dialog.png"))
    dialog.locator(".modal-footer").get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(rows(page)).to_have_count(3)
    assert deletes == []

    # Then confirmed: the page reloads without it, below the limit again.
    row.locator("button.delete-project").click()
    expect(dialog).to_be_visible()
    expect(dialog.locator("#delete-name")).to_have_text(gone.display_name)
    with page.expect_navigation():
        dialog.locator("#delete-confirm").click()
    assert deletes == [hub.api_url(f"projects/erin/{gone.id}")]
    expect(rows(page)).to_have_count(2)
    assert [r.get_attribute("data-project-id") for r in rows(page).all()] == [ERIN[0].id, ERIN[2].id]
    expect(page.locator("#projects-error")).to_be_hidden()
    limit = page.locator("#projects-limit")
    expect(limit).to_contain_text(f"You have 2 of at most {LIMIT} projects.")
    expect(limit).not_to_contain_text("reached the limit")
    expect(page.locator("#new-project")).not_to_have_class(re.compile(r"\bdisabled\b"))

    # The stored state: the project is gone, its folder is removed at the next launch.
    state = hub.spawner_state("erin")
    assert [p["id"] for p in state["projects"]] == [ERIN[0].id, ERIN[2].id]
    assert state["pending_deletions"] == [gone.folder]
    listed = hub.get("projects/erin", "erin").json()
    assert [p["id"] for p in listed["projects"]] == [ERIN[0].id, ERIN[2].id]


def test_a_running_project_is_opened_or_stopped_and_nothing_is_deleted_meanwhile(page, hub):
    log_in(page, hub, "dave")
    running, idle = (page.locator(f'tr.project-row[data-project-id="{p.id}"]') for p in DAVE)
    expect(running.locator("a.open-project")).to_have_attribute("href", "/jh/user/dave/")
    expect(running.locator("button.stop-project")).to_be_visible()
    expect(running.locator("button.delete-project")).to_have_count(0)
    expect(idle.locator("button.launch-project")).to_be_disabled()
    expect(idle.locator("button.delete-project")).to_be_disabled()
    expect(idle.locator("button.delete-project")).to_have_attribute("title", "Stop your server first")
    expect(page.locator("#projects-limit")).to_contain_text(f"You have 2 of at most {LIMIT} projects.")


def test_projects_of_the_earlier_persistent_binderhub_are_shown(page, hub):
    log_in(page, hub, "carol")
    expect(rows(page)).to_have_count(1)
    link = rows(page).first.locator("td").first.locator("a")
    expect(link).to_have_text("gh/carol/old")
    expect(link).to_have_attribute("href", "https://github.com/carol/old")
    expect(rows(page).first.locator("td.last-used")).to_have_text("never")


def test_a_launch_the_hub_refuses_shows_its_message(page, hub, page_errors):
    log_in(page, hub, "gus")
    launch = rows(page).first.locator("button.launch-project")
    imageless = rows(page).nth(1).locator("button.launch-project")
    expect(imageless).to_be_disabled()
    expect(imageless).to_have_attribute("title", "No image: launch it again from the BinderHub form")
    with page.expect_response(hub.api_url("users/gus/server")) as response:
        launch.click()
    assert response.value.status == 400
    error = page.locator("#projects-error")
    expect(error).to_be_visible()
    expect(error).to_have_text("Image docker.io/evil/image:1 is not from this hub's registry: only images built "
                               f"by this BinderHub, under {REGISTRY}, can be launched.")
    expect(launch).to_be_enabled()
    expect(page).to_have_url(hub.hub_url("home"))
    # Chromium logs the failed request itself; nothing else went wrong.
    assert len(page_errors) == 1
    assert page_errors.pop().startswith("Failed to load resource: the server responded with a status of 400")
    assert hub.get("users/gus", "gus").json()["server"] is None
    assert len(hub.spawner_state("gus")["projects"]) == 2


def test_names_from_the_state_are_shown_as_text_never_run(page, hub):
    log_in(page, hub, "mallory")
    row = rows(page).first
    expect(row.locator("td").first.locator("a")).to_have_text(HOSTILE_NAME)
    expect(row.locator("td").nth(1)).to_have_text(MALLORY[0].ref)
    assert row.get_attribute("data-project-name") == HOSTILE_NAME
    row.locator("button.delete-project").click()
    expect(page.locator("#delete-name")).to_have_text(HOSTILE_NAME)
    assert page.locator("#projects img, #delete-dialog img, #projects script, #delete-dialog script").count() == 0
    assert page.evaluate("window.pwned") is None
