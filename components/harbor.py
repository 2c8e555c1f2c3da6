"""Harbor in the cluster: a private project for Binder images, a robot account BinderHub
pushes with (its secret generated here, kept in state), and retention of old images.

Harbor is served by the deployment's ingress (its class, its issuer's certificate) at its own
domain, and builds push to it there: at the ingress address, which may be private.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_kubernetes as kubernetes
import pulumi_random as random
import pulumi_tls as tls

from components.charts import chart
from components.cluster import Cluster, Placement, RegistryAccess
from components.component import Component
from components.ingress import Ingress, IngressController
from components.secrets import StackSecrets
from components.settings import Charts, HarborSettings, Settings

HARBOR_NAMESPACE = "harbor"
HARBOR_ROBOT = "binderhub"
HARBOR_SETUP_SCRIPT = Path(__file__).with_name("harbor-setup.sh")
HARBOR_SETUP_IMAGE = "docker.io/curlimages/curl:8.11.1"


@dataclass(frozen=True)
class HarborArgs:
    harbor: HarborSettings
    admin_password: pulumi.Output[str]
    charts: Charts
    ingress_class: str
    issuer: str  # the ClusterIssuer of Harbor's certificate: a registry is served over https only
    storage_class: str  # images are data: the hub database's class, which keeps its volumes
    placement: Placement  # where Harbor runs: with the hub, on the core nodes
    # How builds reach Harbor at its domain, which resolves to the ingress address: NetworkPolicy
    # egress rules to that address and to the ingress controller's pods.
    push_egress: tuple[dict, ...] = ()

    @classmethod
    def of(cls, settings: Settings, secrets: StackSecrets, cluster: Cluster, ingress: Ingress) -> HarborArgs:
        return cls(settings.registry.harbor, secrets["harbor_admin_password"], settings.charts, ingress.class_name,
                   ingress.issuer, cluster.storage_classes[1], cluster.core,
                   push_egress(cluster.ingress_address, ingress.controller))


def push_egress(address: pulumi.Input[str] | None, controller: IngressController | None) -> tuple[dict, ...]:
    """Egress rules to Harbor behind the ingress. Inside the cluster, kube-proxy (or the CNI) turns
    traffic to the ingress address into traffic to a controller pod on its container port before
    network policies apply: the rule to the pods is the one that counts there; the one to the
    address, where traffic goes out to the load balancer and back."""
    rules = []
    if address is not None:
        rules.append({"to": [{"ipBlock": {"cidr": pulumi.Output.concat(address, "/32")}}],
                      "ports": [{"port": 443, "protocol": "TCP"}]})
    if controller is not None:
        rules.append(controller.egress())
    return tuple(rules)


class Harbor(Component):
    TYPE = "persistent-binderhub:registry:Harbor"

    def __init__(self, name: str, args: HarborArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        harbor = args.harbor
        # Protected, as the release: they hold every built image (policy data-resources-protected).
        namespace = kubernetes.core.v1.Namespace(name, metadata={"name": HARBOR_NAMESPACE},
                                                 opts=self.child(protect=True))
        # Harbor wants robot secrets with upper and lower case letters and digits.
        robot_secret = random.RandomPassword(f"{name}-robot-secret", length=32, special=False, min_upper=1,
                                             min_lower=1, min_numeric=1, opts=self.child())
        internal = self._internal_secrets(name, namespace)
        release = chart(args.charts, "harbor", HARBOR_NAMESPACE, _harbor_values(args, internal),
                        self.child(namespace, protect=True))
        credentials = kubernetes.core.v1.Secret(
            f"{name}-setup-credentials",
            metadata={"name": "harbor-setup", "namespace": HARBOR_NAMESPACE},
            string_data={"HARBOR_ADMIN_PASSWORD": args.admin_password, "ROBOT_SECRET": robot_secret.result},
            opts=self.child(namespace))
        self._setup_job(name, harbor, credentials, release)
        self.access = RegistryAccess(
            url=_external_url(harbor),
            image_prefix=f"{harbor.hostname}/{harbor.project}/binder-",
            username=f"robot${harbor.project}+{HARBOR_ROBOT}",
            password=pulumi.Output.secret(robot_secret.result),
            pull_secret=True,
            push_egress=args.push_egress,
        )
        self.register_outputs({})

    def _internal_secrets(self, name: str, namespace: kubernetes.core.v1.Namespace) -> dict[str, pulumi.Output[str]]:
        """Harbor's own keys and passwords. Left unset, the chart makes new ones on every render
        (or, for the token-signing key, uses the one it ships): generated here, kept in state."""
        generated = {key: random.RandomPassword(f"{name}-{key}", length=length, special=False, opts=self.child())
                     for key, length in _HARBOR_GENERATED.items()}
        values = {key: pulumi.Output.secret(password.result) for key, password in generated.items()}
        registry = generated["registry-password"]
        kubernetes.core.v1.Secret(
            f"{name}-registry-credentials", metadata={"name": "harbor-registry-credentials",
                                                      "namespace": HARBOR_NAMESPACE},
            string_data={"REGISTRY_PASSWD": registry.result,
                         "REGISTRY_HTPASSWD": pulumi.Output.concat(f"{_HARBOR_REGISTRY_USER}:", registry.bcrypt_hash)},
            opts=self.child(namespace))
        key = tls.PrivateKey(f"{name}-token-key", algorithm="RSA", rsa_bits=4096, opts=self.child())
        certificate = tls.SelfSignedCert(
            f"{name}-token-certificate", private_key_pem=key.private_key_pem,
            subject={"common_name": "harbor-token-service"}, validity_period_hours=10 * 365 * 24,
            allowed_uses=["digital_signature", "key_encipherment"], opts=self.child())
        kubernetes.core.v1.Secret(
            f"{name}-token", metadata={"name": "harbor-token", "namespace": HARBOR_NAMESPACE},
            type="kubernetes.io/tls",
            string_data={"tls.crt": certificate.cert_pem, "tls.key": key.private_key_pem},
            opts=self.child(namespace))
        return values

    def _setup_job(self, name: str, harbor: HarborSettings, credentials: kubernetes.core.v1.Secret,
                   release: pulumi.Resource) -> None:
        """A Job that makes the project, the robot account and the retention policy through Harbor's API."""
        script = HARBOR_SETUP_SCRIPT.read_text()
        settings_env = {"HARBOR_URL": "http://harbor-core", "PROJECT": harbor.project, "ROBOT": HARBOR_ROBOT,
                        "RETENTION_DAYS": str(harbor.retention_days)}
        # A Job's spec cannot change: a new name for each new script or settings replaces it.
        digest = hashlib.sha256(json.dumps([script, settings_env], sort_keys=True).encode()).hexdigest()[:8]
        after_release = self.child(release, credentials)
        script_map = kubernetes.core.v1.ConfigMap(
            f"{name}-setup-script", metadata={"name": f"harbor-setup-{digest}", "namespace": HARBOR_NAMESPACE},
            data={"harbor-setup.sh": script}, opts=after_release)
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
            opts=after_release,
        )


