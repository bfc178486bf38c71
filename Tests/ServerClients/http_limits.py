"""Checks the HTTP front's bounds on a Swiftlet server started with small limits.

    python3 http_limits.py HOST PORT connections MAX_CONNECTIONS MAX_HEADER_BYTES MAX_BODY_BYTES
    python3 http_limits.py HOST PORT idle IDLE_SECONDS

`connections`: with MAX_CONNECTIONS connections open, one more is not served until one of them
closes; a head over MAX_HEADER_BYTES gets 400 and a closed connection; a body over MAX_BODY_BYTES
gets 413 in OpenAI's error shape, by its declared length and by its chunked length.
`idle`: a silent connection, and one that stops halfway through its head, are closed after about
IDLE_SECONDS, while one that keeps asking is served.
"""
import asyncio
import json
import sys
import time

import raw_http

host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]


async def read_response(reader):
    """(status, body) of one response with a Content-Length, or (None, b"") at EOF."""
    line = await reader.readline()
    if not line:
        return None, b""
    status = int(line.split()[1])
    length = 0
    while (h := await reader.readline()) not in (b"\r\n", b""):
        if h.lower().startswith(b"content-length:"):
            length = int(h.split(b":")[1])
    return status, await reader.readexactly(length)


async def get_health(reader, writer):
    writer.write(f"GET /health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    await writer.drain()
    return await read_response(reader)


def check_openai_413(status, body):
    assert status == 413, (status, body)
    error = json.loads(body)["error"]
    assert error["type"] == "invalid_request_error" and "too large" in error["message"], error


async def connections(max_connections, max_header, max_body):
    held = [await asyncio.open_connection(host, port) for _ in range(max_connections)]
    for r, w in held:
        assert (await get_health(r, w))[0] == 200
    extra_r, extra_w = await asyncio.open_connection(host, port)
    extra_w.write(f"GET /health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    await extra_w.drain()
    try:
        got = await asyncio.wait_for(read_response(extra_r), 1.0)
        raise AssertionError(f"connection {max_connections + 1} was served while {max_connections} were open: {got}")
    except asyncio.TimeoutError:
        pass
    held[0][1].close()
    status, _ = await asyncio.wait_for(read_response(extra_r), 30)
    assert status == 200, status
    print(f"connection {max_connections + 1} waited until one of {max_connections} closed")
    for _, w in held[1:] + [(extra_r, extra_w)]:
        w.close()

    # A head over the limit: 431 with an OpenAI-shaped body, then the server closes the connection.
    r, w = await asyncio.open_connection(host, port)
    w.write(f"GET /health HTTP/1.1\r\nHost: {host}\r\nX-Padding: {'a' * (2 * max_header)}\r\n\r\n".encode())
    await w.drain()
    status, body = await asyncio.wait_for(read_response(r), 30)
    assert status == 431, (status, body)
    error = json.loads(body)["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == "request_header_fields_too_large", error
    assert await asyncio.wait_for(r.read(), 30) == b"", "the connection stayed open after an oversized head"
    w.close()
    print(f"a {2 * max_header}-byte header got 431 with a JSON error and a closed connection")

    # A request line the decoder cannot parse, after a good request on the same connection: 400 JSON.
    r, w = await asyncio.open_connection(host, port)
    assert (await get_health(r, w))[0] == 200
    w.write(b"NOT AN HTTP REQUEST\r\n\r\n")
    await w.drain()
    status, body = await asyncio.wait_for(read_response(r), 30)
    assert status == 400, (status, body)
    assert json.loads(body)["error"]["type"] == "invalid_request_error", body
    assert await asyncio.wait_for(r.read(), 30) == b"", "the connection stayed open after a malformed request"
    w.close()
    print("a malformed request line got 400 with a JSON error and a closed connection")

    # Bodies over the limit: declared, and sent chunked without a length.
    big = json.dumps({"prompt": "a" * (2 * max_body)}).encode()
    check_openai_413(*await raw_http.request(host, port, "POST", "/v1/completions", {"prompt": "a" * (2 * max_body)}))
    r, w = await asyncio.open_connection(host, port)
    w.write(f"POST /v1/completions HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Transfer-Encoding: chunked\r\n\r\n".encode())
    for k in range(0, len(big), 4096):
        piece = big[k:k + 4096]
        w.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
    w.write(b"0\r\n\r\n")
    await w.drain()
    check_openai_413(*await asyncio.wait_for(read_response(r), 30))
    w.close()
    print(f"bodies of {len(big)} bytes got 413 (declared and chunked)")
    # Still serving.
    status, payload = await raw_http.request(host, port, "POST", "/v1/completions", {"prompt": "Once", "max_tokens": 2})
    assert status == 200, payload


async def idle(seconds):
    async def closed_after(send):
        r, w = await asyncio.open_connection(host, port)
        if send:
            w.write(send)
            await w.drain()
        start = time.monotonic()
        data = await asyncio.wait_for(r.read(), 30 + 10 * seconds)
        w.close()
        return time.monotonic() - start, data

    silent, partial = await asyncio.gather(closed_after(b""),
                                           closed_after(f"GET /health HTTP/1.1\r\nHost: {host}\r\nX-Wait".encode()))
    for name, (t, data) in (("silent", silent), ("half a head", partial)):
        assert t >= 0.8 * seconds, f"{name}: closed after {t:.2f} s, before the idle timeout"
        print(f"{name} connection closed after {t:.2f} s ({len(data)} bytes answered)")
    # A connection that keeps asking is served as usual.
    r, w = await asyncio.open_connection(host, port)
    for _ in range(3):
        await asyncio.sleep(seconds / 4)
        assert (await get_health(r, w))[0] == 200
    w.close()


if mode == "connections":
    asyncio.run(connections(*map(int, sys.argv[4:7])))
elif mode == "idle":
    asyncio.run(idle(float(sys.argv[4])))
print("ok")
