"""JupyterHub (the z2jh chart, release `jupyterhub`) with the persistent spawner from hub/.

Every value comes from the stack's settings, the cluster interface, the stack's secrets and
the generated chart secrets; nothing is left for the chart to generate (helm.v4.Chart has
no `lookup`, so it would generate it afresh on every render).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi

from components.backups import sqlite_copy_hook
from components.charts import chart, chart_version
from components.cluster import HUB_NAMESPACE, MONITORING_NAMESPACE, PROMETHEUS_URL, Cluster, RegistryAccess
from components.component import FROM_ROOT, Component
from components.endpoints import Endpoints
from components.generated_secrets import GeneratedSecrets
from components.ingress import Ingress
from components.registry import PULL_SECRET
from components.secrets import StackSecrets
from components.settings import Auth, Charts, HubDatabase, Persistence, Servers, Settings, Storage

HUB_PACKAGE = Path(__file__).resolve().parent.parent / "hub" / "persistent_binderhub"
HUB_CONFIG_DIR = "/usr/local/etc/jupyterhub"  # on the hub's sys.path in the z2jh image
BINDER_CLIENT_ID = "service-binder"
HUB_METRICS_SERVICE = "prometheus"  # the service Prometheus scrapes /hub/metrics as
# The hub's own Service (named `hub` with no release prefix: fullnameOverride ""), where services
# in the cluster reach its API without leaving the cluster or depending on DNS.
HUB_LOCAL_URL = "http://hub:8081/"
NETWORK_TOOLS_IMAGE = "quay.io/jupyterhub/k8s-network-tools"  # tagged with the z2jh chart's version
HOME_MOUNT_PATH = "/home/jovyan"  # where the chart mounts the user volume, and what the spawner seeds from
_AUTHENTICATORS = {"github": "github", "oidc": "generic-oauth", "dummy": "dummy"}


def hub_files() -> dict[str, dict[str, str]]:
    """The hub package as z2jh `hub.extraFiles`: every file, mounted where the hub imports it."""
    files = {}
    for path in sorted(p for p in HUB_PACKAGE.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        relative = path.relative_to(HUB_PACKAGE.parent).as_posix()
        key = "pbh-" + relative.replace("/", "-").replace("_", "-").replace(".", "-").lower()
        files[key] = {"mountPath": f"{HUB_CONFIG_DIR}/{relative}", "stringData": path.read_text()}
    return files


@dataclass(frozen=True)
class JupyterHubArgs:
    """What the hub needs: its part of the settings, and what the rest of the program made."""

    endpoints: Endpoints
    auth: Auth
    persistence: Persistence
    servers: Servers
    storage: Storage
    hub_database: HubDatabase
    charts: Charts
    secrets: StackSecrets
    generated: GeneratedSecrets
    cluster: Cluster
    registry: RegistryAccess
    ingress: Ingress
    backed_up: bool = False  # Velero backs the hub database up (components/backups.py)
    metrics_token: pulumi.Output[str] | None = None  # Prometheus's token (components/monitoring.py), when monitored

    @classmethod
    def of(cls, settings: Settings, secrets: StackSecrets, *, generated: GeneratedSecrets, cluster: Cluster,
           registry: RegistryAccess, ingress: Ingress, metrics_token: pulumi.Output[str] | None = None
           ) -> JupyterHubArgs:
        return cls(Endpoints.of(settings), settings.auth, settings.persistence, settings.servers, settings.storage,
                   settings.hub_database, settings.charts, secrets, generated, cluster, registry, ingress,
                   backed_up=settings.backups is not None, metrics_token=metrics_token)

    @property
    def maintenance_image(self) -> str:
        """The deployment's image that prepares user volumes: the settings', or the chart's network tools."""
        return (self.persistence.maintenance_image
                or f"{NETWORK_TOOLS_IMAGE}:{chart_version(self.charts, 'jupyterhub')}")


