"""Typed stack settings: every setting an operator gives per environment.

The settings live in `stacks/Pulumi.<stack>.yaml` under the project namespace
(`persistent-binderhub:<key>`). Pulumi hands them to the program as strings,
objects JSON-encoded; `parse_settings` turns them into one validated, frozen
`Settings` object or raises a single `OperatorError` listing every mistake with
its stack file and key path.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import pulumi
from pulumi.runtime import config as runtime_config
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic.alias_generators import to_camel

from components.errors import OperatorError

PROJECT = "persistent-binderhub"
DEMO_STACK_PREFIX = "example-"
LOCAL_STACK = "local"


def is_example_stack(stack: str) -> bool:
    """Example stacks (and `local`) may use the public test-only age key."""
    return stack.startswith(DEMO_STACK_PREFIX) or stack == LOCAL_STACK


def stack_file(stack: str) -> str:
    """The stack file as operators know it, relative to the project root."""
    return f"stacks/Pulumi.{stack}.yaml"


class SettingError(ValueError):
    """A cross-field mistake that belongs to a key below the model raising it."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


# --- value types ------------------------------------------------------------

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|K|M|G|T)?$")
_QUANTITY_FACTORS = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
                     "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_K8S_VERSION = re.compile(r"^1\.[0-9]+\.[0-9]+$")
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_GCP_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_GCP_REGION = re.compile(r"^[a-z]+-[a-z]+[0-9]+$")
_GCP_MACHINE_TYPE = re.compile(r"^[a-z][a-z0-9]*-(standard|highmem|highcpu|highgpu|megamem|ultramem|micro|small|"
                               r"medium|custom)(-[0-9]+){0,2}(-ext)?$")
_MINOR_VERSION = re.compile(r"^1\.[0-9]+$")
_CHART_VERSION = re.compile(r"^v?[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$")
# An image with a tag or a digest: what runs with a user's whole volume is never a moving `latest`.
_PINNED_IMAGE = re.compile(r"[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-]{1,2}[a-z0-9]+)*)*"
                           r"(:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}|@sha256:[a-f0-9]{64}|"
                           r":[A-Za-z0-9_][A-Za-z0-9._-]{0,127}@sha256:[a-f0-9]{64})")


def _matching(pattern: re.Pattern[str], expected: str):
    def check(value: str) -> str:
        if not pattern.fullmatch(value):  # not match: `$` would let a trailing newline through
            raise ValueError(f"{value!r} is not valid: expected {expected}")
        return value

    return AfterValidator(check)


def _cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=True))
    except ValueError:
        raise ValueError(f"{value!r} is not valid: expected a network in CIDR form such as 10.0.0.0/20") from None


def _https_url(value: str) -> str:
    if not re.fullmatch(r"https://[a-z0-9.-]+(:[0-9]+)?(/\S*)?", value):
        raise ValueError(f"{value!r} is not valid: expected an https:// URL")
    return value


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"{value!r} is not a valid regular expression: {exc}") from None
    return value


def quantity_bytes(quantity: str) -> float:
    """A Kubernetes memory/storage quantity such as `4Gi` in bytes."""
    number, unit = re.match(r"^([0-9.]+)([A-Za-z]*)$", quantity).groups()
    return float(number) * _QUANTITY_FACTORS[unit]


Domain = Annotated[str, _matching(_DOMAIN, "a lower-case DNS name such as hub.example.org")]
Quantity = Annotated[str, _matching(_QUANTITY, "a Kubernetes quantity such as 10Gi or 512Mi")]
Email = Annotated[str, _matching(_EMAIL, "an e-mail address such as ops@example.org")]
KubernetesVersion = Annotated[str, _matching(_K8S_VERSION, "a Kubernetes version such as 1.31.4 (quoted)")]
Name = Annotated[str, _matching(_NAME, "a lower-case name of letters, digits and dashes")]
Cidr = Annotated[str, AfterValidator(_cidr)]
HttpsUrl = Annotated[str, AfterValidator(_https_url)]
Regex = Annotated[str, AfterValidator(_regex)]
ChartVersion = Annotated[str, _matching(_CHART_VERSION, "a chart version such as 4.4.0 or v1.21.1")]
NonEmpty = Annotated[str, Field(min_length=1)]
PinnedImage = Annotated[str, _matching(_PINNED_IMAGE, "an image with a tag or digest, such as "
                                                      "quay.io/jupyterhub/k8s-network-tools:4.4.0")]


