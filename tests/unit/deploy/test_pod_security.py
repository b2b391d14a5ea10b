"""Every pod the chart makes meets Pod Security Standards "restricted", and the chart's own rules on top.

The checker (:mod:`tests.unit.deploy.pod_security`) is tested here too: each control it implements
is broken once on a compliant spec and must be reported.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.unit.deploy.chart import containers, pod_template, render
from tests.unit.deploy.pod_security import restricted_violations
from tests.unit.deploy.values_cases import ALL_OFF, ALL_ON

CASES = {"defaults": None, "all-on": ALL_ON, "all-off": ALL_OFF}
#: Pod specs each case must produce (so an empty render cannot pass): Deployments + hook Jobs + test Pod.
EXPECTED_PODS = {"defaults": 7 + 2 + 1, "all-on": 7 + 2 + 1, "all-off": 3}  # processes + hooks + test


def _pods(values: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    pods = {}
    for doc in render(values):
        template = pod_template(doc)
        if template is not None:
            pods[f"{doc['kind']} {doc['metadata']['name']}"] = template["spec"]
    return pods


@pytest.mark.parametrize("case", CASES)
def test_every_pod_spec_is_restricted(case: str) -> None:
    pods = _pods(CASES[case])
    assert len(pods) == EXPECTED_PODS[case], sorted(pods)
    problems = {name: restricted_violations(spec) for name, spec in pods.items()}
    assert {name: p for name, p in problems.items() if p} == {}


@pytest.mark.parametrize("case", CASES)
def test_every_pod_runs_as_the_image_user_without_a_token_on_a_read_only_root(case: str) -> None:
    for name, spec in _pods(CASES[case]).items():
        sc = spec["securityContext"]
        assert (sc["runAsUser"], sc["runAsGroup"], sc["runAsNonRoot"]) == (10001, 10001, True), name
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        assert "hostNetwork" not in spec, name
        assert "hostPID" not in spec, name
        tmp = {v["name"]: v for v in spec["volumes"]}["tmp"]
        assert "emptyDir" in tmp, name
        for container in containers(spec):
            csc = container["securityContext"]
            assert csc["readOnlyRootFilesystem"] is True, (name, container["name"])
            assert csc["allowPrivilegeEscalation"] is False, (name, container["name"])
            assert csc["capabilities"] == {"drop": ["ALL"]}, (name, container["name"])
            # writable scratch space where the processes write (Faust's data dir): /tmp, the working dir
            assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"], (name, container["name"])
            assert container["workingDir"] == "/tmp", (name, container["name"])
            # every container, the hook Jobs' and the test Pod's too, has requests and a memory limit
            assert container["resources"]["requests"]["cpu"], (name, container["name"])
            assert container["resources"]["requests"]["memory"], (name, container["name"])
            assert container["resources"]["limits"]["memory"], (name, container["name"])


def test_service_accounts_mount_no_token() -> None:
    accounts = [d for d in render(ALL_ON) if d["kind"] == "ServiceAccount"]
    assert {a["metadata"]["name"] for a in accounts} == {"rel-alertstream", "rel-alertstream-hooks"}
    assert all(a["automountServiceAccountToken"] is False for a in accounts)


def _compliant() -> dict[str, Any]:
    return {
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
        "volumes": [{"name": "tmp", "emptyDir": {}}, {"name": "c", "configMap": {"name": "c"}}],
        "initContainers": [
            {
                "name": "init",
                "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
            }
        ],
        "containers": [
            {
                "name": "app",
                "ports": [{"containerPort": 9401}],
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
                },
            }
        ],
    }


def _app(spec: dict[str, Any]) -> dict[str, Any]:
    sc: dict[str, Any] = spec["containers"][0]["securityContext"]
    return sc


#: control -> (how to break it, the start of each violation expected: one per container it affects)
BREAKS: dict[str, tuple[Any, ...]] = {
    "host network": (lambda s: s.update(hostNetwork=True), "pod: hostNetwork must be unset or false"),
    "host pid": (lambda s: s.update(hostPID=True), "pod: hostPID must be unset or false"),
    "host ipc": (lambda s: s.update(hostIPC=True), "pod: hostIPC must be unset or false"),
    "host path": (
        lambda s: s["volumes"].append({"name": "h", "hostPath": {"path": "/"}}),
        "volume h: hostPath volumes are forbidden",
    ),
    "other volume type": (
        lambda s: s["volumes"].append({"name": "n", "nfs": {"server": "x", "path": "/"}}),
        "volume n: type ['nfs'] is not allowed",
    ),
    "host port": (lambda s: s["containers"][0]["ports"][0].update(hostPort=9401), "container app: hostPort 9401"),
    "privileged": (lambda s: _app(s).update(privileged=True), "container app: privileged must be unset or false"),
    "escalation unset": (
        lambda s: s["initContainers"][0]["securityContext"].pop("allowPrivilegeEscalation"),
        "container init: allowPrivilegeEscalation must be false",
    ),
    "root on the pod": (
        lambda s: s["securityContext"].pop("runAsNonRoot"),
        "container init: runAsNonRoot must be true",
        "container app: runAsNonRoot must be true",
    ),
    "root container": (lambda s: _app(s).update(runAsNonRoot=False), "container app: runAsNonRoot must be true"),
    "uid 0": (lambda s: _app(s).update(runAsUser=0), "container app: runAsUser must not be 0"),
    "no seccomp": (
        lambda s: s["securityContext"].pop("seccompProfile"),
        "container init: seccompProfile must be set",
        "container app: seccompProfile must be set",
    ),
    "unconfined": (
        lambda s: _app(s).update(seccompProfile={"type": "Unconfined"}),
        "container app: seccompProfile 'Unconfined' must be RuntimeDefault or Localhost",
    ),
    "keeps capabilities": (lambda s: _app(s).pop("capabilities"), "container app: capabilities must drop ALL"),
    "adds a capability": (
        lambda s: _app(s)["capabilities"].update(add=["SYS_ADMIN"]),
        "container app: capabilities ['SYS_ADMIN'] may not be added",
    ),
    "unsafe sysctl": (
        lambda s: s["securityContext"].update(sysctls=[{"name": "kernel.msgmax", "value": "1"}]),
        "pod: sysctl 'kernel.msgmax' is not in the safe set",
    ),
    "selinux user": (
        lambda s: _app(s).update(seLinuxOptions={"user": "system_u"}),
        "container app: SELinux user must be unset",
    ),
    "proc mount": (lambda s: _app(s).update(procMount="Unmasked"), "container app: procMount must be Default"),
    "apparmor": (
        lambda s: _app(s).update(appArmorProfile={"type": "Unconfined"}),
        "container app: appArmorProfile 'Unconfined' is not allowed",
    ),
    "host process": (
        lambda s: s["securityContext"].update(windowsOptions={"hostProcess": True}),
        "pod: windowsOptions.hostProcess must be unset or false",
    ),
}


def test_the_compliant_example_passes() -> None:
    assert restricted_violations(_compliant()) == []


@pytest.mark.parametrize("control", BREAKS)
def test_each_control_is_enforced(control: str) -> None:
    spec = copy.deepcopy(_compliant())
    breaks, *expected = BREAKS[control]
    breaks(spec)
    problems = restricted_violations(spec)
    assert len(problems) == len(expected), problems
    for problem, start in zip(problems, expected, strict=True):
        assert problem.startswith(start), problems
