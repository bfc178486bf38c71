"""HTTP/1.1 by hand over asyncio streams, for the server tests' clients that must control the
connection itself (hang up mid-request, read a stream as it comes)."""
import asyncio
import json


async def request(host, port, method, path, body=None):
    """One request on its own connection; returns (status, body bytes)."""
    reader, writer = await asyncio.open_connection(host, port)
    data = json.dumps(body).encode() if body is not None else b""
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data)
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, payload = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), payload


async def open_completion(host, port, body):
    """Sends POST /v1/completions with `body` and returns the open (reader, writer), nothing read."""
    reader, writer = await asyncio.open_connection(host, port)
    data = json.dumps(body).encode()
    writer.write(f"POST /v1/completions HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
    await writer.drain()
    return reader, writer


async def read_until(reader, marker, seen=b""):
    """Reads a streamed response until `marker` has come or the server closed the connection;
    returns everything read (after `seen`, what was read before)."""
    while marker not in seen:
        chunk = await reader.read(65536)
        if not chunk:
            break
        seen += chunk
    return seen
