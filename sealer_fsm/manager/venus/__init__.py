"""The client for the reference manager's sealer API (`Venus.*`, as damocles-manager serves it).

`VenusClient` implements `SectorManager` over JSON-RPC; `_wire` is the one module that knows the wire format,
shared with `sealer-fsm devnet serve`, which serves the same API.
"""

from sealer_fsm.manager.venus._client import REQUEST_ID_HEADER, VenusClient, proof_types_of
from sealer_fsm.manager.venus._transport import RpcTransport
from sealer_fsm.manager.venus._values import WireError

__all__ = ["REQUEST_ID_HEADER", "RpcTransport", "VenusClient", "WireError", "proof_types_of"]
