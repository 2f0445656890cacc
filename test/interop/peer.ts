/**
 * The interop matrix's two sides. A server peer is an MCP server with its authorization server, run as
 * its authors ship it; a client peer is an MCP client with its OAuth, run as its users run it. Every cell
 * of the matrix (test/interop/matrix.interop.ts) drives one client against one server through the same
 * scenario, so a peer only has to say how it starts, how it calls a tool, and what it counted.
 */
import type { InteropBrowser } from "./browser.js";

/** Token requests the server received, by grant type: a login is one `authorization_code`. */
export interface GrantCounts {
  authorization_code: number;
  refresh_token: number;
}

export interface RunningServer {
  /** The MCP endpoint, on 127.0.0.1. It serves the tool `add({ a, b })`, answering the sum as text. */
  readonly mcpUrl: string;
  /** Access tokens live this long, so that the scenario can wait past it and watch a refresh. */
  readonly accessTokenTtlMs: number;
  /** Token requests received so far, by grant type. */
  grants(): Promise<GrantCounts>;
  close(): Promise<void>;
}

export interface ServerPeer {
  /** The column header, e.g. "mcp-oauth InMemoryOAuthProvider (defaults)". */
  readonly name: string;
  start(): Promise<RunningServer>;
}

export interface ToolCall {
  a: number;
  b: number;
  /** Milliseconds to wait before this call (after the previous one answered). */
  waitBeforeMs: number;
}

export interface ClientSession {
  mcpUrl: string;
  /** Where this client keeps its persistent store: the same folder for both sessions of a cell, empty at first. */
  stateDir: string;
  /** Plays the user's browser: every authorization URL goes to `browser.open` (or, from another process, `browser.endpoint`). */
  browser: InteropBrowser;
  /** `add` calls in order, in one connected client. */
  calls: ToolCall[];
}

export interface ClientPeer {
  /** The row header, e.g. "MCP TypeScript SDK 1.x". */
  readonly name: string;
  /**
   * Throws, saying why, when the peer cannot run here (a missing venv, package or binary). The suite
   * fails on it: a peer that could not be set up is a red run, never a skipped cell.
   */
  check?(): Promise<void>;
  /**
   * The client sends a stored access token up to its last millisecond (the Python SDK's `is_token_valid`
   * has no margin) and answers the 401 of a token that expired on the way with a new login, not a refresh.
   * Its second instance then starts only once the first one's token has expired for certain, so that the
   * cell tests the refresh from the shared store rather than a coin toss on the clock (this race failed
   * CI twice, on FastMCP's server and on ours).
   */
  readonly usesTokensWithoutMargin?: boolean;
  /** One client instance (or process) from start to close: connects, makes the calls, returns each call's text. */
  session(session: ClientSession): Promise<string[]>;
}
