"""The shared runtime every stage builds on: settings, Kafka client configuration, the topic
follower, topic administration and the Prometheus metrics registry.

It imports only the contract (:mod:`alertstream.schemas`); the stages (:mod:`alertstream.streams`,
:mod:`alertstream.consumers`) import it, and the composition root (CLI, dev, local stack, bench)
imports everything. `make lint` checks that the arrows only point down (import-linter).
"""
