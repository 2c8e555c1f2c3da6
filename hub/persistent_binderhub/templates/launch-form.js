{#- The launch form's script (home.html includes it in its script block). -#}
(function () {
  // The launch URL exactly as BinderHub's own form builds it (binderhub's js/src/form.js,
  // getBuildFormValues, and js/packages/binderhub-client/lib/index.js, makeShareableBinderURL):
  // - but for "git", a leading [https://]github.com/, gist.github.com/ or gitlab.com/ is dropped;
  // - leading and trailing "/" are trimmed;
  // - a repository holding "://", and every GitLab one, becomes one segment (encodeURIComponent);
  // - an empty ref is the form's placeholder, HEAD; the DOI and dataset providers take none ("");
  // - the URL is new URL(`v2/${provider}/${repository}/${ref}`, binderUrl), and a path goes in the
  //   query as `${pathType}path` (labpath: a file to open, urlpath: a URL to open).
  const NO_REF = ["zenodo", "figshare", "dataverse", "hydroshare", "ckan"];
  const DOI = /^10\.[0-9]{4,9}\/\S+$/;
  // Each provider's repository, after BinderHub's normalisation, and how to say it.
  const REPOSITORY = {
    gh: [/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]+$/, "a GitHub user or organisation and repository, such as jupyterhub/binderhub"],
    gl: [/^[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)+$/, "a GitLab group (and subgroups) and project, such as group/project"],
    gist: [/^[A-Za-z0-9-]+\/[0-9a-f]+$/, "a gist's user and id, such as octocat/6cad326836d38bd3a7ae"],
    git: [/^(?:https?|git):\/\/[^\s/]+\/\S*$/, "the URL of a Git repository, such as https://git.example.org/repo.git"],
    zenodo: [DOI, "a Zenodo DOI, such as 10.5281/zenodo.3242074"],
    figshare: [DOI, "a Figshare DOI, such as 10.6084/m9.figshare.9782777.v1"],
    dataverse: [DOI, "a Dataverse DOI, such as 10.7910/DVN/TJCLKP"],
    hydroshare: [/^[0-9a-f]{32}$/, "a HydroShare resource id of 32 hex digits, or its URL"],
    ckan: [/^https?:\/\/\S+$/, "the URL of a CKAN dataset"],
  };
  // What a ref may not hold: Git's own refusals, and what would end the URL's path (#, ?).
  const BAD_REF = /[\s~^:?*[\\#%]|\.\.|@\{|^[/.]|[/.]$/;

  function normalised(provider, repository) {
    let repo = repository.trim();
    if (provider !== "git") {
      repo = repo.replace(/^(https?:\/\/)?gist.github.com\//, "");
      repo = repo.replace(/^(https?:\/\/)?github.com\//, "");
      repo = repo.replace(/^(https?:\/\/)?gitlab.com\//, "");
    }
    return repo.replace(/(^\/)|(\/?$)/g, "");
  }

  function launchUrl(binderUrl, provider, repository, ref, path, pathType) {
    let repo = normalised(provider, repository);
    if (repo.includes("://") || provider === "gl") {
      repo = encodeURIComponent(repo);
    }
    const theRef = NO_REF.includes(provider) ? "" : ref.trim() || "HEAD";
    const url = new URL(`v2/${provider}/${repo}/${theRef}`, binderUrl);
    if (path && path.trim()) {
      url.searchParams.append(`${pathType}path`, path.trim());
    }
    return url.toString();
  }

  function problemsOf(provider, repository, ref) {
    const problems = {};
    if (!(provider in REPOSITORY)) {
      problems.provider = "Choose a provider from the list.";
      return problems;
    }
    const repo = normalised(provider, repository);
    const [pattern, expected] = REPOSITORY[provider];
    const url = /^https?:\/\//.test(repo) && NO_REF.includes(provider);
    if (!repo) {
      problems.repository = "Name the repository to start.";
    } else if (!url && !pattern.test(repo)) {
      problems.repository = `This is not ${expected}.`;
    }
    if (!NO_REF.includes(provider) && ref.trim() && (BAD_REF.test(ref.trim()) || ref.trim().length > 255)) {
      problems.ref = "A branch, tag or commit has no spaces, no ~ ^ : ? * [ \\ # %, and no '..'.";
    }
    return problems;
  }

  // A project's stored BinderHub request, `v2/PROVIDER/SPEC/REF`, as the form's fields.
  function fieldsOfRequest(request) {
    const parts = (request || "").split("/");
    if (parts[0] !== "v2" || !(parts[1] in REPOSITORY)) {
      return null;
    }
    const provider = parts[1];
    const rest = parts.slice(2);
    const owned = provider === "gh" || provider === "gist";
    const segments = owned ? 2 : NO_REF.includes(provider) ? rest.length - 1 : 1;
    const repository = decodeURIComponent(rest.slice(0, segments).join("/"));
    return {provider: provider, repository: repository, ref: decodeURIComponent(rest.slice(segments).join("/"))};
  }

  window.persistentBinder = {launchUrl: launchUrl, problemsOf: problemsOf, fieldsOfRequest: fieldsOfRequest};

  const form = document.getElementById("launch-form");
  if (!form || !form.dataset.binderUrl) {
    return;
  }
  const field = (name) => document.getElementById("launch-" + name);
  const known = new Set(JSON.parse(document.getElementById("launch-projects").textContent)
    .map(fieldsOfRequest).filter(Boolean).map((f) => f.provider + "/" + normalised(f.provider, f.repository)));
  const atLimit = form.dataset.atLimit === "true";
  const active = form.dataset.active === "true";

  function showProblems(problems) {
    for (const name of ["provider", "repository", "ref"]) {
      field(name).classList.toggle("is-invalid", name in problems);
      document.getElementById(`launch-${name}-feedback`).textContent = problems[name] || "";
    }
  }

  function refresh() {
    const provider = field("provider").value;
    const isNew = !known.has(provider + "/" + normalised(provider, field("repository").value));
    const blockedByLimit = atLimit && isNew && field("repository").value.trim() !== "";
    document.getElementById("launch-limit").hidden = !blockedByLimit;
    field("submit").disabled = active || blockedByLimit;
    field("ref").disabled = NO_REF.includes(provider);
  }

  form.addEventListener("input", refresh);
  form.addEventListener("change", refresh);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    refresh();
    const problems = problemsOf(field("provider").value, field("repository").value, field("ref").value);
    showProblems(problems);
    const first = ["provider", "repository", "ref"].find((name) => name in problems);
    if (first) {
      field(first).focus();
      return;
    }
    if (field("submit").disabled) {
      return;
    }
    window.location.assign(launchUrl(form.dataset.binderUrl, field("provider").value, field("repository").value,
                                     field("ref").value, field("path").value, field("path-type").value));
  });

  // Update…: the same repository at another ref, from the form, prefilled.
  document.querySelectorAll(".update-project").forEach((button) => {
    button.addEventListener("click", () => {
      const fields = fieldsOfRequest(button.closest("tr.project-row").dataset.binderRequest);
      field("provider").value = fields.provider;
      field("repository").value = fields.repository;
      field("ref").value = fields.ref;
      refresh();
      document.getElementById("launch-title").textContent = "Update a project";
      field("ref").focus();
      field("ref").select();
    });
  });

  document.querySelectorAll(".copy-share").forEach((button) => {
    button.addEventListener("click", () => {
      const text = document.getElementById(button.dataset.copyFrom).value;
      navigator.clipboard.writeText(text).then(() => { button.textContent = "Copied"; });
    });
  });
  refresh();
})();
