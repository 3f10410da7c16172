"""Pydantic models of the stack file, as a user writes it (short and long syntaxes).

They check the structure of every file (unknown keys, wrong types, bad ports) and
generate the JSON schema editors use, which marks the attributes compose knows but
stackup cannot run yet (from the table in `support.py`, which `up` refuses by).
"""

from __future__ import annotations

from typing import Any, Literal, Optional, Union

from typing import Annotated

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints,
                      field_validator, model_validator)

from stackup.shortsyntax import SyntaxProblem, parse_ports

def _unique(items: list) -> list:
    seen: list[Any] = []
    for index, item in enumerate(items):
        if item in seen:
            raise ValueError(f"\"{item}\" is listed twice (items {seen.index(item)} and {index})")
        seen.append(item)
    return items


_UNIQUE = Field(json_schema_extra={"uniqueItems": True})
# lists compose requires to hold each item once (`uniqueItems` in its schema)
UniqueStrings = Annotated[list[str], AfterValidator(_unique), _UNIQUE]

Scalar = Union[str, int, float, bool, None]
Key = Annotated[str, StringConstraints(pattern=r".+")]
ListOrDict = Union[dict[Key, Scalar], UniqueStrings]
StringOrList = Union[str, list[str]]
IntOrStr = Union[int, str]
NumOrStr = Union[int, float, str]
BoolOrStr = Union[bool, str]
# names compose accepts for services and top-level resources, and for container_name
Name = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9._-]+$")]
ContainerName = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")]


