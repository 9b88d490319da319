"""Job: deliver the outbox's events to every matching subscription (its own short interval, its own thread)."""
from functools import partial

from service import deliverer, jobruns

NAME = "deliver_events"


def run(holder: str | None = None):
    return jobruns.execute(NAME, partial(deliverer.deliver, holder=holder), holder=holder)
