import { describe, expect, it } from "vitest";
import { deriveFernetKey, Fernet, FernetEncryptionWrapper } from "../src/index.js";
import { findPython, runPython } from "./support/python.js";

// Values written by another implementation: Python's `cryptography` and py-key-value (FastMCP's storage).
const crypto = findPython(["cryptography.fernet"]);
const keyValue = findPython(["cryptography.fernet", "key_value.aio.wrappers.encryption", "key_value.aio.stores.memory"]);
if (!crypto.python) console.warn(`SKIPPED Python cryptography interop: ${crypto.reason}`);
if (!keyValue.python) console.warn(`SKIPPED py-key-value interop: ${keyValue.reason}`);

const record = { access_token: "AT", token_type: "Bearer", refresh_token: "RT", expires_at: 1795295734578, scope: "read write", note: "é ✓ \u2028" };

describe.skipIf(!crypto.python)("Fernet tokens shared with Python's cryptography", () => {
  const python = crypto.python as string;
  it("decrypts a token Python made, with key rotation on both sides", () => {
    const [oldKey, newKey] = [Fernet.generateKey(), Fernet.generateKey()];
    const { token } = runPython<{ token: string }>(python, { op: "encrypt", keys: [oldKey], plaintext: "from python ✓" });
    expect(new Fernet([newKey, oldKey]).decrypt(token).toString("utf8")).toBe("from python ✓");
    const ours = new Fernet([newKey, oldKey]).encrypt("from node ✓");
    expect(runPython<{ plaintext: string }>(python, { op: "decrypt", keys: [newKey], plaintext: "", token: ours }).plaintext).toBe("from node ✓");
  });
});

describe.skipIf(!keyValue.python)("envelopes shared with py-key-value's FernetEncryptionWrapper", () => {
  const python = keyValue.python as string;
  it("reads what FastMCP's wrapper wrote, and FastMCP's wrapper reads what we wrote", () => {
    const key = Fernet.generateKey();
    const ours = new FernetEncryptionWrapper({ get: async () => undefined, set: async () => true, delete: async () => true }, { keys: key });
    const { envelope } = runPython<{ envelope: unknown }>(python, { op: "kv-write", keys: [key], value: record });
    expect(ours.open(envelope)).toEqual(record);
    const { value } = runPython<{ value: unknown }>(python, { op: "kv-read", keys: [key], envelope: ours.seal(record) });
    expect(value).toEqual(record);
  });

  it("derives the same key from source_material and salt", () => {
    const { envelope } = runPython<{ envelope: unknown }>(python, { op: "kv-write", keys: [Fernet.generateKey()], source_material: "pass phrase", salt: "salt-1", value: record });
    expect(new FernetEncryptionWrapper({ get: async () => undefined, set: async () => true, delete: async () => true }, { keys: deriveFernetKey("pass phrase", "salt-1") }).open(envelope)).toEqual(record);
  });
});