class Strict(BaseModel):
    """Unknown keys are errors; `x-*` extension keys are allowed anywhere."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True,
                              json_schema_extra={"patternProperties": {"^x-": {}}})

    @model_validator(mode="before")
    @classmethod
    def _drop_extensions(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(isinstance(k, str) and k.startswith("x-") for k in data):
            return {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("x-"))}
        return data


# -- service parts -----------------------------------------------------------------

class BuildSecret(Strict):
    source: str
    target: Optional[str] = None
    uid: Optional[str] = None
    gid: Optional[str] = None
    mode: Optional[NumOrStr] = None


class Ulimit(Strict):
    soft: IntOrStr
    hard: IntOrStr


class Build(Strict):
    context: Optional[str] = None
    dockerfile: Optional[str] = None
    dockerfile_inline: Optional[str] = None
    entitlements: Optional[UniqueStrings] = None
    args: Optional[ListOrDict] = None
    ssh: Optional[ListOrDict] = None
    labels: Optional[ListOrDict] = None
    cache_from: Optional[UniqueStrings] = None
    cache_to: Optional[UniqueStrings] = None
    no_cache: Optional[BoolOrStr] = None
    no_cache_filter: Optional[StringOrList] = None
    additional_contexts: Optional[ListOrDict] = None
    network: Optional[str] = None
    provenance: Optional[Union[str, bool]] = None
    sbom: Optional[Union[str, bool]] = None
    pull: Optional[BoolOrStr] = None
    target: Optional[str] = None
    shm_size: Optional[IntOrStr] = None
    extra_hosts: Optional[Union[UniqueStrings, dict[str, Union[str, list[str]]]]] = None
    isolation: Optional[str] = None
    privileged: Optional[BoolOrStr] = None
    secrets: Optional[list[Union[str, BuildSecret]]] = None
    tags: Optional[UniqueStrings] = None
    ulimits: Optional[dict[str, Union[IntOrStr, Ulimit]]] = None
    platforms: Optional[UniqueStrings] = None


class DependsOnEntry(Strict):
    condition: Literal["service_started", "service_healthy", "service_completed_successfully"] = \
        "service_started"
    required: Optional[BoolOrStr] = True
    restart: Optional[BoolOrStr] = None


class Healthcheck(Strict):
    disable: Optional[BoolOrStr] = None
    test: Optional[StringOrList] = None
    interval: Optional[str] = None
    timeout: Optional[str] = None
    start_period: Optional[str] = None
    start_interval: Optional[str] = None
    retries: Optional[NumOrStr] = None


class DeviceRequest(Strict):
    capabilities: Optional[UniqueStrings] = None
    count: Optional[IntOrStr] = None
    device_ids: Optional[UniqueStrings] = None
    driver: Optional[str] = None
    options: Optional[ListOrDict] = None


class DiscreteResource(Strict):
    kind: Optional[str] = None
    value: Optional[NumOrStr] = None


class GenericResource(Strict):
    discrete_resource_spec: Optional[DiscreteResource] = None


class Resources(Strict):
    cpus: Optional[NumOrStr] = None
    memory: Optional[IntOrStr] = None
    pids: Optional[IntOrStr] = None
    devices: Optional[list[DeviceRequest]] = None
    generic_resources: Optional[list[GenericResource]] = None


class UpdateConfig(Strict):
    parallelism: Optional[IntOrStr] = None
    delay: Optional[str] = None
    failure_action: Optional[str] = None
    monitor: Optional[str] = None
    max_failure_ratio: Optional[NumOrStr] = None
    order: Optional[Literal["start-first", "stop-first"]] = None


class Placement(Strict):
    constraints: Optional[UniqueStrings] = None
    preferences: Optional[list[dict[str, str]]] = None
    max_replicas_per_node: Optional[IntOrStr] = None


class Hook(Strict):
    command: Union[str, list[str]]
    user: Optional[str] = None
    privileged: Optional[BoolOrStr] = None
    working_dir: Optional[str] = None
    environment: Optional[ListOrDict] = None


class Watch(Strict):
    path: str
    action: Literal["rebuild", "sync", "restart", "sync+restart", "sync+exec"]
    target: Optional[str] = None
    ignore: Optional[StringOrList] = None
    include: Optional[StringOrList] = None
    exec: Optional[Hook] = None
    initial_sync: Optional[BoolOrStr] = None


class Develop(Strict):
    watch: Optional[list[Watch]] = None


class BlkioLimit(Strict):
    path: Optional[str] = None
    rate: Optional[IntOrStr] = None


class BlkioWeight(Strict):
    path: Optional[str] = None
    weight: Optional[IntOrStr] = None


class BlkioConfig(Strict):
    device_read_bps: Optional[list[BlkioLimit]] = None
    device_read_iops: Optional[list[BlkioLimit]] = None
    device_write_bps: Optional[list[BlkioLimit]] = None
    device_write_iops: Optional[list[BlkioLimit]] = None
    weight: Optional[IntOrStr] = None
    weight_device: Optional[list[BlkioWeight]] = None


class CredentialSpec(Strict):
    config: Optional[str] = None
    file: Optional[str] = None
    registry: Optional[str] = None


ProviderOption = Union[str, int, float, bool, list[Union[str, int, float, bool]]]


class Provider(Strict):
    type: str
    options: Optional[dict[str, ProviderOption]] = None


class DeployResources(Strict):
    limits: Optional[Resources] = None
    reservations: Optional[Resources] = None


class RestartPolicy(Strict):
    condition: Optional[str] = None
    delay: Optional[str] = None
    max_attempts: Optional[IntOrStr] = None
    window: Optional[str] = None


class Deploy(Strict):
    mode: Optional[str] = None
    endpoint_mode: Optional[str] = None
    replicas: Optional[IntOrStr] = None
    labels: Optional[ListOrDict] = None
    rollback_config: Optional[UpdateConfig] = None
    update_config: Optional[UpdateConfig] = None
    resources: Optional[DeployResources] = None
    restart_policy: Optional[RestartPolicy] = None
    placement: Optional[Placement] = None


class EnvFileEntry(Strict):
    path: str
    required: Optional[BoolOrStr] = True
    format: Optional[str] = None


class Logging(Strict):
    driver: Optional[str] = None
    options: Optional[dict[str, Union[str, int, float, None]]] = None


class ServiceNetwork(Strict):
    aliases: Optional[UniqueStrings] = None
    ipv4_address: Optional[str] = None
    ipv6_address: Optional[str] = None
    link_local_ips: Optional[UniqueStrings] = None
    mac_address: Optional[str] = None
    driver_opts: Optional[dict[str, Union[str, int, float]]] = None
    priority: Optional[int] = None
    gw_priority: Optional[int] = None
    interface_name: Optional[str] = None


class PortLong(Strict):
    name: Optional[str] = None
    mode: Optional[str] = None
    host_ip: Optional[str] = None
    target: Optional[IntOrStr] = None
    published: Optional[IntOrStr] = None
    protocol: Optional[str] = None
    app_protocol: Optional[str] = None

    @field_validator("target", "published")
    @classmethod
    def _port_number(cls, value):
        if isinstance(value, int) and not 0 <= value <= 65535:
            raise ValueError(f"\"{value}\" is not a valid port (1-65535)")
        return value


class VolumeBind(Strict):
    propagation: Optional[str] = None
    create_host_path: Optional[BoolOrStr] = None
    recursive: Optional[str] = None
    selinux: Optional[Literal["z", "Z"]] = None


class VolumeVolume(Strict):
    labels: Optional[ListOrDict] = None
    nocopy: Optional[BoolOrStr] = None
    subpath: Optional[str] = None


class VolumeTmpfs(Strict):
    size: Optional[IntOrStr] = None
    mode: Optional[NumOrStr] = None


class VolumeImage(Strict):
    subpath: Optional[str] = None


class VolumeLong(Strict):
    type: Literal["bind", "volume", "tmpfs", "cluster", "npipe", "image"]
    source: Optional[str] = None
    target: Optional[str] = None
    read_only: Optional[BoolOrStr] = None
    consistency: Optional[str] = None
    bind: Optional[VolumeBind] = None
    volume: Optional[VolumeVolume] = None
    tmpfs: Optional[VolumeTmpfs] = None
    image: Optional[VolumeImage] = None


class FileRef(Strict):
    """A service's reference to a top-level secret or config (long syntax)."""

    source: str
    target: Optional[str] = None
    uid: Optional[str] = None
    gid: Optional[str] = None
    mode: Optional[NumOrStr] = None


