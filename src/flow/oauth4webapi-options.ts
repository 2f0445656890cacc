import { allowInsecureRequests, customFetch, type AuthorizationServer, type Client } from "oauth4webapi";
import type { FetchLike } from "../shared/back-channel.js";
import type { AuthorizationServerMetadata, ClientRecord } from "../store/token-store.js";

/**
 * Per-call options for oauth4webapi. Every endpoint was already checked by `assertSecureEndpoint` (and
 * the back channel checks each request again), so `http:` here can only be a loopback host reached from a
 * loopback MCP URL, or any host under `allowInsecureHttp`; oauth4webapi's switch is all-or-nothing, hence per call.
 */
export function httpOptions(endpoint: string | URL, fetch: FetchLike) {
  return {
    [customFetch]: fetch as (url: string, init: RequestInit) => Promise<Response>,
    [allowInsecureRequests]: new URL(endpoint).protocol === "http:",
  };
}

export function asAuthorizationServer(metadata: AuthorizationServerMetadata): AuthorizationServer {
  return metadata as AuthorizationServer;
}

export function asClient(record: ClientRecord): Client {
  return record as Client;
}
