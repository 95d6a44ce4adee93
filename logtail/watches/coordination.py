"""Many web nodes, one alert: with `serve --redis`, every node evaluates the same shipped lines and fires the
same alerts; before sending one, a node claims it in Redis with `SET key node NX PX ttl`, and only the
node that holds the claim sends it.

The key names the watch and what the alert is about, the same on every node: with a cooldown, the
cooldown period the alert opens (alerts of one watch on two nodes are at most one per cooldown: the first
claim wins and the others drop theirs); without one, the id of the line that completed it (shipped lines
have the same id on every node). A node that claimed an alert and crashed before sending it finds its own
claim again at its next start and sends it then (the claim's value is the node's identity, kept in the
state file). When Redis cannot be reached the node sends anyway: a doubled alert rather than a missed one.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid

from redis.exceptions import RedisError

from logtail.sources.redis.client import Client
from logtail.sources.redis.keys import PREFIX
from logtail.watches.counter import Alert

log = logging.getLogger(__name__)
MIN_TTL_MS = 60_000


def node_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def claim_key(alert: Alert, cooldown: float) -> str:
    if cooldown > 0:
        # Two nodes fire within moments of each other; the first claim covers the whole cooldown.
        return f"{PREFIX}watch-alert:{alert.watch}:cooldown"
    last = alert.lines[-1]["id"] if alert.lines else alert.id
    return f"{PREFIX}watch-alert:{alert.watch}:line:{last}"


class AlertClaims:
    def __init__(self, client: Client, identity: str) -> None:
        self.client = client
        self.identity = identity

    async def claim(self, alert: Alert, cooldown: float, window: float) -> bool:
        """True when this node is to send `alert`."""
        key = claim_key(alert, cooldown)
        # With a cooldown the claim lasts exactly that long: the watch's next alert claims afresh.
        ttl = int(cooldown * 1000) if cooldown > 0 else max(MIN_TTL_MS, int(window * 1000))
        try:
            if await self.client.set(key, f"{self.identity} {alert.id}", nx=True, px=ttl):
                return True
            holder = await self.client.get(key)
        except RedisError as exc:
            log.warning("cannot claim alert %s in Redis (%s): sending it from this node", alert.id, exc)
            return True
        text = holder.decode() if isinstance(holder, bytes) else str(holder or "")
        return text == f"{self.identity} {alert.id}"  # our own claim, from before a restart
