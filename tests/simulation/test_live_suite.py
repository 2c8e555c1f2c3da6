"""The live suite (tests/live/test_stack.py), run here against the simulated cluster.

The same test functions as `make test-live` runs against a deployment; the fixtures
`stack` and `repositories` come from this folder's conftest.py.
"""

from tests.live.test_stack import (  # noqa: F401 (collected by pytest under these names)
    test_files_persist_across_launches,
    test_hub_and_binderhub_are_healthy,
)
