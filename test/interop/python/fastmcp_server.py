"""FastMCP's own OAuth server side for the interop matrix (driven by test/interop/servers/fastmcp.ts).

A FastMCP server over Streamable HTTP on 127.0.0.1, protected by FastMCP's InMemoryOAuthProvider on its
default options, dynamic client registration on as FastMCP documents it, plus the variant's options.

Usage: fastmcp_server.py '{"accessTokenTtlSeconds": 4, "requiredScopes": [...], "revocation": true}'

Prints one JSON line {"mcpUrl": ...} on stdout once it answers HTTP, and exits when stdin closes.
GET /test/grants answers the token requests received so far by grant type.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import threading
from collections import Counter
from typing import Any
from urllib.parse import parse_qs

import fastmcp.server.auth.providers.in_memory as in_memory
from fastmcp import FastMCP
from fastmcp.server.auth.auth import ClientRegistrationOptions, RevocationOptions
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

options: dict[str, Any] = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}

# The access token lifetime is a module constant of fastmcp.server.auth.providers.in_memory,
# DEFAULT_ACCESS_TOKEN_EXPIRY_SECONDS (1 hour), read at each token issue: shortening it is the only way
# to make the scenario wait past an access token without touching the provider's options.
in_memory.DEFAULT_ACCESS_TOKEN_EXPIRY_SECONDS = int(options.get("accessTokenTtlSeconds", 4))

grants: Counter[str] = Counter()


class GrantCounter:
    """Counts POST /token requests by grant_type, then hands the unread body on to FastMCP's handler."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/token":
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = b""
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        grant_type = parse_qs(body.decode("latin-1")).get("grant_type", [""])[0]
        grants[grant_type] += 1

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


def main() -> None:
    # The port is bound here, before the provider exists, because the provider's base_url (its issuer,
    # endpoints and resource) must name the address the clients really reach.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"

    required_scopes = options.get("requiredScopes")
    auth = in_memory.InMemoryOAuthProvider(
        base_url=base_url,
        client_registration_options=ClientRegistrationOptions(enabled=True),
        revocation_options=RevocationOptions(enabled=True) if options.get("revocation") else None,
        required_scopes=list(required_scopes) if required_scopes else None,
    )
    mcp = FastMCP("interop", auth=auth)

    @mcp.tool
    def add(a: int | float, b: int | float) -> str:
        """Adds two numbers."""
        total = a + b
        return str(int(total)) if float(total).is_integer() else str(total)

    @mcp.custom_route("/test/grants", methods=["GET"])
    async def grant_counts(_: Request) -> Response:
        return JSONResponse({"authorization_code": grants["authorization_code"], "refresh_token": grants["refresh_token"]})

    async def announce() -> None:
        # Says where to connect only once the app answers, so that the TS side never races uvicorn's startup.
        loop = asyncio.get_running_loop()
        for _ in range(200):
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(f"GET /test/grants HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
                await writer.drain()
                status = await asyncio.wait_for(reader.readline(), 2)
                writer.close()
                if b" 200 " in status:
                    print(json.dumps({"mcpUrl": f"{base_url}/mcp"}), flush=True)
                    return
            except OSError:
                pass
            await asyncio.sleep(0.05)
        print("the server did not answer within 10 s", file=sys.stderr, flush=True)
        loop.call_soon(os._exit, 1)

    async def run() -> None:
        announcer = asyncio.create_task(announce())
        await mcp.run_http_async(
            transport="http",
            host="127.0.0.1",
            port=port,
            sockets=[sock],
            show_banner=False,
            log_level="warning",
            middleware=[Middleware(GrantCounter)],
        )
        announcer.cancel()

    asyncio.run(run())


def exit_when_stdin_closes() -> None:
    # The parent closes our stdin to stop us (or dies): nothing else needs to be cleaned up.
    sys.stdin.read()
    os._exit(0)


if __name__ == "__main__":
    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    main()
