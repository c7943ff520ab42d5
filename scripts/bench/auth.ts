/**
 * What authentication costs on POST /api/v1/artifacts (request → 202), by
 * kind of token, against one tufbox server process and a real authorization
 * server (oidc-provider, in this process, on loopback):
 *
 *   admin        TUFBOX_ADMIN_TOKEN (a hash compared in memory)
 *   tufbox       a stored tufbox token (one store read per request)
 *   oauth-cached the same introspected token every time (answer cached)
 *   oauth-uncached a fresh token every request (one RFC 7662 round trip each)
 *   jwt          a JWT access token verified against the cached JWKS
 *
 *   bun scripts/bench/auth.ts [--requests 300] [--bins 256] [--publish 1]
 *
 * Requests go one at a time (latency, not throughput), modes interleaved in a
 * shuffled order each round so drift and position hit every mode alike; each
 * adds one artifact. By default with publish_artifacts: false, so the
 * publisher does not compete for the 2 cores while requests are timed (the
 * route, its auth and the durable accept are the same); --publish 1 lets
 * every request publish, as in production. The
 * overhead of a mode is its median minus the tufbox token's median. The AS
 * runs on the same 2 cores as tufbox and the client, so its own CPU time is
 * in the uncached figure too: a remote AS adds its network round trip instead.
 */
import { rmSync } from "node:fs";
import { AUDIENCE, startOidc, TUFBOX_CLIENT } from "../../test/helpers/oidc.ts";
import { artifacts, bootstrappedServer, flag, percentile } from "./lib.ts";
import { TOKEN } from "../../test/helpers/server.ts";
import { prng } from "../../test/helpers/random.ts";

const requests = flag("requests", 300);
const bins = flag("bins", 256);
const publish = flag("publish", 0) === 1;

const oidc = await startOidc();
const { server, dataDir } = await bootstrappedServer(bins, {
  TUFBOX_OAUTH_URL: oidc.introspectionUrl,
  TUFBOX_OAUTH_CLIENT_ID: TUFBOX_CLIENT.id,
  TUFBOX_OAUTH_CLIENT_SECRET: TUFBOX_CLIENT.secret,
  TUFBOX_JWT_JWKS_URL: oidc.jwksUrl,
  TUFBOX_JWT_ISSUER: oidc.issuer,
  TUFBOX_JWT_AUDIENCE: AUDIENCE,
  TUFBOX_JWT_ALGORITHMS: "ES256",
  TUFBOX_AUTH_FAILURES_MAX: "1000000",
});

async function post(token: string, i: number, mode: string): Promise<number> {
  const body = JSON.stringify({ artifacts: artifacts(`auth-${mode}`, i, 1), publish_artifacts: publish });
  const t0 = performance.now();
  const res = await fetch(`${server.url}/api/v1/artifacts`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body,
  });
  await res.arrayBuffer();
  const ms = performance.now() - t0;
  if (res.status !== 202) throw new Error(`${mode}: HTTP ${res.status}`);
  return ms;
}

try {
  const created = await fetch(`${server.url}/api/v1/tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "bench", scopes: ["artifacts:write"] }),
  });
  const tufboxToken = ((await created.json()) as any).data.token as string;
  const cached = await oidc.token("urn:tufbox:opaque", "tufbox:artifacts:write");
  const jwt = await oidc.token("urn:tufbox:jwt", "tufbox:artifacts:write");
  // Minted before timing: the token endpoint is not what is measured.
  const fresh: string[] = [];
  for (let i = 0; i < requests + 20; i++) fresh.push(await oidc.token("urn:tufbox:opaque", "tufbox:artifacts:write"));

  const modes: [string, (i: number) => string][] = [
    ["admin", () => TOKEN],
    ["tufbox", () => tufboxToken],
    ["oauth-cached", () => cached],
    ["oauth-uncached", (i) => fresh[i]!],
    ["jwt", () => jwt],
  ];
  // Warm-up: connections, JIT, the first introspection and JWKS fetch.
  for (let i = 0; i < 20; i++) for (const [mode, token] of modes) await post(token(requests + i), requests + i, mode);
  const introspectionsBefore = oidc.introspections;
  const samples = new Map<string, number[]>(modes.map(([m]) => [m, []]));
  const random = prng(1);
  for (let i = 0; i < requests; i++) {
    const order = [...modes];
    for (let j = order.length - 1; j > 0; j--) {
      const k = Math.floor(random() * (j + 1));
      [order[j], order[k]] = [order[k]!, order[j]!];
    }
    for (const [mode, token] of order) samples.get(mode)!.push(await post(token(i), i, mode));
  }
  const introspections = oidc.introspections - introspectionsBefore;

  const stats = Object.fromEntries(
    modes.map(([mode]) => {
      const s = samples.get(mode)!.sort((a, b) => a - b);
      const mean = s.reduce((a, b) => a + b, 0) / s.length;
      return [mode, { p50: percentile(s, 50), p99: percentile(s, 99), mean }];
    }),
  );
  const base = stats.tufbox!.p50;
  console.log(
    `POST /api/v1/artifacts (1 artifact, ${bins} bins, ${publish ? "published" : "held: publish_artifacts false"}), ${requests} sequential requests per mode, SQLite, AS on loopback:`,
  );
  for (const [mode] of modes) {
    const s = stats[mode]!;
    const over = s.p50 - base;
    console.log(
      `  ${mode.padEnd(15)} p50 ${s.p50.toFixed(2)} ms  p99 ${s.p99.toFixed(2)} ms  mean ${s.mean.toFixed(2)} ms  overhead vs tufbox token (p50) ${over >= 0 ? "+" : ""}${over.toFixed(2)} ms`,
    );
  }
  console.log(
    `  introspection requests during the timed run: ${introspections} (expected ${requests}: one per fresh token)`,
  );
  const round = (n: number) => +n.toFixed(2);
  console.log(
    JSON.stringify({
      bench: "auth",
      requests,
      bins,
      publish,
      introspections,
      ...Object.fromEntries(
        Object.entries(stats).flatMap(([mode, s]) => [
          [`${mode}_p50_ms`, round(s.p50)],
          [`${mode}_p99_ms`, round(s.p99)],
        ]),
      ),
      oauth_cached_overhead_p50_ms: round(stats["oauth-cached"]!.p50 - base),
      oauth_uncached_overhead_p50_ms: round(stats["oauth-uncached"]!.p50 - base),
      jwt_overhead_p50_ms: round(stats.jwt!.p50 - base),
    }),
  );
} finally {
  server.proc.kill("SIGTERM");
  await server.proc.exited;
  await oidc.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
