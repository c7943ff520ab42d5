/**
 * A real OAuth 2.0 / OpenID authorization server for tests: the certified
 * `oidc-provider`, started in this process on 127.0.0.1 — never a
 * hand-written fake. Client credentials, token introspection (RFC 7662),
 * revocation and JWT access tokens (RFC 9068) are switched on.
 *
 * Clients: `ci` (client_credentials, may ask for every tufbox scope and the
 * custom `rdfm_admin_rw`), `tufbox` (what tufbox authenticates as to
 * introspect). Resource indicators choose the token kind:
 *   urn:tufbox:opaque  opaque token, aud urn:tufbox, 300 s
 *   urn:tufbox:jwt     JWT (ES256), aud urn:tufbox, 300 s
 *   urn:tufbox:short / urn:tufbox:short-jwt   the same, 2 s
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair } from "jose";
import Provider, { type ClientMetadata, type ResourceServer } from "oidc-provider";

export const TUFBOX_CLIENT = { id: "tufbox", secret: "tufbox-introspection-secret" };
export const CI_CLIENT = { id: "ci", secret: "ci-client-secret" };
export const AUDIENCE = "urn:tufbox";
const SCOPES = ["tufbox:read", "tufbox:artifacts:write", "tufbox:metadata:sign", "tufbox:admin", "rdfm_admin_rw"];

export type Resource = "urn:tufbox:opaque" | "urn:tufbox:jwt" | "urn:tufbox:short" | "urn:tufbox:short-jwt";

export interface OidcServer {
  readonly issuer: string;
  readonly introspectionUrl: string;
  readonly jwksUrl: string;
  /** introspection requests the server answered so far */
  readonly introspections: number;
  /** the signing key id in use */
  readonly kid: string;
  /** a client-credentials access token for `ci` */
  token(resource: Resource, scope: string): Promise<string>;
  /** RFC 7009 revocation, as the `ci` client */
  revoke(token: string): Promise<void>;
  /** stop, then start again on the same port with a new signing key (rotation) */
  rotateKey(): Promise<void>;
  stop(): Promise<void>;
}

async function signingKey(kid: string) {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  return { ...(await exportJWK(privateKey)), kid, alg: "ES256", use: "sig" };
}

function resourceServer(resource: string): ResourceServer {
  const jwt = resource.endsWith("jwt");
  const ttl = resource.includes("short") ? 2 : 300;
  return {
    scope: SCOPES.join(" "),
    audience: AUDIENCE,
    accessTokenTTL: ttl,
    accessTokenFormat: jwt ? "jwt" : "opaque",
    ...(jwt ? { jwt: { sign: { alg: "ES256" } } } : {}),
  };
}

function provider(issuer: string, keys: object[]): Provider {
  const client = (id: string, secret: string, grants: string[]): ClientMetadata => ({
    client_id: id,
    client_secret: secret,
    grant_types: grants,
    redirect_uris: [],
    response_types: [],
    id_token_signed_response_alg: "ES256",
    scope: SCOPES.join(" "),
  });
  return new Provider(issuer, {
    jwks: { keys: keys as never },
    clients: [
      client(CI_CLIENT.id, CI_CLIENT.secret, ["client_credentials"]),
      client(TUFBOX_CLIENT.id, TUFBOX_CLIENT.secret, []),
    ],
    scopes: ["openid", ...SCOPES],
    // The resource server's lifetime (2 s for the "short" resources), else 300 s.
    ttl: {
      ClientCredentials: (_ctx: unknown, token: { resourceServer?: { accessTokenTTL?: number } }) =>
        token.resourceServer?.accessTokenTTL ?? 300,
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => "urn:tufbox:opaque",
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx: unknown, resource: string) => {
          if (!resource.startsWith("urn:tufbox:")) throw new Error(`unknown resource ${resource}`);
          return resourceServer(resource);
        },
      },
    },
  });
}

export async function startOidc(): Promise<OidcServer> {
  let introspections = 0;
  let keyNumber = 1;
  let keys = [await signingKey(`k${keyNumber}`)];
  let handler: ReturnType<Provider["callback"]> = async () => {};
  const listen = (port: number) =>
    new Promise<Server>((resolve, reject) => {
      const server = createServer((req, res) => {
        if (req.url?.startsWith("/token/introspection")) introspections++;
        handler(req, res);
      });
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve(server));
    });
  let server = await listen(0);
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;
  handler = provider(issuer, keys).callback();
  const basic = (c: { id: string; secret: string }) => `Basic ${btoa(`${c.id}:${c.secret}`)}`;
  const form = { "content-type": "application/x-www-form-urlencoded" };

  return {
    issuer,
    introspectionUrl: `${issuer}/token/introspection`,
    jwksUrl: `${issuer}/jwks`,
    get introspections() {
      return introspections;
    },
    get kid() {
      return keys[0]!.kid;
    },
    async token(resource, scope) {
      const r = await fetch(`${issuer}/token`, {
        method: "POST",
        headers: { authorization: basic(CI_CLIENT), ...form },
        body: new URLSearchParams({ grant_type: "client_credentials", scope, resource }),
      });
      const body = (await r.json()) as { access_token?: string };
      if (r.status !== 200 || !body.access_token) throw new Error(`token request failed: ${JSON.stringify(body)}`);
      return body.access_token;
    },
    async revoke(token) {
      const r = await fetch(`${issuer}/token/revocation`, {
        method: "POST",
        headers: { authorization: basic(CI_CLIENT), ...form },
        body: new URLSearchParams({ token }),
      });
      if (r.status !== 200) throw new Error(`revocation failed: HTTP ${r.status}`);
    },
    async rotateKey() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      keys = [await signingKey(`k${++keyNumber}`)];
      handler = provider(issuer, keys).callback();
      server = await listen(port);
    },
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
