"""Which objects a Helm hook uses that will not exist when it runs (pure: rendered manifests in, problems out).

How Helm orders an install: the ``pre-install`` hooks run first, one weight at a time (lowest first,
each waited for: a Job until it completes), then the ordinary release objects are created, then the
``post-install`` hooks; ``helm test`` runs the ``test`` hooks later still. Hooks deleted with
``hook-succeeded`` go only after every hook of that event succeeded. An upgrade is the same with
``pre-upgrade``/``post-upgrade`` — and there the release objects that exist are the *previous*
release's, so a pre-upgrade hook that read them would act on the old values.

The rule checked, per hook and per event it runs on: every object it uses (volume, env or envFrom
source, service account, image pull secret, claim) that the chart itself renders must be

* a hook of the same event with a strictly lower ``helm.sh/hook-weight`` (created and ready before), or
* an ordinary release object, and the event one that runs after those exist (post-*, pre-delete, test).

An object the chart does not render (an existing Secret named in the values) must exist before the
install, which is the operator's side of the contract. The converse is checked too: an ordinary
release object never uses a hook object (hooks are not part of the release; ``hook-succeeded``
deletes them).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tests.unit.deploy.chart import containers, hook_events, hook_weight, pod_template

#: Hook events that run after the release's ordinary objects have been created.
AFTER_RELEASE_OBJECTS = frozenset(
    {"post-install", "post-upgrade", "post-rollback", "pre-delete", "test", "test-success"}
)

Ref = tuple[str, str]  # (kind, name)


def references(pod_spec: dict[str, Any]) -> Iterator[Ref]:
    """Every object a pod spec names: it cannot start (or starts wrong) while one is missing."""
    if pod_spec.get("serviceAccountName"):
        yield ("ServiceAccount", pod_spec["serviceAccountName"])
    for secret in pod_spec.get("imagePullSecrets") or []:
        yield ("Secret", secret["name"])
    for volume in pod_spec.get("volumes") or []:
        if "configMap" in volume:
            yield ("ConfigMap", volume["configMap"]["name"])
        if "secret" in volume:
            yield ("Secret", volume["secret"]["secretName"])
        if "persistentVolumeClaim" in volume:
            yield ("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])
        for source in (volume.get("projected") or {}).get("sources") or []:
            if "configMap" in source:
                yield ("ConfigMap", source["configMap"]["name"])
            if "secret" in source:
                yield ("Secret", source["secret"]["name"])
    for container in containers(pod_spec):
        for env in container.get("env") or []:
            value_from = env.get("valueFrom") or {}
            if "configMapKeyRef" in value_from:
                yield ("ConfigMap", value_from["configMapKeyRef"]["name"])
            if "secretKeyRef" in value_from:
                yield ("Secret", value_from["secretKeyRef"]["name"])
        for source in container.get("envFrom") or []:
            if "configMapRef" in source:
                yield ("ConfigMap", source["configMapRef"]["name"])
            if "secretRef" in source:
                yield ("Secret", source["secretRef"]["name"])


def _describe(doc: dict[str, Any]) -> str:
    return f"{doc['kind']} {doc['metadata']['name']}"


def hook_order_problems(docs: list[dict[str, Any]]) -> list[str]:
    """One line per object a hook uses before it exists (or a release object uses a hook object)."""
    rendered = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    problems: list[str] = []
    for doc in docs:
        template = pod_template(doc)
        if template is None:
            continue
        events = hook_events(doc)
        weight = hook_weight(doc)
        for ref in sorted(set(references(template["spec"]))):
            dep = rendered.get(ref)
            if dep is None:
                continue  # not rendered by the chart: an existing object the operator provides
            dep_events = hook_events(dep)
            if not events:
                if dep_events:
                    problems.append(
                        f"{_describe(doc)} (a release object) uses {_describe(dep)}, a hook "
                        f"({', '.join(sorted(dep_events))}) that is not part of the release"
                    )
                continue
            for event in sorted(events):
                if event in dep_events:
                    if hook_weight(dep) < weight:
                        continue
                    problems.append(
                        f"{_describe(doc)} ({event}, weight {weight}) uses {_describe(dep)}, "
                        f"a {event} hook of weight {hook_weight(dep)}: not created before it"
                    )
                elif not dep_events and event in AFTER_RELEASE_OBJECTS:
                    continue
                else:
                    problems.append(
                        f"{_describe(doc)} ({event}, weight {weight}) uses {_describe(dep)}, which is "
                        f"not a {event} hook: it does not exist (or is the previous release's) when the hook runs"
                    )
    return problems
