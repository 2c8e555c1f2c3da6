"""Which stacks a change touches, one per line: what the pull-request and deploy workflows act on.

    python -m tools.affected FILE...       # the changed files, relative to the repository
    python -m tools.affected --base REF    # the files changed since REF (git diff REF...HEAD)
    python -m tools.affected --deploy ...  # as JSON, the stacks CI deploys: {"staging": [...], "production": [...]}
    python -m tools.affected --deploy --all  # every stack CI deploys (the nightly drift check)

A stack's settings or secrets file: that stack. A platform's module: the stacks on that
platform. Shared program code, the hub package, the policy pack, the tools a deploy runs, the
requirements: every stack. Documentation, tests and anything else: none. Only stacks that
exist in the working tree are printed (a deleted stack has nothing to render or deploy).

CI deploys every stack but `local` and the `example-*` stacks; a stack named `staging` or
`*-staging` is deployed (and tested) before the others.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import shutil
import subprocess
import sys
from pathlib import Path

from components.errors import OperatorError
from tools.cli import run
from tools.offline import REPO
from tools.stackfile import known_stacks, read_stack_config

PLATFORM_KEY = "persistent-binderhub:platform"
# A file of one platform: the stacks on that platform.
PLATFORM_FILES = {
    "components/platforms/gke.py": "gke",
    "components/platforms/magnum.py": "magnum",
    "components/platforms/magnum_actions.py": "magnum",
    "components/platforms/kubeadm/*": "kubeadm",
    "components/platforms/existing.py": "existing",
}
# Shared by every stack: the program, its settings and components, the hub package, the policy
# pack, the tools a render or deploy runs, the requirements.
SHARED = ("__main__.py", "Pulumi.yaml", "components/*", "hub/*", "policies/*", "tools/*", "requirements.txt",
          "requirements.in", ".sops.yaml", "Makefile")
# Never a stack's concern, even under a shared folder.
NONE = ("*.md", "docs/*", "tests/*", ".github/*", "tools/lint/*")


def affected_stacks(files: list[str], project_dir: Path = REPO) -> list[str]:
    stacks = known_stacks(project_dir)
    touched: set[str] = set()
    for file in files:
        touched |= _stacks_of(file.strip().removeprefix("./"), stacks, project_dir)
    return sorted(touched)


def deploy_plan(stacks: list[str]) -> dict[str, list[str]]:
    """The stacks CI deploys, staging first."""
    deployed = [s for s in stacks if s != "local" and not s.startswith("example-")]
    staging = [s for s in deployed if s == "staging" or s.endswith("-staging")]
    return {"staging": staging, "production": [s for s in deployed if s not in staging]}


def _stacks_of(file: str, stacks: list[str], project_dir: Path) -> set[str]:
    if _matches(file, NONE):
        return set()
    for stack in stacks:
        if file in (f"stacks/Pulumi.{stack}.yaml", f"secrets/{stack}.sops.yaml"):
            return {stack}
    platform = next((p for pattern, p in PLATFORM_FILES.items() if fnmatch.fnmatch(file, pattern)), None)
    if platform:
        return {s for s in stacks if _platform_of(s, project_dir) == platform}
    return set(stacks) if _matches(file, SHARED) else set()


def _matches(file: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(file, pattern) for pattern in patterns)


def _platform_of(stack: str, project_dir: Path) -> str:
    return str(read_stack_config(project_dir, stack).get(PLATFORM_KEY, "")).strip('"')


def changed_files(base: str, project_dir: Path = REPO) -> list[str]:
    git = shutil.which("git")
    if git is None:
        raise OperatorError("git is not installed: give the changed files instead of --base")
    done = subprocess.run([git, "diff", "--name-only", f"{base}...HEAD"], cwd=project_dir, capture_output=True,
                          text=True, check=False)
    if done.returncode:
        raise OperatorError(f"git cannot compare with {base}: {done.stderr.strip()}")
    return done.stdout.splitlines()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.affected", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="changed files, relative to the repository")
    parser.add_argument("--base", help="a git ref: the files changed since it")
    parser.add_argument("--deploy", action="store_true", help="as JSON: the affected stacks CI deploys")
    parser.add_argument("--all", action="store_true", help="with --deploy: every stack CI deploys")
    parser.add_argument("--project-dir", type=Path, default=REPO, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.all and not args.deploy:
        parser.error("--all goes with --deploy")
    if not args.all and bool(args.files) == bool(args.base):
        parser.error("give either the changed files, or --base REF")
    def command() -> None:
        if args.all:
            stacks = known_stacks(args.project_dir)
        else:
            stacks = affected_stacks(args.files or changed_files(args.base, args.project_dir), args.project_dir)
        if args.deploy:
            print(json.dumps(deploy_plan(stacks)))
        elif stacks:
            print("\n".join(stacks))

    return run(command)


if __name__ == "__main__":
    sys.exit(main())
