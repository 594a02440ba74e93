"""sluice_client: asyncio client for sluice (docs/PROTOCOL.md).

    async with sluice_client.connect(["ws://gw1:8080/"]) as client:
        async for r in client.submit("burn", [200] * 20):
            print(r.seq, r.value, r.error)

Each item's seq reaches the application exactly once, across dropped
connections (resume) and dead gateways (resubmission with seqs)."""

from .client import (CLOSED, CONNECTED, CONNECTING, DISCONNECTED,
                     MSGPACK_SUBPROTOCOL, Client, Result, SluiceError,
                     SluiceUnreachable, Stream, Subscription, connect)

__all__ = ["connect", "Client", "Stream", "Subscription", "Result",
           "SluiceError", "SluiceUnreachable", "MSGPACK_SUBPROTOCOL",
           "CONNECTING", "CONNECTED", "DISCONNECTED", "CLOSED"]
__version__ = "1.0.0"
