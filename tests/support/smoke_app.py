"""A minimal Faust service used by the stack smoke test, on orgsync's FaustApp (Faust with the
consumer fixes every orgsync worker runs): an agent counts events per key in a
changelog-backed table and publishes each new count, so the test can observe recovery."""

from __future__ import annotations

import os

import faust

from pipeline.worker.app import FaustApp

app = FaustApp(
    os.environ["SMOKE_APP_ID"],
    broker=os.environ["SMOKE_BROKER"],
    store="memory://",
    topic_partitions=2,
    web_enabled=False,
    # A restarted worker must not wait a minute for its stopped predecessor's session to expire.
    broker_session_timeout=10.0,
    broker_heartbeat_interval=1.0,
    stream_wait_empty=False,
)
# Raw bytes on the wire: the test produces and reads them with plain aiokafka.
events = app.topic(os.environ["SMOKE_IN_TOPIC"], key_serializer="raw", value_serializer="raw")
counts_out = app.topic(os.environ["SMOKE_OUT_TOPIC"], key_serializer="raw", value_serializer="raw")
event_count = app.Table("event_count", default=int, partitions=2)


@app.agent(events)
async def count_events(stream: faust.StreamT[bytes]) -> None:
    async for raw_key, _value in stream.items():
        key = raw_key.decode()
        event_count[key] += 1
        await counts_out.send(key=raw_key, value=str(event_count[key]).encode())


if __name__ == "__main__":
    app.main()