class JupyterHub(Component):
    """The z2jh release, with the persistent spawner and its settings."""

    TYPE = "persistent-binderhub:hub:JupyterHub"

    def __init__(self, name: str, args: JupyterHubArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        self.release = chart(args.charts, "jupyterhub", HUB_NAMESPACE, jupyterhub_values(args),
                             self.child(aliases=FROM_ROOT))
        self.register_outputs({})


# The one `hub.extraConfig` entry, the same on every stack: z2jh has loaded `hub.config` (the
# spawner's settings below, as data) into `c` before it runs.
HUB_EXTRA_CONFIG = "from persistent_binderhub.hubconfig import configure\n\nconfigure(c)\n"


def spawner_config(args: JupyterHubArgs) -> dict:
    """`hub.config.PersistentBinderSpawner`: what this deployment sets of the spawner's settings.

    A setting the stack leaves out keeps the spawner's own default (hub/README.md), the one place
    it is defined.
    """
    persistence = args.persistence
    chosen = {"projects_limit": persistence.projects_limit, "mount_projects": persistence.mount_projects}
    return {
        **{name: value for name, value in chosen.items() if value is not None},
        "allowed_image_prefixes": [args.registry.image_prefix],
        "binder_url": args.endpoints.binder_url,
        "home_mount_path": HOME_MOUNT_PATH,
        "maintenance_image": args.maintenance_image,
        # Pinned, not left to the default: volumes outlive their users, and a policy reads it here.
        "delete_pvc": False,
        # With monitoring: the home page says how full each user's volume is.
        **({"usage_prometheus_url": PROMETHEUS_URL} if args.metrics_token is not None else {}),
    }


def jupyterhub_values(args: JupyterHubArgs) -> dict:
    cluster, generated, endpoints, servers = args.cluster, args.generated, args.endpoints, args.servers
    core, user = cluster.core, cluster.user
    user_homes, hub_db = cluster.storage_classes
    return {
        # No release-name prefix: the hub's Secret is then `hub`, the name binderhub-service reads
        # its JUPYTERHUB_API_TOKEN from, and the Service `hub` that BinderHub reaches.
        "fullnameOverride": "",
        "imagePullSecrets": [PULL_SECRET] if args.registry.pull_secret else [],
        "proxy": {
            "secretToken": generated.proxy_secret_token,
            "service": {"type": "ClusterIP"},
            "chp": {**core.chart_values(), "networkPolicy": {"enabled": True}},
        },
        "hub": {
            "config": {
                "JupyterHub": {"cookie_secret": generated.cookie_secret,
                               "authenticator_class": _AUTHENTICATORS[args.auth.type]},
                "CryptKeeper": {"keys": [generated.crypt_keeper_key]},
                **_authenticator(args.auth, args.secrets, f"{endpoints.hub_url}hub/oauth_callback"),
                "PersistentBinderSpawner": spawner_config(args),
            },
            "services": {"binder": {
                "apiToken": generated.binder_api_token,
                "oauth_client_id": BINDER_CLIENT_ID,
                "oauth_redirect_uri": f"{endpoints.binder_url}oauth_callback",
            }, **_metrics_service(args)},
            "loadRoles": {
                "binder": {"services": ["binder"], "scopes": ["servers", "read:users"]},
                # configure() adds the projects scopes to this role
                "user": {"scopes": ["self", "access:services!service=binder"]},
                **({"metrics": {"services": [HUB_METRICS_SERVICE], "scopes": ["read:metrics"]}}
                   if args.metrics_token is not None else {}),
            },
            "redirectToServer": False,
            "extraFiles": hub_files(),
            "extraConfig": {"persistent-binderhub": HUB_EXTRA_CONFIG},
            "db": _hub_database(args, hub_db),
            # A backup holds a consistent copy of a SQLite database (PostgreSQL's are its operator's).
            **({"annotations": sqlite_copy_hook()} if args.backed_up and args.hub_database.type == "sqlite" else {}),
            **core.chart_values(),
            "networkPolicy": {"enabled": True, **_prometheus_ingress(args)},
        },
        "singleuser": {
            "storage": {"type": "dynamic", "capacity": args.storage.user_home_size,
                        "homeMountPath": HOME_MOUNT_PATH, "dynamic": {"storageClass": user_homes}},
            "cpu": {"guarantee": servers.cpu_guarantee, "limit": servers.cpu_limit},
            "memory": {"guarantee": servers.memory_guarantee, "limit": servers.memory_limit},
            "nodeSelector": user.node_selector,
            "extraTolerations": list(user.tolerations),
            "networkPolicy": {"enabled": True},
        },
        "scheduling": {"userScheduler": {"enabled": False}, "userPlaceholder": {"enabled": False}},
        # Servers are culled when idle; users (and with them their volumes) never are.
        "cull": {"enabled": True, "users": False, "timeout": servers.cull_timeout_seconds,
                 "every": servers.cull_every_seconds, "maxAge": servers.max_age_seconds},
        # The hook is a Helm hook, which helm.v4.Chart skips: say so instead of half-running it.
        "prePuller": {"hook": {"enabled": False}, "continuous": {"enabled": False}},
        "ingress": ingress_values(args.ingress, endpoints.hub_host, "hub-tls"),
    }


def _metrics_service(args: JupyterHubArgs) -> dict:
    """The service whose token Prometheus scrapes /hub/metrics with: read:metrics, nothing else."""
    return {HUB_METRICS_SERVICE: {"apiToken": args.metrics_token}} if args.metrics_token is not None else {}


def _prometheus_ingress(args: JupyterHubArgs) -> dict:
    """The hub's network policy lets Prometheus in, to its port only."""
    if args.metrics_token is None:
        return {}
    return {"ingress": [{"from": [{"namespaceSelector": {
        "matchLabels": {"kubernetes.io/metadata.name": MONITORING_NAMESPACE}}}], "ports": [{"port": 8081}]}]}


def _authenticator(auth: Auth, secrets: StackSecrets, callback: str) -> dict:
    common = {"Authenticator": {"admin_users": list(auth.admins)}}
    if auth.type == "github":
        github = auth.github
        return {**common, "GitHubOAuthenticator": {
            "client_id": github.client_id, "client_secret": secrets["oauth_client_secret"],
            "oauth_callback_url": callback, "allowed_organizations": list(github.allowed_organizations),
            "allowed_users": list(github.allowed_users), "allow_all": github.allow_all,
            "scope": ["read:org"]}}
    if auth.type == "oidc":
        oidc = auth.oidc
        # The provider's own endpoints where the settings name them; Keycloak's layout otherwise.
        keycloak = oidc.issuer_url.rstrip("/") + "/protocol/openid-connect"
        return {**common, "GenericOAuthenticator": {
            "client_id": oidc.client_id, "client_secret": secrets["oauth_client_secret"],
            "oauth_callback_url": callback, "authorize_url": oidc.authorize_url or f"{keycloak}/auth",
            "token_url": oidc.token_url or f"{keycloak}/token",
            "userdata_url": oidc.userdata_url or f"{keycloak}/userinfo",
            "scope": list(oidc.scopes), "username_claim": oidc.username_claim,
            "allowed_groups": list(oidc.allowed_groups), "allow_all": oidc.allow_all,
            "claim_groups_key": "groups"}}
    # dummy: the `local` stack only (the settings refuse it elsewhere); any name signs in
    return {"Authenticator": {**common["Authenticator"], "allow_all": True}}


def _hub_database(args: JupyterHubArgs, storage_class: str) -> dict:
    if args.hub_database.type == "postgres":
        return {"type": "postgres", "url": args.secrets["hub_database_url"]}
    return {"type": "sqlite-pvc", "pvc": {"storage": args.storage.hub_db_size, "storageClassName": storage_class}}


def ingress_values(ingress: Ingress, host: str, tls_secret: str) -> dict:
    """A chart's `ingress` values (z2jh's and binderhub-service's have the same shape)."""
    values = {"enabled": True, "ingressClassName": ingress.class_name, "hosts": [host], "pathType": "Prefix"}
    if ingress.issuer:
        values["annotations"] = {"cert-manager.io/cluster-issuer": ingress.issuer}
        values["tls"] = [{"hosts": [host], "secretName": tls_secret}]
    return values
