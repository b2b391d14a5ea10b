"""Where a consumer group starts reading a topic it has never committed on.

``auto.offset.reset=earliest`` alone makes a *new* deliver group (a new channel, a renamed group,
offsets expired after ``offsets.retention.minutes`` on Kafka) re-notify every alert still retained
on ``alerts``. ``latest`` instead would lose the alerts of a fresh install that were emitted before
the group first joined. The rule here sits between the two:

* a topic on which the group has **no committed offset on any partition** is new to the group: on
  each of its partitions, the records produced more than ``lookback_s`` before the assignment are
  skipped (read, committed, not delivered) until the first younger one; after that nothing is skipped;
* a topic with a commit on *any* partition belongs to an existing group: every partition resumes
  from its commit, and a partition without one (it never had a record while the group ran) is read
  from the beginning: what is there arrived while the group was away.

Record timestamps are the producer's CreateTime (or the broker's LogAppendTime); a record without
one is never skipped. The skipped records are still read: on tansu ``offsets_for_times`` answers 0
for every timestamp, so a seek cannot be relied on (on Kafka reading is cheap: no decoding).
``lookback_s=None`` keeps everything retained (the old ``earliest``).
"""

from __future__ import annotations

import logging
import time

from confluent_kafka import Consumer, KafkaException, TopicPartition

log = logging.getLogger(__name__)

#: The default look-back of a new deliver group (``ALERTSTREAM_DELIVER_LOOKBACK_SECONDS``).
DEFAULT_LOOKBACK_S = 900.0


class GroupStart:
    """Skips, on the partitions of topics new to the group, the records older than the look-back.

    :meth:`on_assign` runs in the rebalance callback (the consumer's thread); :meth:`skip` on the
    thread that handles records. They share one dict, replaced key by key (atomic under the GIL).
    """

    def __init__(self, lookback_s: float | None) -> None:
        self.lookback_s = lookback_s
        #: (topic, partition) -> records with an older timestamp are skipped
        self._cutoff: dict[tuple[str, int], int] = {}
        #: topics classified as new in this process: the first cutoff holds for later assignments
        self._new_topics: dict[str, int] = {}

    def on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if self.lookback_s is None or not partitions:
            return
        cutoff = int((time.time() - self.lookback_s) * 1000)
        for topic in sorted({p.topic for p in partitions}):
            try:
                first_cutoff = self._new_topics.get(topic)
                if first_cutoff is None and self._has_commits(consumer, topic):
                    continue
                if first_cutoff is None:
                    self._new_topics[topic] = first_cutoff = cutoff
                    log.info("%s is new to this group: skipping records produced before %d (epoch ms)", topic, cutoff)
            except KafkaException as exc:  # cannot tell: deliver everything rather than risk a loss
                log.warning("cannot read the committed offsets of %s (%s): reading it from its commits", topic, exc)
                continue
            assigned = [p for p in partitions if p.topic == topic]
            committed = consumer.committed([TopicPartition(topic, p.partition) for p in assigned], timeout=10)
            for tp in committed:
                if tp.offset < 0:
                    self._cutoff[(topic, tp.partition)] = first_cutoff

    def _has_commits(self, consumer: Consumer, topic: str) -> bool:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        every = [TopicPartition(topic, p) for p in meta.partitions]
        return any(tp.offset >= 0 for tp in consumer.committed(every, timeout=10))

    def on_revoke(self, keys: list[tuple[str, int]]) -> None:
        for key in keys:
            self._cutoff.pop(key, None)

    def skip(self, topic: str, partition: int, timestamp_ms: int) -> bool:
        """True when this record predates the group's start on a partition new to it."""
        cutoff = self._cutoff.get((topic, partition))
        if cutoff is None:
            return False
        if timestamp_ms <= 0 or timestamp_ms >= cutoff:
            del self._cutoff[(topic, partition)]  # the first young record: nothing after it is skipped
            return False
        return True
