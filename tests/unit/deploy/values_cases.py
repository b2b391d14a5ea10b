"""Values files the chart tests render: every optional part off, and every optional part on."""

from __future__ import annotations

from typing import Any

CA_VOLUME = {"name": "kafka-ca", "secret": {"secretName": "kafka-ca"}}
CA_MOUNT = {"name": "kafka-ca", "mountPath": "/etc/alertstream/kafka-ca", "readOnly": True}

#: Every optional object and hook on (KEDA autoscaling, monitors, extras), for renders that must cover it all.
ALL_ON: dict[str, Any] = {
    "topicPrefix": "prod.",
    "schemaRegistryUrl": "https://registry.example.com",
    "imagePullSecrets": [{"name": "regcred"}],
    "podAnnotations": {"example.com/team": "oncall"},
    "podLabels": {"example.com/tier": "alerting"},
    "priorityClassName": "alerting",
    "extraEnv": [
        {"name": "ALERTSTREAM_KAFKA_SECURITY_PROTOCOL", "value": "SASL_SSL"},
        {"name": "ALERTSTREAM_KAFKA_SSL_CA_FILE", "value": "/etc/alertstream/kafka-ca/ca.crt"},
    ],
    "envFrom": [{"secretRef": {"name": "alertstream-kafka-credentials"}}],
    "extraVolumes": [CA_VOLUME],
    "extraVolumeMounts": [CA_MOUNT],
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "alerting", "effect": "NoSchedule"}],
    "worker": {"autoscaling": {"enabled": True}},
    "deliver": {
        "autoscaling": {"enabled": True},
        "channels": {"webhook": {"existingSecret": "alertstream-webhook-secrets"}},
    },
    "store": {"autoscaling": {"enabled": True}},
    "api": {"autoscaling": {"enabled": True}},
    "autoscaling": {
        "engine": "keda",
        "keda": {"authenticationRef": "alertstream-kafka-auth"},
    },
    "metrics": {
        "podMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
        "serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
        "prometheusRule": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
    },
    "grafanaDashboard": {"enabled": True, "annotations": {"grafana_folder": "alertstream"}},
}

#: Every optional object and hook off.
ALL_OFF: dict[str, Any] = {
    "serviceAccount": {"create": False, "name": ""},
    "hooks": {"migrate": False, "createTopics": False},
    "podDisruptionBudget": {"enabled": False},
    "topologySpread": {"enabled": False},
    "metrics": {
        "podMonitor": {"enabled": False},
        "serviceMonitor": {"enabled": False},
        "prometheusRule": {"enabled": False},
    },
    "grafanaDashboard": {"enabled": False},
    "tests": {"enabled": False},
    "api": {"enabled": False},
    "deliver": {
        "channels": {"slack": {"enabled": False}, "pagerduty": {"enabled": False}, "email": {"enabled": False}}
    },
}
