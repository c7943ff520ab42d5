/**
 * `tufbox token create|list|revoke` and `tufbox audit [--follow]` against a
 * real server on loopback.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { auditCommand } from "../../src/cli/audit.ts";
import { parseExpiresIn, tokenCommand } from "../../src/cli/token.ts";
import { binsPayload } from "../helpers/fixtures.ts";
import { startTestServer, type TestServer } from "../helpers/server.ts";
import { hasStackTrace, runCli, tempDir } from "./helpers.ts";
import { serverError, serverTerm, usageError } from "./server-helpers.ts";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
  const r = await s.api("POST", "/api/v1/bootstrap", binsPayload(4));
  await s.waitTask(r.body.data.task_id);
});
afterAll(() => s?.stop());

describe("tufbox token", () => {
  test("create prints the token alone on stdout; it works with exactly its scope", async () => {
    const t = serverTerm(s.url);
    await tokenCommand(["create", "--name", "ci", "--scope", "artifacts:write", "--expires-in", "90d"], t.term);
    expect(t.out).toHaveLength(1);
    const token = t.out[0]!;
    expect(token).toMatch(/^tufbox_/);
    expect(t.info.join("\n")).toContain("shown only this once");
    expect(t.info.join("\n")).toContain("[artifacts:write]");
    const auth = { authorization: `Bearer ${token}` };
    const add = await s.api(
      "POST",
      "/api/v1/artifacts",
      { artifacts: [{ path: "cli/x", info: { length: 1, hashes: { sha256: "ab".repeat(32) } } }] },
      auth,
    );
    expect(add.status).toBe(202);
    // With that token the CLI may not manage tokens: a clear 403 with a hint.
    const denied = serverTerm(s.url, { token });
    const err = await serverError(tokenCommand(["list"], denied.term), /refused the request \(403\).*admin/);
    expect(err.hint).toContain("lacks the scope");
  });

  test("list and revoke; --json everywhere", async () => {
    const c = serverTerm(s.url);
    await tokenCommand(["create", "--name", "temp", "--scope", "read", "--scope", "metadata:sign", "--json"], c.term);
    const created = JSON.parse(c.out.join("\n"));
    // (Not toMatchObject with expect.any: in bun 1.4.4 that replaces the matched value in `created`.)
    expect(typeof created.token).toBe("string");
    expect({ name: created.name, scopes: created.scopes }).toEqual({ name: "temp", scopes: ["read", "metadata:sign"] });

    const l = serverTerm(s.url);
    await tokenCommand(["list"], l.term);
    expect(l.out.some((line) => line.startsWith(`${created.id}  temp  [read, metadata:sign]`))).toBe(true);
    expect(l.out.join("\n")).not.toContain(created.token);

    const r = serverTerm(s.url);
    await tokenCommand(["revoke", created.id, "--json"], r.term);
    expect(JSON.parse(r.out.join("\n"))).toEqual({ revoked: created.id });
    const again = serverTerm(s.url);
    await serverError(tokenCommand(["revoke", created.id], again.term), /no token with id/);

    const lj = serverTerm(s.url);
    await tokenCommand(["list", "--json"], lj.term);
    expect(JSON.parse(lj.out.join("\n")).tokens.map((x: any) => x.id)).not.toContain(created.id);
  });

  test("usage errors name the flag", async () => {
    const t = () => serverTerm(s.url).term;
    await usageError(tokenCommand(["create", "--scope", "read"], t()), /--name is required/);
    await usageError(tokenCommand(["create", "--name", "x"], t()), /--scope is required/);
    await usageError(tokenCommand(["create", "--name", "x", "--scope", "write"], t()), /unknown scope "write"/);
    await usageError(
      tokenCommand(["create", "--name", "x", "--scope", "read", "--expires-in", "3y"], t()),
      /--expires-in 3y/,
    );
    await usageError(tokenCommand(["revoke"], t()), /exactly one token id/);
    await usageError(tokenCommand(["rotate"], t()), /unknown action/);
    expect(parseExpiresIn("90d")).toBe(90);
    expect(parseExpiresIn("7")).toBe(7);
  });

  test("as a subprocess: exit codes and no stack traces", async () => {
    const dir = tempDir();
    const env = { TUFBOX_SERVER: s.url, TUFBOX_TOKEN: "tufbox_not-a-real-token" };
    const r = await runCli(["token", "list"], { cwd: dir, env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("refused the request (401)");
    expect(hasStackTrace(r.stdout + r.stderr)).toBe(false);
    const u = await runCli(["token", "create", "--name", "x"], { cwd: dir, env });
    expect(u.code).toBe(2);
  });
});

describe("tufbox audit", () => {
  test("one line per entry, oldest first; --principal and --json", async () => {
    const t = serverTerm(s.url);
    await auditCommand([], t.term);
    expect(t.out[0]).toMatch(
      /^\S+Z {2}admin \(TUFBOX_ADMIN_TOKEN\) \(admin\) {2}127\.0\.0\.1 {2}POST \/api\/v1\/bootstrap {2}bootstrap {2}task=[0-9a-f]{32} {2}root_version=1/,
    );
    const ci = serverTerm(s.url);
    await auditCommand(["--principal", "ci", "--json"], ci.term);
    const doc = JSON.parse(ci.out.join("\n"));
    expect(doc.entries.map((e: any) => e.action)).toEqual(["add_artifacts"]);
    await usageError(auditCommand(["--limit", "0"], serverTerm(s.url).term), /--limit 0/);
    await usageError(auditCommand(["--since", "last tuesday"], serverTerm(s.url).term), /--since/);
  });

  test("--follow prints new entries as they come", async () => {
    const t = serverTerm(s.url);
    const stop = new AbortController();
    const following = auditCommand(["--follow", "--interval", "1", "--limit", "1"], t.term, stop.signal);
    while (t.out.length === 0) await Bun.sleep(20);
    const shown = t.out.length;
    const created = await s.api("POST", "/api/v1/tokens", { name: "followed", scopes: ["read"] });
    const deadline = Date.now() + 10_000;
    while (!t.out.slice(shown).some((l) => l.includes("token_create")) && Date.now() < deadline) await Bun.sleep(50);
    stop.abort();
    await following;
    const fresh = t.out.slice(shown);
    expect(fresh).toHaveLength(1);
    expect(fresh[0]).toContain(`token_id=${created.body.data.id}`);
    expect(fresh[0]).not.toContain(created.body.data.token);
  });
});