class DeviceLong(Strict):
    source: str
    target: Optional[str] = None
    permissions: Optional[str] = None


class ExtendsLong(Strict):
    service: str
    file: Optional[str] = None


def _check_port(value: Any) -> Any:
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        if isinstance(value, int) and not 0 <= value <= 65535:
            raise ValueError(f"\"{value}\" is not a valid port (1-65535)")
        if isinstance(value, str):
            try:
                parse_ports(value)
            except SyntaxProblem as exc:
                raise ValueError(str(exc)) from None
    return value


class ServiceModel(Strict):
    """One service, as written in a stack file (or as `config` normalizes it)."""

    # what stackup runs
    image: Optional[str] = None
    build: Optional[Union[str, Build]] = None
    command: Optional[Union[str, list[str]]] = None
    entrypoint: Optional[Union[str, list[str]]] = None
    environment: Optional[ListOrDict] = None
    env_file: Optional[Union[str, list[Union[str, EnvFileEntry]]]] = None
    ports: Optional[list[Annotated[Union[int, str, PortLong], BeforeValidator(_check_port)]]] = None
    expose: Optional[Annotated[list[IntOrStr], AfterValidator(_unique), _UNIQUE]] = None
    volumes: Optional[list[Union[str, VolumeLong]]] = None
    tmpfs: Optional[StringOrList] = None
    networks: Optional[Union[list[str], dict[str, Optional[ServiceNetwork]]]] = None
    network_mode: Optional[str] = None
    depends_on: Optional[Union[list[str], dict[str, DependsOnEntry]]] = None
    healthcheck: Optional[Healthcheck] = None
    restart: Optional[str] = None
    working_dir: Optional[str] = None
    user: Optional[str] = None
    hostname: Optional[str] = None
    domainname: Optional[str] = None
    labels: Optional[ListOrDict] = None
    container_name: Optional[ContainerName] = None
    stop_signal: Optional[str] = None
    stop_grace_period: Optional[str] = None
    init: Optional[BoolOrStr] = None
    read_only: Optional[BoolOrStr] = None
    privileged: Optional[BoolOrStr] = None
    cap_add: Optional[UniqueStrings] = None
    cap_drop: Optional[UniqueStrings] = None
    security_opt: Optional[UniqueStrings] = None
    ulimits: Optional[dict[str, Union[IntOrStr, Ulimit]]] = None
    sysctls: Optional[ListOrDict] = None
    mem_limit: Optional[IntOrStr] = None
    memswap_limit: Optional[IntOrStr] = None
    cpus: Optional[NumOrStr] = None
    cpu_shares: Optional[IntOrStr] = None
    pids_limit: Optional[IntOrStr] = None
    shm_size: Optional[IntOrStr] = None
    deploy: Optional[Deploy] = None
    scale: Optional[IntOrStr] = None
    profiles: Optional[UniqueStrings] = None
    extra_hosts: Optional[Union[UniqueStrings, dict[str, Union[str, list[str]]]]] = None
    dns: Optional[StringOrList] = None
    dns_search: Optional[StringOrList] = None
    tty: Optional[BoolOrStr] = None
    stdin_open: Optional[BoolOrStr] = None
    logging: Optional[Logging] = None
    pull_policy: Optional[str] = None
    platform: Optional[str] = None
    secrets: Optional[list[Union[str, FileRef]]] = None
    configs: Optional[list[Union[str, FileRef]]] = None
    volumes_from: Optional[UniqueStrings] = None
    links: Optional[UniqueStrings] = None
    ipc: Optional[str] = None
    pid: Optional[str] = None
    devices: Optional[list[Union[str, DeviceLong]]] = None
    group_add: Optional[Annotated[list[IntOrStr], AfterValidator(_unique), _UNIQUE]] = None
    extends: Optional[Union[str, ExtendsLong]] = None
    label_file: Optional[StringOrList] = None
    # compose knows these; stackup accepts them in `config` but cannot run them yet (stackfile/support.py)
    annotations: Optional[ListOrDict] = None
    attach: Optional[BoolOrStr] = None
    blkio_config: Optional[BlkioConfig] = None
    cgroup: Optional[str] = None
    cgroup_parent: Optional[str] = None
    cpu_count: Optional[IntOrStr] = None
    cpu_percent: Optional[NumOrStr] = None
    cpu_period: Optional[IntOrStr] = None
    cpu_quota: Optional[IntOrStr] = None
    cpu_rt_period: Optional[IntOrStr] = None
    cpu_rt_runtime: Optional[IntOrStr] = None
    cpuset: Optional[str] = None
    credential_spec: Optional[CredentialSpec] = None
    develop: Optional[Develop] = None
    device_cgroup_rules: Optional[UniqueStrings] = None
    dns_opt: Optional[UniqueStrings] = None
    external_links: Optional[UniqueStrings] = None
    gpus: Optional[Union[Literal["all"], list[DeviceRequest]]] = None
    isolation: Optional[str] = None
    mac_address: Optional[str] = None
    mem_reservation: Optional[IntOrStr] = None
    mem_swappiness: Optional[IntOrStr] = None
    models: Optional[Union[list[str], dict[str, Any]]] = None
    oom_kill_disable: Optional[BoolOrStr] = None
    oom_score_adj: Optional[IntOrStr] = None
    post_start: Optional[list[Hook]] = None
    pre_stop: Optional[list[Hook]] = None
    provider: Optional[Provider] = None
    pull_refresh_after: Optional[str] = None
    runtime: Optional[str] = None
    storage_opt: Optional[dict[str, Union[str, int, float, bool]]] = None
    use_api_socket: Optional[BoolOrStr] = None
    userns_mode: Optional[str] = None
    uts: Optional[str] = None



