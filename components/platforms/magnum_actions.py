"""Magnum's cluster actions that the Pulumi provider has no resource for, run where Pulumi runs.

    python3 components/platforms/magnum_actions.py upgrade CLUSTER TEMPLATE
    python3 components/platforms/magnum_actions.py grow CLUSTER NODEGROUP MINIMUM

- upgrade: move the cluster to another cluster template with Magnum's own upgrade action (node
  by node), and wait for it. The provider would instead replace the whole cluster.
- grow: make a node group at least MINIMUM nodes large before its minimum is raised to that
  (the driver refuses a minimum above the current size). A group not made yet is left alone.

Each does nothing when there is nothing to do. The program's local commands run it
(components/platforms/magnum.py) with the credentials in the environment: OS_AUTH_URL,
OS_REGION_NAME, OS_APPLICATION_CREDENTIAL_ID and OS_APPLICATION_CREDENTIAL_SECRET. Only the
standard library is used, so any python3 runs it. Exit 0 done, 1 failed, 2 bad arguments.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request

API_VERSION = "container-infra latest"  # resize needs 1.7, upgrade 1.8, node groups 1.9
DONE, FAILED = "UPDATE_COMPLETE", "UPDATE_FAILED"


class ActionError(Exception):
    """A failed action, in words an operator can act on (never with a credential in them)."""


class Magnum:
    """The container-infra API of the cloud, with a token from an application credential."""

    def __init__(self, environ: dict[str, str]):
        missing = [key for key in ("OS_AUTH_URL", "OS_APPLICATION_CREDENTIAL_ID",
                                   "OS_APPLICATION_CREDENTIAL_SECRET") if not environ.get(key)]
        if missing:
            raise ActionError(f"missing in the environment: {', '.join(missing)}")
        self.region = environ.get("OS_REGION_NAME") or None
        self.timeout = float(environ.get("MAGNUM_ACTION_TIMEOUT", "5400"))  # an upgrade replaces every node
        self.interval = float(environ.get("MAGNUM_POLL_SECONDS", "20"))
        body = {"auth": {"identity": {"methods": ["application_credential"], "application_credential": {
            "id": environ["OS_APPLICATION_CREDENTIAL_ID"], "secret": environ["OS_APPLICATION_CREDENTIAL_SECRET"]}}}}
        response, token = self._request("POST", environ["OS_AUTH_URL"].rstrip("/") + "/auth/tokens", body)
        self.token = token
        self.endpoint = self._endpoint(response["token"].get("catalog", []))

    def _endpoint(self, catalog: list[dict]) -> str:
        for service in catalog:
            if service.get("type") != "container-infra":
                continue
            for endpoint in service.get("endpoints", []):
                if endpoint.get("interface") == "public" and self.region in (None, endpoint.get("region")):
                    return endpoint["url"].rstrip("/")
        raise ActionError(f"the cloud's catalog has no public container-infra (Magnum) endpoint"
                          f"{f' in region {self.region}' if self.region else ''}")

    def get(self, path: str) -> dict | None:
        """The object at `path`, or None if there is none."""
        try:
            return self._request("GET", self.endpoint + path)[0]
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise

    def post(self, path: str, body: dict) -> None:
        self._request("POST", self.endpoint + path, body)

    def _request(self, method: str, url: str, body: dict | None = None) -> tuple[dict, str | None]:
        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   "OpenStack-API-Version": API_VERSION}
        if getattr(self, "token", None):
            headers["X-Auth-Token"] = self.token
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310 (the cloud's URL)
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            text = response.read().decode()
            return (json.loads(text) if text else {}), response.headers.get("X-Subject-Token")

    def wait(self, path: str, what: str) -> None:
        """Wait until the object at `path` is UPDATE_COMPLETE; fail on UPDATE_FAILED or timeout."""
        deadline = time.monotonic() + self.timeout
        while True:
            found = self.get(path) or {}
            status = found.get("status", "")
            if status == DONE:
                return
            if status == FAILED:
                raise ActionError(f"{what} failed: {found.get('status_reason') or 'no reason given'}")
            if time.monotonic() > deadline:
                raise ActionError(f"{what} did not finish within {self.timeout:.0f} s "
                                  f"(status {status or 'unknown'})")
            time.sleep(self.interval)


def upgrade(magnum: Magnum, cluster: str, template: str) -> str:
    found = magnum.get(f"/v1/clusters/{cluster}")
    if found is None:
        raise ActionError(f"there is no cluster {cluster}")
    if found.get("cluster_template_id") == template:
        return f"cluster {cluster} is on cluster template {template} already"
    magnum.post(f"/v1/clusters/{cluster}/actions/upgrade", {"cluster_template": template, "max_batch_size": 1})
    magnum.wait(f"/v1/clusters/{cluster}", f"the upgrade of cluster {cluster} to template {template}")
    return f"cluster {cluster} upgraded to cluster template {template}"


def grow(magnum: Magnum, cluster: str, nodegroup: str, minimum: int) -> str:
    path = f"/v1/clusters/{cluster}/nodegroups/{nodegroup}"
    found = magnum.get(path)
    if found is None:
        return f"node group {nodegroup} is not made yet: it starts with its minimum"
    if found.get("node_count", 0) >= minimum:
        return f"node group {nodegroup} has {found.get('node_count')} nodes, at least {minimum}"
    magnum.post(f"/v1/clusters/{cluster}/actions/resize", {"node_count": minimum, "nodegroup": nodegroup})
    magnum.wait(path, f"growing node group {nodegroup} to {minimum} nodes")
    return f"node group {nodegroup} grown to {minimum} nodes"


USAGE = "usage: magnum_actions.py upgrade CLUSTER TEMPLATE | grow CLUSTER NODEGROUP MINIMUM"


def main(argv: list[str], environ: dict[str, str]) -> int:
    try:
        if len(argv) == 3 and argv[0] == "upgrade":
            done = upgrade(Magnum(environ), argv[1], argv[2])
        elif len(argv) == 4 and argv[0] == "grow" and argv[3].isdigit():
            done = grow(Magnum(environ), argv[1], argv[2], int(argv[3]))
        else:
            print(USAGE, file=sys.stderr)
            return 2
    except ActionError as error:
        print(f"magnum: {error}", file=sys.stderr)
        return 1
    except urllib.error.HTTPError as error:
        print(f"magnum: {error.url} answered {error.code} {error.reason}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError) as error:
        print(f"magnum: the cloud could not be reached: {error}", file=sys.stderr)
        return 1
    print(f"magnum: {done}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], dict(os.environ)))
