"""No hook uses an object that does not exist yet when Helm runs it (the first install used to hang).

The checker's rule is in :mod:`tests.unit.deploy.hook_order`; here it runs on the chart rendered with
its defaults and with every optional part on, and on hand-made manifests that show each rule bites.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.deploy.chart import by_kind, hook_events, render
from tests.unit.deploy.hook_order import hook_order_problems
from tests.unit.deploy.values_cases import ALL_ON


@pytest.mark.parametrize("values", [None, ALL_ON], ids=["defaults", "all-on"])
def test_every_object_a_hook_uses_exists_before_it_runs(values: dict[str, Any] | None) -> None:
    docs = render(values)
    assert hook_order_problems(docs) == []


def test_the_migrate_and_topics_jobs_read_a_config_made_before_them() -> None:
    docs = render()
    jobs = by_kind(docs, "Job")
    assert set(jobs) == {"rel-alertstream-migrate", "rel-alertstream-topics"}
    (config_volume,) = [
        v for v in jobs["rel-alertstream-topics"]["spec"]["template"]["spec"]["volumes"] if "configMap" in v
    ]
    config = by_kind(docs, "ConfigMap")[config_volume["configMap"]["name"]]
    assert hook_events(config) == {"pre-install", "pre-upgrade"}
    # the hooks get the config of *this* release (an upgrade's new partitions), not the previous one
    assert config["data"]["config.yaml"] == by_kind(docs, "ConfigMap")["rel-alertstream-config"]["data"]["config.yaml"]


def _job(name: str, hook: str, weight: int, spec: dict[str, Any]) -> dict[str, Any]:
    annotations = {"helm.sh/hook": hook, "helm.sh/hook-weight": str(weight)}
    return {
        "kind": "Job",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"template": {"spec": spec}},
    }


def _object(kind: str, name: str, hook: str = "", weight: int = 0) -> dict[str, Any]:
    annotations = {"helm.sh/hook": hook, "helm.sh/hook-weight": str(weight)} if hook else {}
    return {"kind": kind, "metadata": {"name": name, "annotations": annotations}}


SPEC_USING_ALL = {
    "serviceAccountName": "sa",
    "imagePullSecrets": [{"name": "pull"}],
    "volumes": [
        {"name": "c", "configMap": {"name": "cm"}},
        {"name": "p", "projected": {"sources": [{"secret": {"name": "projected"}}]}},
    ],
    "containers": [
        {
            "name": "x",
            "env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "env-secret", "key": "k"}}}],
            "envFrom": [{"configMapRef": {"name": "env-cm"}}],
        }
    ],
}
USED = [
    ("ServiceAccount", "sa"),
    ("Secret", "pull"),
    ("ConfigMap", "cm"),
    ("Secret", "projected"),
    ("Secret", "env-secret"),
    ("ConfigMap", "env-cm"),
]


def test_a_pre_install_hook_using_a_release_object_is_a_problem_for_every_kind_of_reference() -> None:
    docs = [_job("j", "pre-install", 0, SPEC_USING_ALL), *(_object(k, n) for k, n in USED)]
    problems = hook_order_problems(docs)
    assert len(problems) == len(USED)
    for kind, name in USED:
        assert any(f"uses {kind} {name}, which is not a pre-install hook" in p for p in problems), (kind, name)


def test_an_earlier_hook_of_the_same_event_is_fine_and_an_equal_weight_is_not() -> None:
    earlier = [_job("j", "pre-install", 0, SPEC_USING_ALL), *(_object(k, n, "pre-install", -5) for k, n in USED)]
    assert hook_order_problems(earlier) == []
    same = [_job("j", "pre-install", 0, SPEC_USING_ALL), *(_object(k, n, "pre-install", 0) for k, n in USED)]
    assert len(hook_order_problems(same)) == len(USED)


def test_each_event_of_a_hook_is_checked_on_its_own() -> None:
    only_install = [
        _job("j", "pre-install,pre-upgrade", 0, SPEC_USING_ALL),
        _object("ConfigMap", "cm", "pre-install", -5),
    ]
    assert hook_order_problems(only_install) == [
        "Job j (pre-upgrade, weight 0) uses ConfigMap cm, which is not a pre-upgrade hook: "
        "it does not exist (or is the previous release's) when the hook runs"
    ]


def test_objects_the_chart_does_not_render_are_the_operators_and_release_objects_serve_later_hooks() -> None:
    assert hook_order_problems([_job("j", "pre-install", 0, SPEC_USING_ALL)]) == []
    assert hook_order_problems([_job("t", "test", 0, SPEC_USING_ALL), *(_object(k, n) for k, n in USED)]) == []


def test_a_release_object_using_a_hook_object_is_a_problem() -> None:
    deployment = {"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": {"spec": SPEC_USING_ALL}}}
    assert hook_order_problems([deployment, _object("ConfigMap", "cm", "pre-install", -5)]) == [
        "Deployment d (a release object) uses ConfigMap cm, a hook (pre-install) that is not part of the release"
    ]