# Harbor's internal secrets and their lengths (16 where Harbor insists on exactly 16).
_HARBOR_GENERATED = {"core-secret": 16, "xsrf-key": 32, "jobservice-secret": 16, "registry-secret": 16,
                     "secret-key": 16, "database-password": 32, "registry-password": 32}
_HARBOR_REGISTRY_USER = "harbor_registry_user"


def _external_url(harbor: HarborSettings) -> str:
    return f"https://{harbor.hostname}"


# Harbor's workloads, each with its own placement values in the chart (nginx is not used behind an ingress).
_HARBOR_WORKLOADS = ("portal", "core", "jobservice", "registry", "trivy", "exporter")


def _harbor_values(args: HarborArgs, internal: dict[str, pulumi.Output[str]]) -> dict:
    harbor, storage_class = args.harbor, args.storage_class
    placement = args.placement.chart_values()
    workloads: dict = {workload: dict(placement) for workload in _HARBOR_WORKLOADS}
    return {
        # Its volumes are ReadWriteOnce: a rolling update would wait for ever for the old pod's volume.
        "updateStrategy": {"type": "Recreate"},
        "externalURL": _external_url(harbor),
        "harborAdminPassword": args.admin_password,
        "secretKey": internal["secret-key"],
        **workloads,
        "core": {**workloads["core"], "secret": internal["core-secret"], "xsrfKey": internal["xsrf-key"],
                 "secretName": "harbor-token"},
        "jobservice": {**workloads["jobservice"], "secret": internal["jobservice-secret"]},
        "registry": {**workloads["registry"], "secret": internal["registry-secret"],
                     "credentials": {"username": _HARBOR_REGISTRY_USER,
                                     "existingSecret": "harbor-registry-credentials"}},
        "database": {"internal": {**placement, "password": internal["database-password"]}},
        "redis": {"internal": placement},
        "expose": {
            "type": "ingress",
            "tls": {"enabled": True, "certSource": "secret", "secret": {"secretName": "harbor-tls"}},
            "ingress": {"hosts": {"core": harbor.hostname}, "className": args.ingress_class,
                        "annotations": {"cert-manager.io/cluster-issuer": args.issuer}},
        },
        "persistence": {"persistentVolumeClaim": {
            "registry": {"storageClass": storage_class, "size": harbor.storage_size},
            "database": {"storageClass": storage_class, "size": "5Gi"},
            "jobservice": {"jobLog": {"storageClass": storage_class}},
            "redis": {"storageClass": storage_class},
            "trivy": {"storageClass": storage_class},
        }},
    }
