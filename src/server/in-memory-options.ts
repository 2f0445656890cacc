import { z } from "zod";
import type { OAuthProviderOptions } from "./options.js";
import { redirectUriProblem } from "./redirect-uri.js";
import type { RegisteredClient } from "./types.js";

export interface InMemoryOAuthProviderOptions extends OAuthProviderOptions {
  /**
   * Approve every authorization request at once, without the consent page. For tests and demos only:
   * a real server must show first-time clients a consent page (RFC 8252 §8.6). Default `false`.
   */
  autoApprove?: boolean;
  /**
   * Who the user is, from the request to `/authorize` or the consent page; undefined answers 401. This is
   * where a real deployment checks its session cookie. Default: everyone is `"user"`.
   */
  authenticateUser?: (request: Request) => string | undefined | Promise<string | undefined>;
  /** Pre-registered clients (secrets as `hashToken(secret)` in `client_secret_hash`). */
  clients?: RegisteredClient[];
  /**
   * Most authorization requests kept waiting for the user's decision (each for 10 minutes). When that
   * many wait, a new one is answered `temporarily_unavailable` (503) instead of evicting another user's:
   * anonymous `/authorize` requests can fill the table (the rate limits slow that down) but never take
   * away a consent someone is reading. Bounds their memory. Default 10000.
   */
  maxPendingConsents?: number;
  /**
   * Most clients `/register` accepts (pre-registered `clients` do not count); beyond it registration
   * answers 403 `access_denied`. Bounds their memory. Default 1000.
   */
  maxRegisteredClients?: number;
  /**
   * How long a dynamically registered client that has not yet obtained a token is kept, in seconds;
   * after that it is forgotten (clients register again when told their id is unknown). So registrations
   * from a flood cannot hold `maxRegisteredClients` full for longer than this. A client that obtained a
   * token is kept. Default 3600.
   */
  unusedRegistrationTtlSeconds?: number;
}

/** The zod check of the options above, added to the base ones. */
export const inMemoryOptionsShape = {
  autoApprove: z.boolean().optional(),
  authenticateUser: z.custom<(request: Request) => unknown>((value) => typeof value === "function", "expected a function").optional(),
  maxPendingConsents: z.number().int().positive().optional(),
  maxRegisteredClients: z.number().int().positive().optional(),
  unusedRegistrationTtlSeconds: z.number().int().positive().optional(),
  clients: z
    .array(
      z
        .looseObject({
          client_id: z.string().min(1),
          redirect_uris: z.array(z.string()).min(1),
          token_endpoint_auth_method: z.enum(["none", "client_secret_basic", "client_secret_post"]),
          grant_types: z.array(z.enum(["authorization_code", "refresh_token"])).min(1),
          response_types: z.array(z.literal("code")).min(1),
          client_secret_hash: z.string().optional(),
          application_type: z.enum(["native", "web"]).optional(),
        })
        .refine((c) => c.token_endpoint_auth_method === "none" || c.client_secret_hash, "a confidential client needs client_secret_hash")
        // The same redirect URI rules as for /register: configured by hand is no reason to trust a `javascript:` URI.
        .superRefine((c, context) => {
          for (const [i, uri] of c.redirect_uris.entries()) {
            const problem = redirectUriProblem(uri, c.application_type);
            if (problem) context.addIssue({ code: "custom", path: ["redirect_uris", i], message: `redirect URI ${JSON.stringify(uri.slice(0, 200))} ${problem}` });
          }
        }),
    )
    .optional(),
} satisfies Record<Exclude<keyof InMemoryOAuthProviderOptions, keyof OAuthProviderOptions>, z.ZodType>;