class Model(BaseModel):
    """Base of every settings block: camelCase keys, unknown keys refused, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel, validate_default=True,
                              allow_inf_nan=False)


def _check_selected_block(model: type[BaseModel], data: Any, selector: str, blocks: Mapping[str, str]) -> Any:
    """Exactly the block named by `selector` is given, and no block of another choice.

    Runs on the raw input (a `before` validator), so a misplaced block is reported
    as such rather than as a list of its missing keys. `blocks` maps each choice
    that has a block to that block's field name.
    """
    choices = typing.get_args(model.model_fields[selector].annotation)
    selected = data.get(selector) if isinstance(data, dict) else None
    if selected not in choices:
        return data  # the field's own validation reports it
    for choice, field in blocks.items():
        key = model.model_fields[field].alias
        present = data.get(key) is not None
        if present and choice != selected:
            raise SettingError(
                key, f"is the block for {selector} '{choice}', but {selector} is '{selected}': "
                     f"remove this block or set {selector} to '{choice}'")
        if not present and choice == selected:
            raise SettingError(key, f"is required when {selector} is '{selected}'")
    return data


# --- platforms --------------------------------------------------------------

class ScalingGroup(Model):
    """A group of nodes the autoscaler keeps between min_nodes and max_nodes."""

    min_nodes: int
    max_nodes: int

    @model_validator(mode="after")
    def _bounds(self) -> ScalingGroup:
        if self.min_nodes > self.max_nodes:
            raise SettingError("minNodes", f"is {self.min_nodes}, above maxNodes {self.max_nodes}")
        return self


class NodePool(ScalingGroup):
    machine_type: Annotated[str, _matching(_GCP_MACHINE_TYPE, "a GCE machine type such as e2-standard-4 "
                                                              "or n2-custom-4-16384")] = Field(
        description="a machine type such as e2-standard-4")
    disk_size_gb: int = Field(100, ge=20)
    min_nodes: int = Field(ge=0, description="the smallest number of nodes (0 lets the pool scale to zero)")
    max_nodes: int = Field(ge=1, description="the largest number of nodes the autoscaler may add")
    spot: bool = False


class GkeNodePools(Model):
    core: NodePool = Field(description="the pool for the hub, proxy and BinderHub")
    user: NodePool = Field(description="the pool for user servers")
    build: NodePool | None = None


class GkeNetwork(Model):
    subnet_cidr: Cidr = "10.0.0.0/20"
    pods_cidr: Cidr = "10.8.0.0/14"
    services_cidr: Cidr = "10.4.0.0/19"


class Gke(Model):
    project: Annotated[str, _matching(_GCP_PROJECT, "a GCP project id such as my-binder-123")] = Field(
        description="the GCP project id")
    region: Annotated[str, _matching(_GCP_REGION, "a GCP region such as europe-west1")] = Field(
        description="the GCP region, such as europe-west1")
    zone: str | None = None
    regional: bool = False
    release_channel: Literal["RAPID", "REGULAR", "STABLE"] = "REGULAR"
    # The oldest control-plane version accepted; the release channel upgrades from there.
    min_master_version: Annotated[str, _matching(_MINOR_VERSION, "a minor version such as '1.32'")] = "1.32"
    private_nodes: bool = False
    network: GkeNetwork = GkeNetwork()
    node_pools: GkeNodePools = Field(description="the core, user and (optional) build node pools")

    @model_validator(mode="after")
    def _location(self) -> Gke:
        if self.regional and self.zone:
            raise SettingError("zone", "must not be set for a regional cluster (regional: true)")
        if not self.regional and not self.zone:
            raise SettingError("zone", f"is required for a zonal cluster: a zone of {self.region}, "
                                       f"such as {self.region}-b (or set regional: true)")
        if self.zone and not re.match(rf"^{re.escape(self.region)}-[a-z]$", self.zone):
            raise SettingError("zone", f"{self.zone!r} is not a zone of region {self.region}")
        return self


class MagnumNodeGroup(ScalingGroup):
    flavor: NonEmpty = Field(description="an OpenStack flavor such as m1.large")
    min_nodes: int = Field(1, ge=1)  # Magnum refuses node groups that scale to zero
    max_nodes: int = Field(ge=1, description="the largest number of nodes")


class MagnumNodeGroups(Model):
    core: MagnumNodeGroup = Field(description="the node group for the hub, proxy and BinderHub")
    user: MagnumNodeGroup = Field(description="the node group for user servers and builds")


class Magnum(Model):
    auth_url: HttpsUrl = Field(description="the Keystone URL, such as https://keystone.example.org:5000/v3")
    region: NonEmpty = Field(description="the OpenStack region")
    application_credential_id: NonEmpty = Field(description="the application credential id (its secret is in SOPS)")
    image: NonEmpty = Field(description="the Glance image of the nodes (Cluster API driver), such as "
                                        "ubuntu-jammy-kube-v1.31.4")
    external_network: NonEmpty = Field(description="the external network for floating IPs")
    keypair_public_key: NonEmpty = Field(description="the SSH public key installed on the nodes")
    kubernetes_version: KubernetesVersion = Field(description="the Kubernetes version, such as '1.31.4'")
    master_flavor: NonEmpty = Field(description="the flavor of the control-plane nodes")
    master_count: Literal[1, 3] = 1
    network_driver: Literal["calico", "flannel"] = "calico"
    labels: dict[str, str] = {}
    node_groups: MagnumNodeGroups = Field(description="the core and user node groups")


class ControlPlaneHost(Model):
    name: Name = Field(description="the node name")
    address: NonEmpty = Field(description="the address SSH connects to")


class WorkerHost(ControlPlaneHost):
    role: Literal["core", "user", "build"] = Field(description="what runs on it: core, user or build")


class Ssh(Model):
    user: NonEmpty = "root"
    port: int = Field(22, ge=1, le=65535)


class Nfs(Model):
    server: NonEmpty = Field(description="the NFS server's address")
    path: Annotated[str, Field(pattern=r"^/")] = Field(description="the exported path, such as /srv/binder")


class Kubeadm(Model):
    kubernetes_version: KubernetesVersion = Field(description="the Kubernetes version, such as '1.31.4'")
    control_plane_endpoint: NonEmpty = Field(description="host[:port] of the API server, shared by control planes")
    control_planes: list[ControlPlaneHost] = Field(description="1 or 3 control-plane hosts")
    workers: list[WorkerHost] = Field(min_length=1, description="the worker hosts, each with a role")
    ssh: Ssh = Ssh()
    pod_subnet: Cidr = "192.168.0.0/16"
    service_subnet: Cidr = "10.96.0.0/12"
    cni: Literal["calico", "cilium"] = "calico"
    metallb_addresses: list[NonEmpty] = Field(
        min_length=1, description="address ranges MetalLB may hand out, such as 192.0.2.10-192.0.2.20")
    nfs: Nfs = Field(description="the NFS export holding user volumes")

    @model_validator(mode="after")
    def _hosts(self) -> Kubeadm:
        if len(self.control_planes) not in (1, 3):
            raise SettingError("controlPlanes", f"lists {len(self.control_planes)} hosts: expected 1 or 3")
        hosts = [*self.control_planes, *self.workers]
        for field, plural in (("name", "names"), ("address", "addresses")):
            values = [getattr(host, field) for host in hosts]
            duplicates = sorted({value for value in values if values.count(value) > 1})
            if duplicates:
                raise SettingError("workers", f"host {plural} must be unique: {', '.join(duplicates)} "
                                              f"appear more than once")
        if not any(worker.role == "core" for worker in self.workers):
            raise SettingError("workers", "needs at least one worker with role 'core'")
        return self


class Existing(Model):
    kubeconfig: NonEmpty | None = None  # None: $KUBECONFIG or ~/.kube/config, as kubectl finds it
    context: NonEmpty | None = None  # None: the kubeconfig's current context
    kubernetes_version: Annotated[str, _matching(_MINOR_VERSION, "a minor version such as '1.31'")] = "1.31"
    # The cluster's own volume provisioner, for the user-homes and hub-db classes:
    # rancher.io/local-path on kind and k3d, k8s.io/minikube-hostpath on minikube.
    storage_provisioner: NonEmpty = "rancher.io/local-path"
    storage_parameters: dict[str, str] = {}
    # Or a storage class the cluster has already, used as it is: its reclaimPolicy is then
    # the operator's to check (Retain keeps user data when a claim goes).
    storage_class: NonEmpty | None = None


PLATFORM_BLOCKS = {"gke": "gke", "magnum": "magnum", "kubeadm": "kubeadm", "existing": "existing"}


# --- the rest of the deployment ---------------------------------------------

class Domains(Model):
    hub: Domain = Field(description="the JupyterHub domain, such as hub.binder.example.org")
    binder: Domain = Field(description="the BinderHub domain, such as binder.example.org")

    @model_validator(mode="after")
    def _distinct(self) -> Domains:
        if self.hub == self.binder:
            raise SettingError("binder", f"equals the hub domain {self.hub!r}: JupyterHub and BinderHub "
                                         "need a domain each")
        return self


class Tls(Model):
    issuer: Literal["letsencrypt-production", "letsencrypt-staging", "none"] = "none"
    email: Email | None = None

    @model_validator(mode="after")
    def _contact(self) -> Tls:
        if self.issuer != "none" and not self.email:
            raise SettingError("email", "is required for Let's Encrypt: the ACME contact address")
        return self


class IngressSettings(Model):
    # The IngressClass of a controller the cluster has already; then no Traefik is installed.
    existing_class: Annotated[str, _matching(_NAME, "an IngressClass name such as nginx")] | None = None


class GithubAuth(Model):
    client_id: NonEmpty = Field(description="the GitHub OAuth app's client id (its secret is in SOPS)")
    allowed_organizations: list[NonEmpty] = []
    allowed_users: list[NonEmpty] = []
    allow_all: bool = False

    @model_validator(mode="after")
    def _who(self) -> GithubAuth:
        if not (self.allowed_organizations or self.allowed_users or self.allow_all):
            raise SettingError("allowedOrganizations", "lists nobody: give allowedOrganizations or "
                                                       "allowedUsers, or set allowAll: true")
        return self


class OidcAuth(Model):
    client_id: NonEmpty = Field(description="the OpenID Connect client id (its secret is in SOPS)")
    issuer_url: HttpsUrl = Field(description="the issuer URL, such as https://sso.example.org/realms/binder")
    username_claim: NonEmpty = "preferred_username"
    scopes: list[NonEmpty] = ["openid", "profile", "email"]
    allowed_groups: list[NonEmpty] = []
    allow_all: bool = False

    @model_validator(mode="after")
    def _who(self) -> OidcAuth:
        if not (self.allowed_groups or self.allow_all):
            raise SettingError("allowedGroups", "lists nobody: give allowedGroups or set allowAll: true")
        return self


class Auth(Model):
    type: Literal["github", "oidc", "dummy"] = Field(description="github, oidc or dummy (local only)")
    github: GithubAuth | None = None
    oidc: OidcAuth | None = None
    admins: list[NonEmpty] = []

    @model_validator(mode="before")
    @classmethod
    def _block(cls, data: Any) -> Any:
        return _check_selected_block(cls, data, "type", {"github": "github", "oidc": "oidc"})

    @model_validator(mode="after")
    def _local_only(self, info: ValidationInfo) -> Auth:
        stack = (info.context or {}).get("stack")
        if self.type == "dummy" and stack != LOCAL_STACK:
            raise SettingError("type", f"'dummy' lets anyone sign in and is allowed only on the "
                                       f"'{LOCAL_STACK}' stack: use github or oidc")
        return self


class ArtifactRegistry(Model):
    repository: Name = "binder"
    untagged_retention_days: int = Field(30, ge=1)


class HarborSettings(Model):
    hostname: Domain = Field(description="the Harbor domain, such as registry.binder.example.org")
    project: Name = "binder"
    retention_days: int = Field(30, ge=1)
    storage_size: Quantity = "200Gi"


class ExternalRegistry(Model):
    url: HttpsUrl = Field(description="the registry URL, such as https://registry.example.org")
    username: NonEmpty = Field(description="the user BinderHub pushes as (its password is in SOPS)")
    image_prefix: NonEmpty = Field(description="where built images go, such as registry.example.org/binder/")


REGISTRY_BLOCKS = {"artifact-registry": "artifact_registry", "harbor": "harbor", "external": "external"}


class Registry(Model):
    type: Literal["artifact-registry", "harbor", "external", "none"] = Field(
        description="artifact-registry (GKE), harbor, external or none (local images, existing clusters)")
    artifact_registry: ArtifactRegistry | None = None
    harbor: HarborSettings | None = None
    external: ExternalRegistry | None = None

    @model_validator(mode="before")
    @classmethod
    def _block(cls, data: Any) -> Any:
        return _check_selected_block(cls, data, "type", REGISTRY_BLOCKS)


class Storage(Model):
    user_home_size: Quantity = "10Gi"
    hub_db_size: Quantity = "1Gi"


class Persistence(Model):
    # Unset: the spawner's own defaults (5, on), defined there only (hub/README.md).
    projects_limit: int | None = Field(None, ge=1)
    mount_projects: bool | None = None
    # The one image that sees a user's whole volume (see hub/README.md); by default z2jh's
    # network-tools image of the chart's version, which user nodes pull for the chart anyway.
    maintenance_image: PinnedImage | None = None


class Servers(Model):
    cpu_guarantee: float = Field(0.5, gt=0)
    cpu_limit: float = Field(2, gt=0)
    memory_guarantee: Quantity = "1G"
    memory_limit: Quantity = "4G"
    cull_timeout_seconds: int = Field(3600, ge=60)
    cull_every_seconds: int = Field(600, ge=60)
    max_age_seconds: int = Field(0, ge=0)  # 0: no maximum age

    @model_validator(mode="after")
    def _limits(self) -> Servers:
        if self.cpu_guarantee > self.cpu_limit:
            raise SettingError("cpuGuarantee", f"is {self.cpu_guarantee}, above cpuLimit {self.cpu_limit}")
        if quantity_bytes(self.memory_guarantee) > quantity_bytes(self.memory_limit):
            raise SettingError("memoryGuarantee",
                               f"is {self.memory_guarantee}, above memoryLimit {self.memory_limit}")
        return self


class Binder(Model):
    banned_specs: list[Regex] = []
    allowed_specs: list[Regex] = []


class HubDatabase(Model):
    type: Literal["sqlite", "postgres"] = "sqlite"


class Charts(Model):
    """Chart version overrides, for trying a newer chart on one stack before pinning it for all."""

    jupyterhub: ChartVersion | None = None
    binderhub_service: ChartVersion | None = None
    cert_manager: ChartVersion | None = None
    traefik: ChartVersion | None = None
    harbor: ChartVersion | None = None
    nfs_subdir_external_provisioner: ChartVersion | None = None
    metallb: ChartVersion | None = None
    cilium: ChartVersion | None = None
    calico: ChartVersion | None = None


class Settings(Model):
    platform: Literal["gke", "magnum", "kubeadm", "existing"] = Field(
        description="where the cluster comes from: gke, magnum, kubeadm or existing")
    gke: Gke | None = None
    magnum: Magnum | None = None
    kubeadm: Kubeadm | None = None
    existing: Existing | None = None
    domains: Domains = Field(description="the hub and binder domains")
    tls: Tls = Tls()
    ingress: IngressSettings = IngressSettings()
    auth: Auth = Field(description="how users sign in (type: github, oidc or dummy)")
    registry: Registry = Field(description="where BinderHub pushes images (type: ...)")
    storage: Storage = Storage()
    persistence: Persistence = Persistence()
    servers: Servers = Servers()
    binder: Binder = Binder()
    hub_database: HubDatabase = HubDatabase()
    charts: Charts = Charts()

    @model_validator(mode="before")
    @classmethod
    def _block(cls, data: Any) -> Any:
        return _check_selected_block(cls, data, "platform", PLATFORM_BLOCKS)

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.registry.type == "artifact-registry" and self.platform != "gke":
            raise SettingError("registry.type", "'artifact-registry' needs platform 'gke': use harbor or external")
        if self.registry.type == "none" and self.platform != "existing":
            raise SettingError("registry.type", "'none' works only on an existing cluster that can load "
                                                "local images: use harbor or external")
        if self.registry.type == "harbor" and self.tls.issuer == "none":
            raise SettingError("tls.issuer", "is 'none', but Harbor is served over https only: set tls.issuer "
                                             "to letsencrypt-staging or letsencrypt-production, and tls.email")
        if self.tls.issuer == "none" and self.platform != "existing":
            raise SettingError("tls.issuer", "is 'none' (plain HTTP, the default), which is for local "
                                             "clusters only: set tls.issuer to letsencrypt-staging or "
                                             "letsencrypt-production, and tls.email")
        return self


# --- reading and explaining -------------------------------------------------

def _decode(raw: Any) -> Any:
    """Pulumi passes objects and lists JSON-encoded and scalars as strings."""
    if isinstance(raw, str) and raw.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw
    return raw


def parse_settings(config: Mapping[str, Any], stack: str) -> Settings:
    """Validate the project's keys of a stack's config; raise one OperatorError for every mistake."""
    prefix = f"{PROJECT}:"
    data = {key[len(prefix):]: _decode(value) for key, value in config.items() if key.startswith(prefix)}
    try:
        return Settings.model_validate(data, context={"stack": stack})
    except ValidationError as exc:
        problems = "\n".join(f"  - {line}" for line in _explain(exc))
        raise OperatorError(
            f"{stack_file(stack)}: the stack settings have {exc.error_count()} problem(s):\n{problems}\n"
            f"Fix them in {stack_file(stack)} (keys under '{PROJECT}:'); nothing was deployed.") from None


def load_settings() -> Settings:
    """The settings of the stack Pulumi is running."""
    config = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    return parse_settings(config, pulumi.get_stack())


def _explain(exc: ValidationError) -> list[str]:
    lines = []
    for error in exc.errors():
        loc = list(error["loc"])
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, SettingError):
            loc += cause.key.split(".")
            message = str(cause)
        elif error["type"] == "missing":
            field = _field_at(loc)
            message = "is required" + (f": {field.description}" if field and field.description else "")
        elif error["type"] == "extra_forbidden":
            message = _unknown_key_message(loc)
        else:
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] != "value_error":  # our own validators name the value already
                message += f", got {_shorten(error['input'])}"
        lines.append(f"{_key_path(loc)}: {message}")
    return lines


def _key_path(loc: list) -> str:
    path = f"{PROJECT}:{loc[0]}" if loc else PROJECT
    for part in loc[1:]:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _shorten(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _unknown_key_message(loc: list) -> str:
    model = _model_at(loc[:-1])
    known = sorted(field.alias for field in model.model_fields.values()) if model else []
    message = "is not a known setting"
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    if close:
        message += f"; did you mean '{close[0]}'?"
    if known:
        message += f" (known here: {', '.join(known)})"
    return message


def _model_at(loc: list) -> type[BaseModel] | None:
    """The settings model that holds the keys at `loc` (list indices skipped)."""
    model: type[BaseModel] | None = Settings
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        field = _field_by_alias(model, part)
        model = _inner_model(field.annotation) if field else None
    return model


def _field_at(loc: list):
    model = _model_at(loc[:-1])
    return _field_by_alias(model, loc[-1]) if model and loc else None


def _field_by_alias(model: type[BaseModel], alias: Any):
    return next((f for f in model.model_fields.values() if f.alias == alias), None)


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    """The model inside `X | None`, `list[X]` or `Annotated[X, ...]`, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, typing.Annotated):
        for arg in typing.get_args(annotation):
            inner = _inner_model(arg)
            if inner:
                return inner
    return None
