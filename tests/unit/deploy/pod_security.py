"""Pod Security Standards, "restricted" profile, as checks on a pod spec (pure: spec in, violations out).

Written from the standard (kubernetes.io/docs/concepts/security/pod-security-standards, policy
version "latest"): every control of the Baseline profile, then the Restricted additions. Each
violation names the control and where it was found. Fields that the standard requires to be unset
or false must not be set to anything else; fields it requires to be set must be set on the pod or on
every container, as the standard allows.
"""

from __future__ import annotations

from typing import Any

from tests.unit.deploy.chart import containers

#: Restricted: the only volume types allowed.
ALLOWED_VOLUME_TYPES = frozenset(
    {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
)
#: Baseline: the sysctls allowed ("safe" set).
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
#: Baseline: SELinux types allowed.
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
SECCOMP_ALLOWED = frozenset({"RuntimeDefault", "Localhost"})
APPARMOR_ALLOWED = frozenset({"RuntimeDefault", "Localhost"})
#: Restricted: the only capability a container may add.
ADDABLE_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})


def _selinux_problems(where: str, options: dict[str, Any] | None) -> list[str]:
    if not options:
        return []
    out = []
    if options.get("type", "") not in SELINUX_TYPES:
        out.append(f"{where}: SELinux type {options['type']!r} is not allowed")
    for field in ("user", "role"):
        if options.get(field):
            out.append(f"{where}: SELinux {field} must be unset")
    return out


def restricted_violations(pod_spec: dict[str, Any]) -> list[str]:
    """Every way ``pod_spec`` breaks the "restricted" profile (empty = it complies)."""
    out: list[str] = []
    pod_sc = pod_spec.get("securityContext") or {}

    # Baseline: host namespaces, HostProcess, host paths, host ports, sysctls, SELinux, AppArmor.
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod_spec.get(field):
            out.append(f"pod: {field} must be unset or false (host namespaces)")
    if (pod_sc.get("windowsOptions") or {}).get("hostProcess"):
        out.append("pod: windowsOptions.hostProcess must be unset or false")
    for sysctl in pod_sc.get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            out.append(f"pod: sysctl {sysctl.get('name')!r} is not in the safe set")
    out += _selinux_problems("pod", pod_sc.get("seLinuxOptions"))
    pod_apparmor = (pod_sc.get("appArmorProfile") or {}).get("type")
    if pod_apparmor is not None and pod_apparmor not in APPARMOR_ALLOWED:
        out.append(f"pod: appArmorProfile {pod_apparmor!r} is not allowed")

    # Restricted: volume types (hostPath is the Baseline case of the same rule).
    for volume in pod_spec.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if "hostPath" in kinds:
            out.append(f"volume {volume.get('name')}: hostPath volumes are forbidden")
        elif not kinds <= ALLOWED_VOLUME_TYPES:
            out.append(f"volume {volume.get('name')}: type {sorted(kinds - ALLOWED_VOLUME_TYPES)} is not allowed")

    pod_non_root = pod_sc.get("runAsNonRoot") is True
    pod_seccomp = (pod_sc.get("seccompProfile") or {}).get("type")
    if pod_seccomp is not None and pod_seccomp not in SECCOMP_ALLOWED:
        out.append(f"pod: seccompProfile {pod_seccomp!r} must be RuntimeDefault or Localhost")
    if pod_sc.get("runAsUser") == 0:
        out.append("pod: runAsUser must not be 0")
    if pod_sc.get("runAsNonRoot") is False:
        out.append("pod: runAsNonRoot must not be false")

    all_containers = list(containers(pod_spec))
    if not all_containers:
        out.append("pod: no containers")
    for container in all_containers:
        where = f"container {container.get('name')}"
        sc = container.get("securityContext") or {}
        if sc.get("privileged"):
            out.append(f"{where}: privileged must be unset or false")
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            out.append(f"{where}: windowsOptions.hostProcess must be unset or false")
        if sc.get("procMount", "Default") != "Default":
            out.append(f"{where}: procMount must be Default")
        out += _selinux_problems(where, sc.get("seLinuxOptions"))
        apparmor = (sc.get("appArmorProfile") or {}).get("type")
        if apparmor is not None and apparmor not in APPARMOR_ALLOWED:
            out.append(f"{where}: appArmorProfile {apparmor!r} is not allowed")
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                out.append(f"{where}: hostPort {port['hostPort']} is forbidden")
        # Restricted controls.
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"{where}: allowPrivilegeEscalation must be false")
        non_root = sc.get("runAsNonRoot")
        if non_root is False or (non_root is None and not pod_non_root):
            out.append(f"{where}: runAsNonRoot must be true (on the pod or the container)")
        if sc.get("runAsUser") == 0:
            out.append(f"{where}: runAsUser must not be 0")
        seccomp = (sc.get("seccompProfile") or {}).get("type")
        if seccomp is not None and seccomp not in SECCOMP_ALLOWED:
            out.append(f"{where}: seccompProfile {seccomp!r} must be RuntimeDefault or Localhost")
        if seccomp is None and pod_seccomp is None:
            out.append(f"{where}: seccompProfile must be set (on the pod or the container)")
        capabilities = sc.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            out.append(f"{where}: capabilities must drop ALL")
        added = set(capabilities.get("add") or []) - ADDABLE_CAPABILITIES
        if added:
            out.append(f"{where}: capabilities {sorted(added)} may not be added")
    return out
