/**
 * The client under test for `@modelcontextprotocol/conformance` (run by `npm run test:conformance`).
 *
 * It is an ordinary user program: it imports the package by name and uses only its public options.
 * What a deployment would put in its configuration (pre-registered credentials, a private key, an
 * identity provider) arrives in MCP_CONFORMANCE_CONTEXT; the server URL is the last argument.
 * It connects, lists tools, calls `test-tool`, and exits 0, or 1 with the error on stderr.
 */
import Keyv from "keyv";
import { z } from "zod";
import { isOAuthError, OAuth, type OAuthOptions } from "mcp-oauth";
import { Client } from "mcp-oauth/client";

/** Our Client ID Metadata Document URL. The suite's authorization server expects exactly this one. */
const clientMetadataUrl = "https://conformance-test.local/client-metadata.json";

const contextSchema = z.object({
  client_id: z.string().optional(),
  client_secret: z.string().optional(),
  private_key_pem: z.string().optional(),
  signing_algorithm: z.enum(["ES256", "RS256"]).optional(),
  idp_client_id: z.string().optional(),
  idp_id_token: z.string().optional(),
  idp_token_endpoint: z.string().optional(),
});
type Context = z.infer<typeof contextSchema>;

/**
 * The browser: the suite's authorization server approves at once with a 302 to our redirect URI, so
 * following redirects delivers the code to the library's real loopback callback server.
 */
async function openBrowser(url: string): Promise<void> {
  const page = await fetch(url, { redirect: "follow" });
  await page.body?.cancel();
}

/**
 * A machine-to-machine deployment is configured as one: nothing in the credentials themselves says
 * whether a client id and secret are for the client credentials grant or for a pre-registered
 * interactive client, so this program, like a user's, states it.
 */
function isMachineToMachine(scenario: string): boolean {
  return scenario.startsWith("auth/client-credentials-");
}

function optionsFor(mcpUrl: string, scenario: string, context: Context): OAuthOptions {
  const options: OAuthOptions = {
    mcpUrl,
    tokenStorage: new Keyv(), // a fresh store: every run must perform the whole flow
    openBrowser,
    clientMetadataUrl,
    callbackTimeoutMs: 10_000,
    logger: { warn: (message) => console.error(message) },
  };
  if (context.client_id) options.clientId = context.client_id;
  if (context.client_secret) options.clientSecret = context.client_secret;
  if (context.private_key_pem) {
    options.privateKey = context.private_key_pem;
    if (context.signing_algorithm) options.signingAlgorithm = context.signing_algorithm;
  }
  if (isMachineToMachine(scenario)) options.grant = "client_credentials";
  if (context.idp_id_token && context.idp_token_endpoint && context.idp_client_id) {
    options.grant = "enterprise_managed";
    options.identityProvider = { tokenEndpoint: context.idp_token_endpoint, clientId: context.idp_client_id, idToken: context.idp_id_token };
  }
  return options;
}

async function main(): Promise<void> {
  const mcpUrl = process.argv.at(-1);
  if (!mcpUrl || !URL.canParse(mcpUrl)) throw new Error("usage: client.ts <mcp-server-url>");
  const scenario = process.env.MCP_CONFORMANCE_SCENARIO ?? "";
  const context = contextSchema.parse(JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT ?? "{}"));
  const client = new Client(mcpUrl, { auth: new OAuth(optionsFor(mcpUrl, scenario, context)) });
  try {
    await client.connect();
    const { tools } = await client.listTools();
    console.error(`tools: ${tools.map((tool) => tool.name).join(", ")}`);
    await client.callTool("test-tool");
    console.error("test-tool called");
  } finally {
    await client.close();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(isOAuthError(error) ? `OAuthError ${error.code}: ${error.message}` : error);
    process.exit(1);
  },
);
