import Keyv from "keyv";
import type { OAuthLogger } from "../shared/oauth-logger.js";

let memoryStore: Keyv | undefined;

/**
 * One in-memory store per process, so a second client for the same server in the same process reuses
 * the tokens instead of opening the browser again. Keys are namespaced per server, so sharing is safe.
 */
export function defaultTokenStorage(logger: OAuthLogger): Keyv {
  if (!memoryStore) {
    memoryStore = new Keyv();
    logger.warn(
      "mcp-oauth: using in-memory token storage; tokens are lost when the process exits. Pass `tokenStorage` (e.g. a Redis-backed Keyv) to keep them.",
    );
  }
  return memoryStore;
}
