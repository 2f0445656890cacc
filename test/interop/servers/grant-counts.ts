import type { GrantCounts } from "../peer.js";

/** Every server peer's access tokens live this long: short enough to wait past, long enough for a login and a call. */
export const interopTokenTtlSeconds = 4;

/** Counts the token requests' grant types. */
export function grantCounts(grantTypes: readonly (string | undefined)[]): GrantCounts {
  return {
    authorization_code: grantTypes.filter((type) => type === "authorization_code").length,
    refresh_token: grantTypes.filter((type) => type === "refresh_token").length,
  };
}
