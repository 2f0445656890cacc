"""The Python side of test/fernet-interop.test.ts.

Reads one JSON request on stdin and prints one JSON answer. Uses Python's `cryptography` Fernet and, for
the "kv-*" operations, py-key-value's own FernetEncryptionWrapper over its MemoryStore (what FastMCP uses).
"""
import asyncio
import json
import sys


async def main() -> None:
    request = json.load(sys.stdin)
    op = request["op"]
    from cryptography.fernet import Fernet, MultiFernet

    fernet = MultiFernet([Fernet(key.encode()) for key in request["keys"]])
    if op == "encrypt":
        print(json.dumps({"token": fernet.encrypt(request["plaintext"].encode()).decode()}))
    elif op == "decrypt":
        print(json.dumps({"plaintext": fernet.decrypt(request["token"].encode()).decode()}))
    elif op in ("kv-write", "kv-read"):
        from key_value.aio.stores.memory import MemoryStore
        from key_value.aio.wrappers.encryption import FernetEncryptionWrapper

        inner = MemoryStore()
        if "source_material" in request:
            wrapper = FernetEncryptionWrapper(inner, source_material=request["source_material"], salt=request["salt"])
        else:
            wrapper = FernetEncryptionWrapper(inner, fernet=fernet)
        if op == "kv-write":
            await wrapper.put("k", request["value"], collection="c")
            print(json.dumps({"envelope": await inner.get("k", collection="c")}))
        else:
            await inner.put("k", request["envelope"], collection="c")
            print(json.dumps({"value": await wrapper.get("k", collection="c")}))
    else:
        raise SystemExit(f"unknown op {op}")


asyncio.run(main())
