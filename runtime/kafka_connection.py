"""How every Kafka client of a process reaches the cluster: security protocol, SASL, TLS files and any
other librdkafka property — one frozen object, mapped to both client libraries.

Why one object: a process has confluent-kafka producers, consumers and admin clients *and* (the
worker) Faust's aiokafka clients. If each were configured on its own, one of them would sooner or
later connect in plain text to a TLS listener. :class:`KafkaConnection` is built once from the
settings (:meth:`alertstream.runtime.settings.Settings.kafka_connection`) and

* :meth:`KafkaConnection.librdkafka` gives the librdkafka properties (every confluent-kafka client,
  through :mod:`alertstream.runtime.kafka_clients`);
* :meth:`KafkaConnection.aiokafka` gives the same connection as aiokafka keyword arguments (an
  ``ssl.SSLContext`` from the same files, the SASL mechanism and credentials, an OAuth token
  provider), which the worker turns into Faust's ``broker_credentials``.

Its one source of truth is a map of **librdkafka property names** (``security.protocol``,
``sasl.mechanism``, ``ssl.ca.location``…): the typed settings write into it, and a passthrough
(``ALERTSTREAM_KAFKA_PROPERTIES`` / ``_PROPERTIES_FILE``) adds any other property. The
properties aiokafka has an equivalent for are mapped; the rest apply to the confluent-kafka clients
only (:meth:`librdkafka_only` names them, the worker logs them once).

Secrets (``sasl.password``, ``ssl.key.password``, ``sasl.oauthbearer.client.secret`` and any
property whose name says password or secret) are ``SecretStr``: the repr shows ``**********``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER")

#: librdkafka properties aiokafka has an equivalent for (everything else is librdkafka-only).
MAPPED = frozenset(
    {
        "security.protocol",
        "sasl.mechanism",
        "sasl.username",
        "sasl.password",
        "ssl.ca.location",
        "ssl.certificate.location",
        "ssl.key.location",
        "ssl.key.password",
        "ssl.endpoint.identification.algorithm",
        "sasl.oauthbearer.method",
        "sasl.oauthbearer.client.id",
        "sasl.oauthbearer.client.secret",
        "sasl.oauthbearer.token.endpoint.url",
        "sasl.oauthbearer.scope",
    }
)
#: Properties alertstream sets per client (or that would break it): refused in the passthrough.
REFUSED = frozenset(
    {
        "bootstrap.servers",
        "group.id",
        "enable.auto.commit",
        "enable.auto.offset.store",
        "transactional.id",
        "logger",
        "stats_cb",
        "error_cb",
        "on_commit",
        "on_delivery",
        "oauth_cb",
        "throttle_cb",
    }
)
_SECRET_WORDS = ("password", "secret", "token")


def is_secret(name: str) -> bool:
    """Whether a property's value is a secret (masked in every repr and log line)."""
    return any(word in name for word in _SECRET_WORDS)


@dataclass(frozen=True)
class KafkaConnection:
    """The connection settings of every Kafka client of one process (librdkafka property names)."""

    properties: tuple[tuple[str, str | SecretStr], ...] = ()

    @classmethod
    def build(cls, source: str, properties: Mapping[str, str]) -> KafkaConnection:
        """Check ``properties`` (librdkafka names) and keep them, secrets as ``SecretStr``.

        Raises ``ValueError`` naming ``source`` (where they came from), the property and the
        problem; never a value."""
        properties = normalise(properties)
        problems = check(properties)
        if problems:
            raise ValueError("; ".join(f"{source}: {p}" for p in problems))
        kept = tuple(
            (name, SecretStr(value) if is_secret(name) else value) for name, value in sorted(properties.items())
        )
        return cls(kept)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={'**********' if isinstance(v, SecretStr) else v!r}" for k, v in self.properties)
        return f"KafkaConnection({shown})"

    __str__ = __repr__

    def get(self, name: str) -> str | None:
        for key, value in self.properties:
            if key == name:
                return value.get_secret_value() if isinstance(value, SecretStr) else value
        return None

    @property
    def protocol(self) -> str:
        return (self.get("security.protocol") or "PLAINTEXT").upper()

    @property
    def mechanism(self) -> str | None:
        value = self.get("sasl.mechanism")
        return value.upper() if value else None

    def librdkafka(self) -> dict[str, str]:
        """The properties for a confluent-kafka client, secrets revealed (never log the result)."""
        return {k: v.get_secret_value() if isinstance(v, SecretStr) else v for k, v in self.properties}

    def librdkafka_only(self) -> list[str]:
        """The passthrough properties the aiokafka clients (the worker's Faust app) cannot apply."""
        return [k for k, _ in self.properties if k not in MAPPED]

    def describe(self) -> str:
        """One line for logs and error messages: protocol, mechanism, CA file; no secret."""
        parts = [self.protocol]
        if self.mechanism:
            parts.append(f"SASL {self.mechanism}")
        if self.get("ssl.ca.location"):
            parts.append(f"CA {self.get('ssl.ca.location')}")
        return ", ".join(parts)

    def aiokafka(self) -> dict[str, Any]:
        """The same connection as aiokafka keyword arguments (``security_protocol``,
        ``ssl_context``, ``sasl_mechanism``, ``sasl_plain_username``/``_password``,
        ``sasl_oauth_token_provider``)."""
        out: dict[str, Any] = {"security_protocol": self.protocol}
        if self.protocol in ("SSL", "SASL_SSL"):
            out["ssl_context"] = self.ssl_context()
        mechanism = self.mechanism
        if mechanism is not None:
            out["sasl_mechanism"] = mechanism
            if mechanism == "OAUTHBEARER":
                from alertstream.runtime.kafka_oauth import ClientCredentialsTokenProvider

                secret = self.get("sasl.oauthbearer.client.secret") or ""
                out["sasl_oauth_token_provider"] = ClientCredentialsTokenProvider(
                    self.get("sasl.oauthbearer.token.endpoint.url") or "",
                    self.get("sasl.oauthbearer.client.id") or "",
                    SecretStr(secret),
                    self.get("sasl.oauthbearer.scope"),
                    ca_file=self.get("ssl.ca.location"),
                )
            else:
                out["sasl_plain_username"] = self.get("sasl.username")
                out["sasl_plain_password"] = self.get("sasl.password")
        return out

    def ssl_context(self) -> Any:
        """An ``ssl.SSLContext`` from the same CA / client certificate / key files as librdkafka's
        (system CAs when no CA file is set; hostname checked unless
        ``ssl.endpoint.identification.algorithm=none``)."""
        import ssl

        context = ssl.create_default_context(cafile=self.get("ssl.ca.location"))
        cert = self.get("ssl.certificate.location")
        if cert:
            context.load_cert_chain(cert, self.get("ssl.key.location"), self.get("ssl.key.password"))
        if (self.get("ssl.endpoint.identification.algorithm") or "https").lower() == "none":
            context.check_hostname = False
        return context


