"""JSON-RPC envelopes as 0.58 frames them (no `jsonrpc` member) and the one error type handlers raise."""

from __future__ import annotations

from typing import Any

import msgspec

INVALID_REQUEST = -32600
INTERNAL_ERROR = -32603
PARSE_ERROR = -32700

RequestId = int | str

_encoder = msgspec.json.Encoder()


class RpcError(Exception):
    """A JSON-RPC error: raised by a handler, turned into an error reply at the actor boundary."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"RpcError({self.code}, {self.message!r})"


def invalid_request(message: str) -> RpcError:
    return RpcError(INVALID_REQUEST, message)


def internal_error(message: str) -> RpcError:
    return RpcError(INTERNAL_ERROR, message)


def encode(value: Any) -> bytes:
    return _encoder.encode(value)


# Envelopes are spliced by hand so the key order is exactly 0.58's and the payload is encoded once.
def result_line(request_id: RequestId, result: Any) -> bytes:
    return b'{"id":' + _encoder.encode(request_id) + b',"result":' + _encoder.encode(result) + b"}\n"


def error_line(request_id: RequestId | None, code: int, message: str) -> bytes:
    return (
        b'{"error":{"code":'
        + str(code).encode()
        + b',"message":'
        + _encoder.encode(message)
        + b'},"id":'
        + _encoder.encode(request_id)
        + b"}\n"
    )


def notification_line(method: str, params: Any) -> bytes:
    if params is None:
        return b'{"method":' + _encoder.encode(method) + b"}\n"
    return b'{"method":' + _encoder.encode(method) + b',"params":' + _encoder.encode(params) + b"}\n"


def request_line(request_id: RequestId, method: str, params: Any) -> bytes:
    return (
        b'{"id":'
        + _encoder.encode(request_id)
        + b',"method":'
        + _encoder.encode(method)
        + b',"params":'
        + _encoder.encode(params)
        + b"}\n"
    )
