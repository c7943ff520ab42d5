/**
 * The request schemas answer every body of the generated corpus exactly as
 * the hand-written parsers they replaced did (test/fixtures/api-validation.json,
 * recorded from those parsers): the same first 422 issue — loc, msg, type — or
 * the same request handed to the engine. Each body goes through the route's
 * own description (route.ts), as the server runs it, up to the engine call.
 */
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { App } from "../../../src/core.ts";
import { ValidationError } from "../../../src/repository/errors.ts";
import { describedRoutes } from "../../../src/server/api/index.ts";
import { routeBody } from "../../../src/server/api/route.ts";
import { canonicalJson } from "../../../src/tuf/canonical.ts";
import { type BodyRoute, CORPUS_MAX_ARTIFACTS, corpus } from "./validation-corpus.ts";

const recorded: { messages: [string, string][] } & Record<
  string,
  Record<string, string | [(string | number)[], number]>
> = JSON.parse(readFileSync(fileURLToPath(new URL("../../fixtures/api-validation.json", import.meta.url)), "utf8"));

/** An App whose engine only records what it was asked (the request the schemas made). */
function recordingApp() {
  let asked: unknown;
  const record =
    (shape: (...args: any[]) => unknown) =>
    async (...args: any[]) => {
      asked = shape(...args);
      return { taskId: "0".repeat(32), paths: [], roles: [] };
    };
  const repo = {
    acceptBootstrap: record((p) => p),
    acceptAdd: record((p) => p),
    acceptRemove: record((p) => p),
    acceptRootUpdate: record((root) => root),
    acceptSign: record((role, signature) => ({ role, signature })),
    acceptSignDelete: record((role) => role),
    acceptBump: record((roles) => roles),
    updateExpiration: record((e) => e),
    acceptDelegations: record((_op, input) => input),
    acceptResize: record((count) => count),
    acceptDelegatedUpload: record((rolename, document) => ({ rolename, document })),
    pausePublishing: record((_actor, reason) => ({ reason })),
  };
  const app = {
    config: { limits: { max_artifacts_per_request: CORPUS_MAX_ARTIFACTS, max_body_bytes: 1 << 20 } },
    repo,
    guard: { actorOf: () => undefined },
    metadata: {},
    store: { countPendingChanges: async () => 0 },
    auth: {
      tokens: {
        create: async (input: unknown) => {
          asked = input;
          return { token: "tufbox_x", info: {} };
        },
      },
    },
  } as unknown as App;
  return { app, take: () => asked };
}

const digest = (v: unknown) => createHash("sha256").update(canonicalJson(v)).digest("hex").slice(0, 16);

describe("request schemas answer the corpus as the old parsers did", () => {
  const { app, take } = recordingApp();
  const routes = describedRoutes(app);
  const byRoute = new Map<BodyRoute, (typeof routes)[number]>();
  for (const r of routes) if (r.body) byRoute.set(`${r.method} ${r.path}` as BodyRoute, r);
  const cases = corpus();

  test("the corpus is the one recorded, and every route with a body is in it", () => {
    const names = cases.map((c) => `${c.route} ${c.name}`);
    const recordedNames = Object.entries(recorded)
      .filter(([k]) => k !== "messages")
      .flatMap(([route, answers]) => Object.keys(answers).map((n) => `${route} ${n}`));
    expect(names.sort()).toEqual(recordedNames.sort());
    const covered = new Set(cases.map((c) => c.route));
    for (const route of byRoute.keys()) if (`${route}` !== "PUT /api/v1/delegations") expect(covered).toContain(route);
  });

  for (const route of new Set(cases.map((c) => c.route))) {
    test(route, async () => {
      const r = byRoute.get(route)!;
      const mismatches: string[] = [];
      for (const c of cases.filter((x) => x.route === route)) {
        const want = recorded[route]![c.name]!;
        let got: string | [(string | number)[], string, string];
        try {
          const body = routeBody(r, structuredClone(c.body));
          await r.handle({ body, query: {}, params: {}, request: new Request("http://localhost/") });
          got = digest(take());
        } catch (err) {
          if (!(err instanceof ValidationError)) throw new Error(`${c.name}: ${err}`);
          const issue = err.issues[0]!;
          got = [issue.loc, issue.msg, issue.type];
        }
        const expected = typeof want === "string" ? want : [want[0], ...recorded.messages[want[1]]!];
        if (JSON.stringify(got) !== JSON.stringify(expected))
          mismatches.push(`${c.name}\n    want ${JSON.stringify(expected)}\n    got  ${JSON.stringify(got)}`);
      }
      expect(mismatches).toEqual([]);
    });
  }
});
