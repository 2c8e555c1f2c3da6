"""The Binder form of the home page, in headless Chromium on a real hub: the launch URL BinderHub's
own form would build, for every provider and for awkward inputs; the checks before leaving the
page; Update… prefilled; the share link and badges; a running server; a full project list."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.hub.running_hub import (
    BINDER_URL,
    SeedUser,
    browser,  # noqa: F401 (the fixture, used by name below)
    log_in,
    project,
    running_hub,
    state_of,
)

LIMIT = 3
IVY = (project("https://github.com/jupyterhub/binderhub", "main", request="v2/gh/jupyterhub/binderhub/main"),
       project("https://doi.org/10.5281/zenodo.3242074", "3242074",
               request="v2/zenodo/10.5281/zenodo.3242074/"))
MAX = (project("https://github.com/max/one", request="v2/gh/max/one/main"),
       project("https://gitlab.com/group/sub/two", request="v2/gl/group%2Fsub%2Ftwo/main"),
       project("https://github.com/max/three", request="v2/gh/max/three/HEAD"))
RON = (project("https://github.com/ron/running", request="v2/gh/ron/running/main"),)

# (provider, repository, ref, path, path type) -> the URL BinderHub's form builds for them (its
# getBuildFormValues and makeShareableBinderURL, as launch-form.js cites them).
URLS = [
    (("gh", "jupyterhub/binderhub", "", "", "lab"), "v2/gh/jupyterhub/binderhub/HEAD"),
    (("gh", "https://github.com/jupyterhub/binderhub/", "v1.0.0", "", "lab"), "v2/gh/jupyterhub/binderhub/v1.0.0"),
    (("gh", "  github.com/owner/repo ", "feature/x-y", "notebooks/intro.ipynb", "lab"),
     "v2/gh/owner/repo/feature/x-y?labpath=notebooks%2Fintro.ipynb"),
    (("gh", "owner/repo", "main", "/lab/tree/a b.ipynb", "url"),
     "v2/gh/owner/repo/main?urlpath=%2Flab%2Ftree%2Fa+b.ipynb"),
    (("gh", "owner/repo", "café", "", "lab"), "v2/gh/owner/repo/caf%C3%A9"),
    (("gl", "gitlab.com/group/sub/project", "main", "", "lab"), "v2/gl/group%2Fsub%2Fproject/main"),
    (("gist", "https://gist.github.com/octocat/6cad326836d38bd3a7ae", "", "", "lab"),
     "v2/gist/octocat/6cad326836d38bd3a7ae/HEAD"),
    (("git", "https://git.example.org/group/repo.git", "0123abc", "", "lab"),
     "v2/git/https%3A%2F%2Fgit.example.org%2Fgroup%2Frepo.git/0123abc"),
    (("zenodo", "10.5281/zenodo.3242074", "ignored", "", "lab"), "v2/zenodo/10.5281/zenodo.3242074/"),
    (("figshare", "10.6084/m9.figshare.9782777.v1", "", "", "lab"), "v2/figshare/10.6084/m9.figshare.9782777.v1/"),
    (("dataverse", "10.7910/DVN/TJCLKP", "", "", "lab"), "v2/dataverse/10.7910/DVN/TJCLKP/"),
    (("hydroshare", "https://www.hydroshare.org/resource/b8f6eae9d89241cf8b5904033460af61", "", "", "lab"),
     "v2/hydroshare/https%3A%2F%2Fwww.hydroshare.org%2Fresource%2Fb8f6eae9d89241cf8b5904033460af61/"),
]
PROBLEMS = [
    (("gh", "", ""), {"repository": "Name the repository to start."}),
    (("gh", "justaname", ""), {"repository": "This is not a GitHub user or organisation and repository, such as "
                                             "jupyterhub/binderhub."}),
    (("gh", "owner/repo", "a b"), {"ref": "A branch, tag or commit has no spaces, no ~ ^ : ? * [ \\ # %, and "
                                           "no '..'."}),
    (("gh", "owner/repo", "x#y"), {"ref": "A branch, tag or commit has no spaces, no ~ ^ : ? * [ \\ # %, and "
                                           "no '..'."}),
    (("git", "git.example.org/repo", ""), {"repository": "This is not the URL of a Git repository, such as "
                                                         "https://git.example.org/repo.git."}),
    (("zenodo", "not-a-doi", ""), {"repository": "This is not a Zenodo DOI, such as 10.5281/zenodo.3242074."}),
    (("svn", "owner/repo", ""), {"provider": "Choose a provider from the list."}),
    (("zenodo", "10.5281/zenodo.3242074", "a b"), {}),  # no ref: nothing to check in it
]


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    users = {"ivy": SeedUser(state_of(*IVY)), "max": SeedUser(state_of(*MAX)),
             "ron": SeedUser(state_of(*RON), running=True)}
    with running_hub(tmp_path_factory.mktemp("launch-form-hub"), users, base_url="/jh/",
                     projects_limit=LIMIT) as running:
        yield running


@pytest.fixture
def page(browser, hub) -> Iterator[Page]:  # noqa: F811 (the imported fixture)
    """A fresh profile: the hub only; BinderHub's launch URLs recorded, answered by a stand-in page."""
    context = browser.new_context(viewport={"width": 1300, "height": 900}, reduced_motion="reduce")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=hub.origin)
    context.route(re.compile(r"^(?!http://127\.0\.0\.1:).*"), lambda route: route.abort())
    launched: list[str] = []

    def binder(route) -> None:
        launched.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<title>BinderHub</title>")

    context.route(re.compile(r"^https://binder\.example\.org/.*"), binder)
    errors: list[str] = []
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.launched = launched
    yield page
    context.close()
    assert errors == []


