"""One issue per stack for drift: opened or updated with the diff when the nightly preview finds
drift, closed when it is gone.

    python -m tools.drift_issue --repository OWNER/NAME --stack STACK --diff PREVIEW.txt [--run-url URL]
    python -m tools.drift_issue --repository OWNER/NAME --stack STACK --no-drift [--run-url URL]

The issue is the open one labelled `drift` with the title "Drift: stack STACK" (GITHUB_TOKEN,
GITHUB_API_URL: see tools/github.py).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from tools.cli import run
from tools.github import GitHub
from tools.stackfile import check_stack_name

LABEL = "drift"
BODY_LIMIT = 65_536


def title_of(stack: str) -> str:
    return f"Drift: stack {stack}"


def _open_issue(github: GitHub, stack: str) -> dict | None:
    return next((issue for issue in github.pages(f"/issues?state=open&labels={LABEL}")
                 if issue.get("title") == title_of(stack) and "pull_request" not in issue), None)


def body_of(stack: str, diff: str, run_url: str | None) -> str:
    fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", diff)), default=0))
    head = (f"The nightly `pulumi preview --refresh --expect-no-changes` of stack `{stack}` found drift: the "
            f"cloud differs from the code{f' ([the run]({run_url}))' if run_url else ''}. Run `make up "
            f"STACK={stack}` to put it back, or change the code to match. This issue closes itself once the "
            f"drift is gone.\n\n")
    room = BODY_LIMIT - len(head) - 2 * len(fence) - 40
    shown = diff if len(diff) <= room else diff[:room] + "\n(cut short: see the run)"
    return f"{head}{fence}text\n{shown}\n{fence}\n"


def report_drift(github: GitHub, stack: str, diff: str, run_url: str | None = None) -> str:
    issue = _open_issue(github, stack)
    body = body_of(stack, diff, run_url)
    if issue:
        github.call("PATCH", f"/issues/{issue['number']}", {"body": body})
        return f"updated issue #{issue['number']}"
    created = github.call("POST", "/issues", {"title": title_of(stack), "body": body, "labels": [LABEL]})
    return f"opened issue #{created['number']}"


def report_no_drift(github: GitHub, stack: str, run_url: str | None = None) -> str:
    issue = _open_issue(github, stack)
    if issue is None:
        return "no drift, no issue"
    github.call("POST", f"/issues/{issue['number']}/comments",
                {"body": f"No drift any more{f' ([the run]({run_url}))' if run_url else ''}: closing."})
    github.call("PATCH", f"/issues/{issue['number']}", {"state": "closed", "state_reason": "completed"})
    return f"closed issue #{issue['number']}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.drift_issue", description=__doc__.splitlines()[0])
    parser.add_argument("--repository", required=True)
    parser.add_argument("--stack", required=True)
    found = parser.add_mutually_exclusive_group(required=True)
    found.add_argument("--diff", type=Path, help="the preview's output, when it found drift")
    found.add_argument("--no-drift", action="store_true")
    parser.add_argument("--run-url")
    args = parser.parse_args(argv)
    def command() -> None:
        stack = check_stack_name(args.stack)
        github = GitHub(args.repository)
        if args.no_drift:
            print(report_no_drift(github, stack, args.run_url))
        else:
            print(report_drift(github, stack, args.diff.read_text(errors="replace"), args.run_url))

    return run(command)


if __name__ == "__main__":
    sys.exit(main())
