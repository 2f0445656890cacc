"""FastMCP's own OAuth client for the interop matrix (driven by test/interop/clients/fastmcp.ts).

Used as FastMCP's users use it: `Client(url, auth=OAuth(...))` with a persistent token store. Discovery,
registration, PKCE, the loopback callback server, the code exchange and refresh are all FastMCP's (and
the MCP SDK's under it). Only the user's browser is replaced: FastMCP opens the authorization URL with
`webbrowser.open`, which here asks the matrix's browser stand-in (INTEROP_BROWSER_ENDPOINT) to walk it.

stdin: {"mcpUrl": ..., "stateDir": ..., "calls": [{"a": 2, "b": 3, "waitBeforeMs": 0}, ...], "timeoutSeconds": 55}
stdout: one JSON line {"texts": [...]}, the text of each call's result, in order.
"""

from __future__ import annotations

import asyncio
import faulthandler
import json
import os
import socket
import sys
import threading
import time
import urllib.request
import webbrowser
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse, parse_qs

from fastmcp import Client
from fastmcp.client.auth import OAuth
from key_value.aio.stores.filetree import (
    FileTreeStore,
    FileTreeV1CollectionSanitizationStrategy,
    FileTreeV1KeySanitizationStrategy,
)

browser_endpoint = os.environ.get("INTEROP_BROWSER_ENDPOINT", "")


def wait_until_listening(url: str, seconds: float) -> None:
    """Waits (bounded) until something accepts connections at url's host and port."""
    target = urlparse(url)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((target.hostname or "127.0.0.1", target.port or 80), timeout=1):
                return
        except OSError:
            time.sleep(0.05)


def open_in_interop_browser(url: str, new: int = 0, autoraise: bool = True) -> bool:
    """Replaces webbrowser.open. FastMCP opens the browser before it starts its callback server, which a
    person's seconds of clicking always covers but an instant scripted walk would not: so the walk is
    asked for only once the redirect_uri's port listens, from a thread, as webbrowser.open returns at once."""
    redirect_uri = parse_qs(urlparse(url).query).get("redirect_uri", [""])[0]

    def hand_over() -> None:
        if redirect_uri:
            wait_until_listening(redirect_uri, 15)
        with urllib.request.urlopen(f"{browser_endpoint}?url={quote(url, safe='')}", timeout=10) as response:
            if response.status != 204:
                print(f"interop browser answered {response.status}", file=sys.stderr, flush=True)

    threading.Thread(target=hand_over, daemon=True).start()
    return True


webbrowser.open = open_in_interop_browser  # type: ignore[assignment]


def text_of(result: Any) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


async def session(request: dict[str, Any]) -> list[str]:
    state_dir = Path(request["stateDir"])
    state_dir.mkdir(parents=True, exist_ok=True)
    # FastMCP's documented persistent store: one JSON file per key, with the V1 sanitization strategies
    # (the keys are URLs, which are not file names).
    store = FileTreeStore(
        data_directory=state_dir,
        key_sanitization_strategy=FileTreeV1KeySanitizationStrategy(state_dir),
        collection_sanitization_strategy=FileTreeV1CollectionSanitizationStrategy(state_dir),
    )
    # callback_host: the loopback callback on 127.0.0.1 rather than "localhost", so that nothing here
    # depends on how the name resolves; callback_timeout bounds the wait for the browser's redirect.
    oauth = OAuth(token_storage=store, callback_host="127.0.0.1", callback_timeout=30)
    texts: list[str] = []
    async with Client(request["mcpUrl"], auth=oauth) as client:
        for call in request["calls"]:
            await asyncio.sleep(call["waitBeforeMs"] / 1000)
            result = await client.call_tool("add", {"a": call["a"], "b": call["b"]})
            texts.append(text_of(result))
    return texts


def main() -> None:
    request: dict[str, Any] = json.loads(sys.stdin.read())
    timeout = float(request.get("timeoutSeconds", 55))
    # A hang shows where it hangs: every thread's stack on stderr, then exit.
    faulthandler.dump_traceback_later(timeout, exit=True)
    texts = asyncio.run(session(request))
    faulthandler.cancel_dump_traceback_later()
    print(json.dumps({"texts": texts}), flush=True)


if __name__ == "__main__":
    main()