def test_the_launch_url_is_the_one_binderhubs_form_builds(page, hub):
    log_in(page, hub, "ivy")
    for (provider, repository, ref, path, path_type), expected in URLS:
        built = page.evaluate("args => window.persistentBinder.launchUrl(...args)",
                              [BINDER_URL, provider, repository, ref, path, path_type])
        assert built == BINDER_URL + expected, (provider, repository, ref)


def test_what_a_provider_does_not_accept_is_said_before_leaving(page, hub):
    log_in(page, hub, "ivy")
    for args, expected in PROBLEMS:
        assert page.evaluate("args => window.persistentBinder.problemsOf(...args)", list(args)) == expected, args
    page.click("#launch-submit")
    expect(page.locator("#launch-repository")).to_have_class(re.compile(r"\bis-invalid\b"))
    expect(page.locator("#launch-repository-feedback")).to_have_text("Name the repository to start.")
    expect(page.locator("#launch-repository")).to_be_focused()
    page.fill("#launch-repository", "owner/repo")
    page.fill("#launch-ref", "x..y")
    page.click("#launch-submit")
    expect(page.locator("#launch-ref-feedback")).to_contain_text("no '..'")
    expect(page.locator("#launch-ref")).to_be_focused()
    assert page.launched == []
    expect(page).to_have_url(hub.hub_url("home"))


def test_a_new_project_launches_through_binderhub_from_the_keyboard(page, hub):
    log_in(page, hub, "ivy")
    page.select_option("#launch-provider", "gl")
    page.fill("#launch-repository", "https://gitlab.com/group/sub/analysis")
    page.fill("#launch-ref", "v2.1")
    page.select_option("#launch-path-type", "lab")
    page.fill("#launch-path", "index.ipynb")
    page.press("#launch-path", "Enter")
    expect(page).to_have_title("BinderHub")
    assert page.launched == [f"{BINDER_URL}v2/gl/group%2Fsub%2Fanalysis/v2.1?labpath=index.ipynb"]


def test_update_launches_the_same_repository_at_another_ref(page, hub):
    log_in(page, hub, "ivy")
    row = page.locator("tr.project-row").first
    row.locator("button.update-project").click()
    expect(page.locator("#launch-title")).to_have_text("Update a project")
    expect(page.locator("#launch-provider")).to_have_value("gh")
    expect(page.locator("#launch-repository")).to_have_value("jupyterhub/binderhub")
    expect(page.locator("#launch-ref")).to_have_value("main")
    expect(page.locator("#launch-ref")).to_be_focused()
    page.keyboard.type("v1.0.0")  # the prefilled ref is selected: typing replaces it
    page.keyboard.press("Enter")
    expect(page).to_have_title("BinderHub")
    assert page.launched == [f"{BINDER_URL}v2/gh/jupyterhub/binderhub/v1.0.0"]


def test_a_doi_project_updates_without_a_ref(page, hub):
    log_in(page, hub, "ivy")
    page.locator("tr.project-row").nth(1).locator("button.update-project").click()
    expect(page.locator("#launch-provider")).to_have_value("zenodo")
    expect(page.locator("#launch-repository")).to_have_value("10.5281/zenodo.3242074")
    expect(page.locator("#launch-ref")).to_be_disabled()
    page.click("#launch-submit")
    expect(page).to_have_title("BinderHub")
    assert page.launched == [f"{BINDER_URL}v2/zenodo/10.5281/zenodo.3242074/"]


def test_each_project_shares_its_binder_link_and_badges(page, hub):
    log_in(page, hub, "ivy")
    row = page.locator("tr.project-row").first
    row.locator("details.share summary").click()
    link = f"{BINDER_URL}v2/gh/jupyterhub/binderhub/main"
    badge = f"{BINDER_URL}badge_logo.svg"
    fields = row.locator("details.share textarea")
    expect(fields.nth(0)).to_have_value(link)
    expect(fields.nth(1)).to_have_value(f"[![Binder]({badge})]({link})")
    expect(fields.nth(2)).to_have_value(f".. image:: {badge}\n :target: {link}")
    row.locator("button.copy-share").nth(1).click()
    expect(row.locator("button.copy-share").nth(1)).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == f"[![Binder]({badge})]({link})"


def test_with_a_project_running_the_form_offers_to_stop_it_first(page, hub):
    log_in(page, hub, "ron")
    blocked = page.locator("#launch-blocked")
    expect(blocked).to_be_visible()
    expect(blocked).to_contain_text("gh/ron/running is running, and BinderHub starts one project at a time.")
    expect(page.locator("#launch-submit")).to_be_disabled()
    expect(blocked.locator("#launch-stop")).to_have_text("Stop it first")


def test_at_the_limit_only_a_project_of_ones_own_can_launch(page, hub):
    log_in(page, hub, "max")
    limit = page.locator("#launch-limit")
    expect(limit).to_be_hidden()
    page.fill("#launch-repository", "someone/new")
    expect(limit).to_be_visible()
    expect(limit).to_contain_text("You have 3 projects, the most this hub keeps")
    expect(page.locator("#launch-submit")).to_be_disabled()
    page.fill("#launch-repository", "https://github.com/max/one")  # one of max's: an update
    expect(limit).to_be_hidden()
    expect(page.locator("#launch-submit")).to_be_enabled()
    page.select_option("#launch-provider", "gl")
    page.fill("#launch-repository", "group/sub/two")
    expect(page.locator("#launch-submit")).to_be_enabled()
