export interface ScopeInputs {
  /** `scope` of the WWW-Authenticate challenge that started this authorization. */
  challenged: string | undefined;
  /** The `scopes` option. */
  configured: readonly string[];
  /** `scopes_supported` of the protected resource metadata. */
  resourceScopes: readonly string[] | undefined;
  /** `scopes_supported` of the authorization server metadata. */
  serverScopes: readonly string[] | undefined;
  /** Whether the grant can yield a refresh token (not client credentials): only then `offline_access`. Default true. */
  refreshable?: boolean;
  /** On a step-up: what was requested and granted before, kept so the new token loses nothing. */
  previous?: readonly (string | undefined)[];
}

/**
 * MCP scope selection (2025-11-25 "Scope Selection Strategy", SEP-835, SEP-2207):
 * the challenged scope together with the configured scopes; with neither, every scope the resource
 * lists; with none of those, no `scope` parameter at all. A step-up asks for the union with what came
 * before. `offline_access` is added only when the authorization server lists it, so a refresh token can
 * be issued without asking servers that do not know the scope.
 */
export function selectScopes(inputs: ScopeInputs): string | undefined {
  const scopes = new Set<string>();
  const add = (value: string | readonly string[] | undefined) => {
    const list = typeof value === "string" ? value.split(" ") : (value ?? []);
    for (const scope of list) if (scope) scopes.add(scope);
  };
  for (const earlier of inputs.previous ?? []) add(earlier);
  add(inputs.challenged);
  add(inputs.configured);
  if (scopes.size === 0) add(inputs.resourceScopes);
  if (scopes.size > 0 && inputs.refreshable !== false && inputs.serverScopes?.includes("offline_access")) scopes.add("offline_access");
  return scopes.size > 0 ? [...scopes].join(" ") : undefined;
}
