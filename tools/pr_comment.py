"""The pull request's render report: assembled from each affected stack's Markdown section, and
posted as one comment that later pushes update.

    python -m tools.pr_comment assemble SECTION.md... --out REPORT.md [--full-diff-url URL]
    python -m tools.pr_comment post --repository OWNER/NAME --pull-request N --head-sha SHA REPORT.md

`assemble` keeps the report within one GitHub comment (65,536 characters): when the whole is
longer, each stack keeps its summary and policy results, and the report links the full diff
(the workflow's artifact). `post` updates the comment that carries the report's marker, or
creates it (GITHUB_TOKEN, GITHUB_API_URL: see tools/github.py).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from components.errors import OperatorError
from tools.cli import run
from tools.github import GitHub

MARKER = "<!-- persistent-binderhub: render diff -->"
COMMENT_LIMIT = 65_536  # GitHub's limit on a comment's body
_DETAILS = re.compile(r"<details>.*?</details>\n?", re.DOTALL)
TITLE = "## Offline render: what this pull request changes"


def assemble(sections: list[str], full_diff_url: str | None = None, limit: int = COMMENT_LIMIT) -> str:
    body = "\n".join(sections) if sections else "No stack is affected by this change.\n"
    report = f"{MARKER}\n{TITLE}\n\n{body}"
    if len(report) <= limit:
        return report
    where = f"[the full diff]({full_diff_url})" if full_diff_url else "the full diff (the workflow's artifact)"
    note = f"\nThe changes are too long for one comment: see {where}.\n"
    short = f"{MARKER}\n{TITLE}\n\n{_DETAILS.sub('', body)}{note}"
    return short if len(short) <= limit else short[:limit - len(note) - 40] + "\n\n(cut short)\n" + note


def post(github: GitHub, pull_request: int, body: str, head_sha: str) -> str:
    """Update the report's comment, or create it; returns 'updated' or 'created'. The pull request
    must be the one whose head the report was made from: its number came with the report."""
    head = (github.call("GET", f"/pulls/{pull_request}").get("head") or {}).get("sha")
    if head != head_sha:
        raise OperatorError(f"pull request #{pull_request} is at {head}, not at {head_sha}, which the report was "
                            f"made from: nothing was posted")
    for comment in github.pages(f"/issues/{pull_request}/comments"):
        if comment.get("body", "").startswith(MARKER):
            github.call("PATCH", f"/issues/comments/{comment['id']}", {"body": body})
            return "updated"
    github.call("POST", f"/issues/{pull_request}/comments", {"body": body})
    return "created"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.pr_comment", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    assembling = commands.add_parser("assemble", help="one report from the stacks' sections")
    assembling.add_argument("sections", nargs="*", type=Path)
    assembling.add_argument("--out", type=Path, required=True)
    assembling.add_argument("--full-diff-url")
    posting = commands.add_parser("post", help="create or update the pull request's report comment")
    posting.add_argument("report", type=Path)
    posting.add_argument("--repository", required=True)
    posting.add_argument("--pull-request", type=int, required=True)
    posting.add_argument("--head-sha", required=True, help="the commit the report was made from")
    args = parser.parse_args(argv)
    def command() -> None:
        if args.command == "assemble":
            args.out.write_text(assemble([s.read_text() for s in args.sections], args.full_diff_url))
            return
        body = args.report.read_text()
        if not body.startswith(MARKER) or len(body) > COMMENT_LIMIT:
            raise OperatorError(f"{args.report} is not a report of python -m tools.pr_comment assemble")
        print(f"{post(GitHub(args.repository), args.pull_request, body, args.head_sha)} the report on pull request "
              f"#{args.pull_request}")

    return run(command)


if __name__ == "__main__":
    sys.exit(main())
