"""Registries other than GKE's Artifact Registry: Harbor in the cluster, an external one, or none."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pulumi
import pulumi_kubernetes as kubernetes
import pulumi_random as random
import pulumi_tls as tls

from components.charts import chart
from components.cluster import HUB_DB_CLASS, HUB_NAMESPACE, RegistryAccess
from components.secrets import StackSecrets
from components.settings import Settings

PULL_SECRET = "binder-registry-pull"  # noqa: S105 (the Secret's name, not a secret)
HARBOR_NAMESPACE = "harbor"
HARBOR_ROBOT = "binderhub"
HARBOR_SETUP_SCRIPT = Path(__file__).with_name("harbor-setup.sh")
HARBOR_SETUP_IMAGE = "docker.io/curlimages/curl:8.11.1"


def build_registry(settings: Settings, secrets: StackSecrets, opts: pulumi.ResourceOptions) -> RegistryAccess:
    registry = settings.registry
    if registry.type == "external":
        external = registry.external
        return RegistryAccess(url=external.url, image_prefix=external.image_prefix, username=external.username,
                              password=secrets["registry_password"], private=True)
    if registry.type == "harbor":
        return Harbor("harbor", settings, secrets, opts).access
    # No registry: a local cluster (kind, minikube) uses images loaded into its nodes.
    return RegistryAccess(url="", image_prefix="binder-local/")


class PullSecret(pulumi.ComponentResource):
    """The docker-registry Secret user pods pull private images with (chart hooks, which could
    make one, are skipped by helm.v4.Chart)."""

    def __init__(self, name: str, registry: RegistryAccess, opts: pulumi.ResourceOptions):
        super().__init__("persistent-binderhub:registry:PullSecret", name, None, opts)
        config = pulumi.Output.all(registry.url, registry.username, registry.password).apply(
            lambda args: _docker_config(*args))
        kubernetes.core.v1.Secret(
            name,
            metadata={"name": PULL_SECRET, "namespace": HUB_NAMESPACE},
            type="kubernetes.io/dockerconfigjson",
            string_data={".dockerconfigjson": pulumi.Output.secret(config)},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})


def _docker_config(url: str, username: str, password: str) -> str:
    host = url.removeprefix("https://").removeprefix("http://").rstrip("/")
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return json.dumps({"auths": {host: {"username": username, "password": password, "auth": token}}},
                      sort_keys=True)


class Harbor(pulumi.ComponentResource):
    """Harbor in the cluster: a private project for Binder images, a robot account BinderHub
    pushes with (its secret generated here, kept in state), and retention of old images."""

    def __init__(self, name: str, settings: Settings, secrets: StackSecrets, opts: pulumi.ResourceOptions):
        super().__init__("persistent-binderhub:registry:Harbor", name, None, opts)
        harbor = settings.registry.harbor
        child = pulumi.ResourceOptions(parent=self)
        namespace = kubernetes.core.v1.Namespace(name, metadata={"name": HARBOR_NAMESPACE}, opts=child)
        # Harbor wants robot secrets with upper and lower case letters and digits.
        robot_secret = random.RandomPassword(f"{name}-robot-secret", length=32, special=False, min_upper=1,
                                             min_lower=1, min_numeric=1, opts=child)
        after_namespace = pulumi.ResourceOptions(parent=self, depends_on=[namespace])
        internal = self._internal_secrets(name, after_namespace)
        release = chart(settings.charts, "harbor", HARBOR_NAMESPACE, _harbor_values(settings, secrets, internal),
                        after_namespace)
        credentials = kubernetes.core.v1.Secret(
            f"{name}-setup-credentials",
            metadata={"name": "harbor-setup", "namespace": HARBOR_NAMESPACE},
            string_data={"HARBOR_ADMIN_PASSWORD": secrets["harbor_admin_password"],
                         "ROBOT_SECRET": robot_secret.result},
            opts=after_namespace)
        _setup_job(name, settings, credentials, pulumi.ResourceOptions(parent=self, depends_on=[release, credentials]))
        self.access = RegistryAccess(
            url=f"https://{harbor.hostname}",
            image_prefix=f"{harbor.hostname}/{harbor.project}/binder-",
            username=f"robot${harbor.project}+{HARBOR_ROBOT}",
            password=pulumi.Output.secret(robot_secret.result),
            private=True,
            in_cluster=True,
        )
        self.register_outputs({})

    def _internal_secrets(self, name: str, opts: pulumi.ResourceOptions) -> dict[str, pulumi.Output[str]]:
        """Harbor's own keys and passwords. Left unset, the chart makes new ones on every render
        (or, for the token-signing key, uses the one it ships): generated here, kept in state."""
        child = pulumi.ResourceOptions(parent=self)
        generated = {key: random.RandomPassword(f"{name}-{key}", length=length, special=False, opts=child)
                     for key, length in _HARBOR_GENERATED.items()}
        values = {key: pulumi.Output.secret(password.result) for key, password in generated.items()}
        registry = generated["registry-password"]
        kubernetes.core.v1.Secret(
            f"{name}-registry-credentials", metadata={"name": "harbor-registry-credentials",
                                                      "namespace": HARBOR_NAMESPACE},
            string_data={"REGISTRY_PASSWD": registry.result,
                         "REGISTRY_HTPASSWD": pulumi.Output.concat(f"{_HARBOR_REGISTRY_USER}:", registry.bcrypt_hash)},
            opts=opts)
        key = tls.PrivateKey(f"{name}-token-key", algorithm="RSA", rsa_bits=4096, opts=child)
        certificate = tls.SelfSignedCert(
            f"{name}-token-certificate", private_key_pem=key.private_key_pem,
            subject={"common_name": "harbor-token-service"}, validity_period_hours=10 * 365 * 24,
            allowed_uses=["digital_signature", "key_encipherment"], opts=child)
        kubernetes.core.v1.Secret(
            f"{name}-token", metadata={"name": "harbor-token", "namespace": HARBOR_NAMESPACE},
            type="kubernetes.io/tls",
            string_data={"tls.crt": certificate.cert_pem, "tls.key": key.private_key_pem}, opts=opts)
        return values


# Harbor's internal secrets and their lengths (16 where Harbor insists on exactly 16).
_HARBOR_GENERATED = {"core-secret": 16, "xsrf-key": 32, "jobservice-secret": 16, "registry-secret": 16,
                     "secret-key": 16, "database-password": 32, "registry-password": 32}
_HARBOR_REGISTRY_USER = "harbor_registry_user"


def _harbor_values(settings: Settings, secrets: StackSecrets, internal: dict[str, pulumi.Output[str]]) -> dict:
    harbor = settings.registry.harbor
    return {
        "externalURL": f"https://{harbor.hostname}",
        "harborAdminPassword": secrets["harbor_admin_password"],
        "secretKey": internal["secret-key"],
        "core": {"secret": internal["core-secret"], "xsrfKey": internal["xsrf-key"], "secretName": "harbor-token"},
        "jobservice": {"secret": internal["jobservice-secret"]},
        "registry": {"secret": internal["registry-secret"],
                     "credentials": {"username": _HARBOR_REGISTRY_USER,
                                     "existingSecret": "harbor-registry-credentials"}},
        "database": {"internal": {"password": internal["database-password"]}},
        "expose": {
            "type": "ingress",
            "tls": {"enabled": True, "certSource": "secret", "secret": {"secretName": "harbor-tls"}},
            "ingress": {"hosts": {"core": harbor.hostname},
                        "annotations": {"cert-manager.io/cluster-issuer": settings.tls.issuer}},
        },
        # Images are data: their volumes use the Retain class.
        "persistence": {"persistentVolumeClaim": {
            "registry": {"storageClass": HUB_DB_CLASS, "size": harbor.storage_size},
            "database": {"storageClass": HUB_DB_CLASS, "size": "5Gi"},
            "jobservice": {"jobLog": {"storageClass": HUB_DB_CLASS}},
            "redis": {"storageClass": HUB_DB_CLASS},
            "trivy": {"storageClass": HUB_DB_CLASS},
        }},
    }


def _setup_job(name: str, settings: Settings, credentials: kubernetes.core.v1.Secret,
               opts: pulumi.ResourceOptions) -> None:
    harbor = settings.registry.harbor
    script = HARBOR_SETUP_SCRIPT.read_text()
    settings_env = {"HARBOR_URL": "http://harbor-core", "PROJECT": harbor.project, "ROBOT": HARBOR_ROBOT,
                    "RETENTION_DAYS": str(harbor.retention_days)}
    # A Job's spec cannot change: a new name for each new script or settings replaces it.
    digest = hashlib.sha256(json.dumps([script, settings_env], sort_keys=True).encode()).hexdigest()[:8]
    script_map = kubernetes.core.v1.ConfigMap(
        f"{name}-setup-script", metadata={"name": f"harbor-setup-{digest}", "namespace": HARBOR_NAMESPACE},
        data={"harbor-setup.sh": script}, opts=opts)
    kubernetes.batch.v1.Job(
        f"{name}-setup",
        metadata={"name": f"harbor-setup-{digest}", "namespace": HARBOR_NAMESPACE},
        spec={
            "backoffLimit": 10,
            "ttlSecondsAfterFinished": 86400,
            "template": {"spec": {
                "restartPolicy": "OnFailure",
                "securityContext": {"runAsNonRoot": True, "runAsUser": 100},
                "containers": [{
                    "name": "setup",
                    "image": HARBOR_SETUP_IMAGE,
                    "command": ["/bin/sh", "/setup/harbor-setup.sh"],
                    "env": [{"name": key, "value": value} for key, value in settings_env.items()],
                    "envFrom": [{"secretRef": {"name": credentials.metadata["name"]}}],
                    "volumeMounts": [{"name": "setup", "mountPath": "/setup", "readOnly": True}],
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}},
                }],
                "volumes": [{"name": "setup", "configMap": {"name": script_map.metadata["name"]}}],
            }},
        },
        opts=opts,
    )