# -- top-level resources --------------------------------------------------------------

class IpamConfig(Strict):
    subnet: Optional[str] = None
    ip_range: Optional[str] = None
    gateway: Optional[str] = None
    aux_addresses: Optional[dict[str, str]] = None


class Ipam(Strict):
    driver: Optional[str] = None
    config: Optional[list[IpamConfig]] = None
    options: Optional[dict[str, str]] = None


class External(Strict):
    name: Optional[str] = None


class NetworkModel(Strict):
    name: Optional[str] = None
    driver: Optional[str] = None
    driver_opts: Optional[dict[str, Union[str, int, float]]] = None
    ipam: Optional[Ipam] = None
    external: Optional[Union[BoolOrStr, External]] = None
    internal: Optional[BoolOrStr] = None
    enable_ipv4: Optional[BoolOrStr] = None
    enable_ipv6: Optional[BoolOrStr] = None
    attachable: Optional[BoolOrStr] = None
    labels: Optional[ListOrDict] = None


class VolumeModel(Strict):
    name: Optional[str] = None
    driver: Optional[str] = None
    driver_opts: Optional[dict[str, Union[str, int, float]]] = None
    external: Optional[Union[BoolOrStr, External]] = None
    labels: Optional[ListOrDict] = None


class SecretModel(Strict):
    name: Optional[str] = None
    environment: Optional[str] = None
    file: Optional[str] = None
    external: Optional[Union[BoolOrStr, External]] = None
    labels: Optional[ListOrDict] = None
    driver: Optional[str] = None
    driver_opts: Optional[dict[str, Union[str, int, float]]] = None
    template_driver: Optional[str] = None


class ConfigModel(Strict):
    name: Optional[str] = None
    content: Optional[str] = None
    environment: Optional[str] = None
    file: Optional[str] = None
    external: Optional[Union[BoolOrStr, External]] = None
    labels: Optional[ListOrDict] = None
    template_driver: Optional[str] = None


class IncludeLong(Strict):
    path: StringOrList
    env_file: Optional[StringOrList] = None
    project_directory: Optional[str] = None


class ModelModel(Strict):
    name: Optional[str] = None
    model: str
    context_size: Optional[int] = None
    runtime_flags: Optional[list[str]] = None


class ComposeFile(Strict):
    """A whole stack file."""

    model_config = ConfigDict(extra="forbid", title="stackup stack file (Compose format)",
                              json_schema_extra={"patternProperties": {"^x-": {}}})

    version: Optional[str] = Field(default=None, description="Obsolete: ignored with a warning")
    name: Optional[str] = None
    include: Optional[list[Union[str, IncludeLong]]] = None
    services: Optional[dict[Name, ServiceModel]] = None
    networks: Optional[dict[Name, Optional[NetworkModel]]] = None
    volumes: Optional[dict[Name, Optional[VolumeModel]]] = None
    secrets: Optional[dict[Name, SecretModel]] = None
    configs: Optional[dict[Name, ConfigModel]] = None
    models: Optional[dict[str, ModelModel]] = None
