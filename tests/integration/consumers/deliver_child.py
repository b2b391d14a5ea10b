"""`python -m tests.integration.consumers.deliver_child CHANNEL QUEUE`: the real `alertstream
deliver CHANNEL` command, with its producer's queue limited to QUEUE messages.

For the shutdown test: a full producer queue (the broker gone) must not keep SIGTERM from working.
Everything else is the console script's own code path (signal handlers included).
"""

from __future__ import annotations

import sys
from typing import Any

from alertstream.consumers import deliver
from alertstream.runtime import kafka_clients


def main() -> None:
    channel, queue = sys.argv[1], int(sys.argv[2])

    def small_queue(bootstrap: str, **kwargs: Any) -> dict[str, Any]:
        return {**kafka_clients.producer_config(bootstrap, **kwargs), "queue.buffering.max.messages": queue}

    deliver.producer_config = small_queue  # type: ignore[assignment]
    from alertstream.cli import main as cli

    sys.argv = ["alertstream", "deliver", channel]
    cli()


if __name__ == "__main__":
    main()