#: Other spellings librdkafka accepts for a property, and the one kept.
ALIASES = {"sasl.mechanisms": "sasl.mechanism", "security_protocol": "security.protocol"}


def normalise(properties: Mapping[str, str]) -> dict[str, str]:
    """One spelling per property (``sasl.mechanisms`` -> ``sasl.mechanism``)."""
    return {ALIASES.get(k, k): v for k, v in properties.items()}


def check(properties: Mapping[str, str]) -> list[str]:
    """Every problem of a property map (pure; names properties, never values)."""
    problems: list[str] = []
    for name in properties:
        if name in REFUSED:
            problems.append(f"{name} cannot be set here (alertstream sets it per client)")
    protocol = (properties.get("security.protocol") or "PLAINTEXT").upper()
    if protocol not in SECURITY_PROTOCOLS:
        problems.append(f"security.protocol must be one of {', '.join(SECURITY_PROTOCOLS)}")
        return problems
    sasl = protocol.startswith("SASL_")
    tls = protocol in ("SSL", "SASL_SSL")
    mechanism = (properties.get("sasl.mechanism") or "").upper()
    if sasl and not mechanism:
        problems.append(f"sasl.mechanism is required with security.protocol={protocol}")
    if mechanism and mechanism not in SASL_MECHANISMS:
        problems.append(f"sasl.mechanism must be one of {', '.join(SASL_MECHANISMS)}")
    sasl_set = sorted(k for k in properties if k.startswith("sasl."))
    if sasl_set and not sasl:
        problems.append(f"{', '.join(sasl_set)} need security.protocol SASL_PLAINTEXT or SASL_SSL")
    if sasl and mechanism in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):
        problems += [f"{k} is required with sasl.mechanism={mechanism}" for k in _missing(properties, _USER_PASS)]
    if sasl and mechanism == "OAUTHBEARER":
        if (properties.get("sasl.oauthbearer.method") or "oidc").lower() != "oidc":
            problems.append("sasl.oauthbearer.method must be oidc (the client-credentials grant)")
        problems += [f"{k} is required with sasl.mechanism=OAUTHBEARER" for k in _missing(properties, _OIDC)]
    files = [k for k in _FILES if properties.get(k)]
    if files and not tls:
        problems.append(f"{', '.join(files)} need security.protocol SSL or SASL_SSL")
    for name in files:
        path = Path(properties[name])
        if not path.is_file():
            problems.append(f"{name}: no such file {path}")
    if bool(properties.get("ssl.certificate.location")) != bool(properties.get("ssl.key.location")):
        problems.append("ssl.certificate.location and ssl.key.location go together (mutual TLS)")
    algorithm = properties.get("ssl.endpoint.identification.algorithm")
    if algorithm is not None and algorithm.lower() not in ("https", "none"):
        problems.append("ssl.endpoint.identification.algorithm must be https or none")
    return problems


_USER_PASS = ("sasl.username", "sasl.password")
_OIDC = ("sasl.oauthbearer.client.id", "sasl.oauthbearer.client.secret", "sasl.oauthbearer.token.endpoint.url")
_FILES = ("ssl.ca.location", "ssl.certificate.location", "ssl.key.location")


def _missing(properties: Mapping[str, str], names: Iterable[str]) -> list[str]:
    return [n for n in names if not properties.get(n)]


def read_properties_file(path: str) -> dict[str, str]:
    """A ``client.properties`` file (what Confluent Cloud, Aiven and others hand out): ``key=value``
    lines, ``#``/``!`` comments, blank lines. Raises ``ValueError`` naming the file and line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror}") from None
    out: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{path}: line {number}: expected key=value")
        out[key.strip()] = value.strip()
    return out
