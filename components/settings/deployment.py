"""The settings of everything on the cluster, and `Settings`, the whole of a stack's settings."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, create_model, model_validator

from components.chart_versions import CHARTS, override_field
from components.settings.platforms import Existing, Gke, Kubeadm, Magnum
from components.settings.stack import LOCAL_STACK
from components.settings.values import (
    BucketName,
    ChartVersion,
    Cidr,
    Cron,
    Days,
    Domain,
    Email,
    HostPort,
    Hours,
    HttpsUrl,
    IngressClassName,
    MemorySize,
    Model,
    Name,
    NonEmpty,
    OneBlockPerChoice,
    PinnedImage,
    Regex,
    SettingError,
    VolumeSize,
    quantity_bytes,
)
from policies.rules import RULES  # the policy pack's one list of rules


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
    existing_class: IngressClassName | None = None


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
    # The provider's endpoints, as its discovery document (<issuer>/.well-known/openid-configuration)
    # names them; unset, Keycloak's layout under the issuer (<issuer>/protocol/openid-connect/...).
    authorize_url: HttpsUrl | None = None
    token_url: HttpsUrl | None = None
    userdata_url: HttpsUrl | None = None
    username_claim: NonEmpty = "preferred_username"
    scopes: list[NonEmpty] = ["openid", "profile", "email"]
    allowed_groups: list[NonEmpty] = []
    allow_all: bool = False

    @model_validator(mode="after")
    def _who(self) -> OidcAuth:
        if not (self.allowed_groups or self.allow_all):
            raise SettingError("allowedGroups", "lists nobody: give allowedGroups or set allowAll: true")
        return self


class Auth(OneBlockPerChoice):
    SELECTOR = "type"

    type: Literal["github", "oidc", "dummy"] = Field(description="github, oidc or dummy (local only)")
    github: GithubAuth | None = None
    oidc: OidcAuth | None = None
    admins: list[NonEmpty] = []

    @model_validator(mode="after")
    def _local_only(self, info: ValidationInfo) -> Auth:
        stack = (info.context or {}).get("stack")
        if self.type == "dummy" and stack != LOCAL_STACK:
            raise SettingError("type", f"'dummy' lets anyone sign in and is allowed only on the "
                                       f"'{LOCAL_STACK}' stack: use github or oidc")
        return self


class ArtifactRegistry(Model):
    repository: Name = "binder"
    untagged_retention_days: int = Field(30, ge=1, le=3650)


class HarborSettings(Model):
    hostname: Domain = Field(description="the Harbor domain, such as registry.binder.example.org")
    project: Name = "binder"
    retention_days: int = Field(30, ge=1, le=3650)
    storage_size: VolumeSize = "200Gi"


class ExternalRegistry(Model):
    url: HttpsUrl = Field(description="the registry URL, such as https://registry.example.org")
    username: NonEmpty = Field(description="the user BinderHub pushes as (its password is in SOPS)")
    image_prefix: NonEmpty = Field(description="where built images go, such as registry.example.org/binder/")


class LocalRegistry(Model):
    """A registry on the cluster's own network over plain HTTP: the one `make up STACK=local` runs
    beside its kind cluster (kind's local-registry setup), which builds push to and nodes pull from."""

    # host[:port], as builds and the nodes' containerd reach it
    host: Annotated[str, Field(pattern=r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$")] = "kind-registry:5000"
    network: Cidr = "172.16.0.0/12"  # where its address lies (Docker's networks): builds may push there


class Registry(OneBlockPerChoice):
    SELECTOR = "type"

    type: Literal["artifact-registry", "harbor", "external", "local"] = Field(
        description="artifact-registry (GKE), harbor, external or local (a laptop's kind registry)")
    artifact_registry: ArtifactRegistry | None = None
    harbor: HarborSettings | None = None
    external: ExternalRegistry | None = None
    local: LocalRegistry | None = None


class Storage(Model):
    user_home_size: VolumeSize = "10Gi"
    hub_db_size: VolumeSize = "1Gi"


class Persistence(Model):
    # Unset: the spawner's own defaults (5, on), defined there only (hub/README.md).
    projects_limit: int | None = Field(None, ge=1, le=100)
    mount_projects: bool | None = None
    # The one image that sees a user's whole volume (see hub/README.md); by default z2jh's
    # network-tools image of the chart's version, which user nodes pull for the chart anyway.
    maintenance_image: PinnedImage | None = None


class Servers(Model):
    cpu_guarantee: float = Field(0.5, gt=0, le=256)
    cpu_limit: float = Field(2, gt=0, le=256)
    memory_guarantee: MemorySize = "1G"
    memory_limit: MemorySize = "4G"
    cull_timeout_seconds: int = Field(3600, ge=60, le=30 * 86400)
    cull_every_seconds: int = Field(600, ge=60, le=86400)
    max_age_seconds: int = Field(0, ge=0, le=365 * 86400)  # 0: no maximum age

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


# Chart version overrides, for trying a newer chart on one stack before pinning it for all: one
# optional key per chart of the table (components/chart_versions.py), such as `binderhubService`.
class BackupSchedule(Model):
    schedule: Cron = Field(description="when, as cron (UTC)")
    retention: Hours = Field(description="how long each backup is kept, in hours, such as 720h")


class GcsStore(Model):
    bucket: BucketName = Field(description="the name of the bucket the stack makes (globally unique)")
    # None: the cluster's region. A multi-region (EU, US) or dual-region survives a region's loss.
    location: NonEmpty | None = None


class S3Store(Model):
    url: HttpsUrl = Field(description="the S3 endpoint, such as https://swift.cloud.example.org or a MinIO or "
                                      "Ceph RGW URL")
    bucket: BucketName = Field(description="an existing bucket on that endpoint")
    region: NonEmpty = "default"  # what S3 APIs other than Amazon's accept
    path_style: bool = True  # https://ENDPOINT/BUCKET, as Swift, MinIO and Ceph serve it


class BackupStore(OneBlockPerChoice):
    SELECTOR = "type"

    type: Literal["gcs", "s3"] = Field(description="where backups go: gcs (a bucket the stack makes, GKE) or s3 "
                                                   "(an S3-compatible endpoint; its keys in the secrets)")
    gcs: GcsStore | None = None
    s3: S3Store | None = None


class Backups(Model):
    store: BackupStore = Field(description="where backups go")
    # Every user's volume daily at 02:00, kept 30 days; the hub database every 6 hours, kept a week.
    volumes: BackupSchedule = BackupSchedule(schedule="0 2 * * *", retention="720h")
    hub_database: BackupSchedule = BackupSchedule(schedule="0 */6 * * *", retention="168h")


class Restore(Model):
    from_backup: Name = Field(description="the Velero backup the hub namespace's volumes are restored from "
                                          "(velero backup get), before JupyterHub is installed")


class EmailAlerts(Model):
    to: Email = Field(description="who gets the alerts")
    sender: Email = Field(description="the alerts' From address")
    smarthost: HostPort = Field(description="the SMTP server, such as smtp.example.org:587 (its password, if "
                                            "any, is alerts_smtp_password in the secrets)")
    username: NonEmpty | None = None


class SlackAlerts(Model):
    channel: NonEmpty = Field(description="the channel, such as #binder-ops (the webhook URL is "
                                          "alerts_slack_webhook_url in the secrets)")


class WebhookAlerts(Model):
    url: HttpsUrl = Field(description="where Alertmanager posts each alert")


class AlertRoute(OneBlockPerChoice):
    SELECTOR = "type"

    type: Literal["none", "email", "slack", "webhook"] = "none"
    email: EmailAlerts | None = None
    slack: SlackAlerts | None = None
    webhook: WebhookAlerts | None = None


class Monitoring(Model):
    grafana_host: Domain = Field(description="Grafana's domain, such as grafana.binder.example.org")
    retention: Days = "15d"  # how long Prometheus keeps what it scraped
    storage_size: VolumeSize = "20Gi"
    alerts: AlertRoute = AlertRoute()


class PolicySettings(Model):
    downgrade: dict[str, Annotated[str, Field(min_length=20)]] = Field(
        default_factory=dict, description="mandatory rules of the policy pack made advisory on this stack, each "
                                          "with the written reason (at least 20 characters) every report shows")

    @model_validator(mode="after")
    def _known_mandatory_rules(self) -> PolicySettings:
        mandatory = [rule.name for rule in RULES if not rule.advisory]
        for name in self.downgrade:
            if name not in mandatory:
                raise SettingError(f"downgrade.{name}", f"is no mandatory rule of the policy pack; the mandatory "
                                                        f"rules are: {', '.join(mandatory)}")
        return self


Charts = create_model("Charts", __base__=Model, __doc__="Chart version overrides, one per chart of the table.",
                      **{override_field(name): (ChartVersion | None, None) for name in CHARTS})


class Settings(OneBlockPerChoice):
    SELECTOR = "platform"

    platform: Literal["gke", "magnum", "kubeadm", "existing"] = Field(description="where the cluster comes from")
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
    policy: PolicySettings = PolicySettings()
    backups: Backups | None = None
    monitoring: Monitoring | None = None
    restore: Restore | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.registry.type == "artifact-registry" and self.platform != "gke":
            raise SettingError("registry.type", "'artifact-registry' needs platform 'gke': use harbor or external")
        if self.registry.type == "local" and self.platform != "existing":
            raise SettingError("registry.type", "'local' (a plain-HTTP registry beside a laptop's cluster) is for "
                                                "an existing cluster only: use harbor or external")
        if self.registry.type == "harbor" and self.registry.harbor.hostname in (self.domains.hub, self.domains.binder):
            raise SettingError("registry.harbor.hostname", "is the hub's or BinderHub's domain: Harbor needs a "
                                                          "domain of its own, such as registry.binder.example.org")
        if self.registry.type == "harbor" and self.tls.issuer == "none":
            raise SettingError("tls.issuer", "is 'none', but Harbor is served over https only: set tls.issuer "
                                             "to letsencrypt-staging or letsencrypt-production, and tls.email")
        if self.platform == "kubeadm" and self.hub_database.type == "sqlite":
            raise SettingError("hubDatabase.type", "is 'sqlite', but on kubeadm the hub database's volume is on "
                                                   "NFS, where SQLite is not safe (as JupyterHub warns): set "
                                                   "hubDatabase.type to postgres and hub_database_url in the secrets")
        if self.backups and self.backups.store.type == "gcs" and self.platform != "gke":
            raise SettingError("backups.store.type", "'gcs' (a bucket the stack makes) needs platform 'gke': use "
                                                     "s3, an S3-compatible endpoint")
        if self.backups and self.platform == "existing" and not self.existing.snapshot_driver:
            raise SettingError("backups", "would see only the volumes of running servers: on an existing cluster, "
                                          "backups reach idle users' volumes through CSI snapshots, so set "
                                          "existing.snapshotDriver to the volumes' CSI driver if it takes "
                                          "snapshots (local-path and hostPath volumes cannot be backed up idle)")
        if self.restore and not self.backups:
            raise SettingError("restore", "restores from the stack's backups, but the stack has no backups block: "
                                          "set backups (the same store the backup was made to)")
        if self.tls.issuer == "none" and self.platform != "existing":
            raise SettingError("tls.issuer", "is 'none' (plain HTTP, the default), which is for local "
                                             "clusters only: set tls.issuer to letsencrypt-staging or "
                                             "letsencrypt-production, and tls.email")
        return self
