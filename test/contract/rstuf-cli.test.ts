/**
 * The rstuf CLI's own requests, replayed against a real tufbox server.
 *
 * test/fixtures/rstuf-cli/ holds, per session, the requests that
 * repository-service-tuf-cli v1.0.0b1 sends for each command — exact bodies
 * (as `requests` serialises `json=`) and headers — and what the CLI needs back
 * (status, exact `message`, `data.task_id`, the task polling it does). Each
 * session starts from its own server in the state it names and runs its
 * commands in order, checking each answer the way the CLI does
 * (helpers/api_client.py `send_payload`, `task_status`, `bootstrap_status`).
 *
 * "The rstuf CLI works against tufbox unchanged" is the product's promise;
 * a request the CLI sends that is not here is a hole in that promise.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { fixture } from "../helpers/fixtures.ts";
import { startTestServer, TOKEN, type TestServer } from "../helpers/server.ts";

const DIR = fileURLToPath(new URL("../fixtures/rstuf-cli/", import.meta.url));

interface CliRequest {
  method: "GET" | "POST";
  path: string;
  headers: Record<string, string> | null;
  body: string | null;
  expect: { status: number; message?: string; cli_expects_message?: string; body?: string };
  poll?: string;
  source: string;
}

interface Session {
  cli: string;
  given: "empty" | "bins";
  artifact?: { path: string; bytes: string };
  commands: { command: string; requests: CliRequest[] }[];
}

const sessions = readdirSync(DIR)
  .filter((f) => f.endsWith(".json"))
  .sort()
  .map((f) => [f, JSON.parse(readFileSync(DIR + f, "utf8")) as Session] as const);

const started: TestServer[] = [];
afterAll(async () => {
  for (const s of started) await s.stop();
});

/** Sends one fixture request as the CLI does: its headers, its body bytes. */
async function send(s: TestServer, r: CliRequest, taskId: string | undefined): Promise<Response> {
  const headers = Object.fromEntries(Object.entries(r.headers ?? {}).map(([k, v]) => [k, v.replace("{token}", TOKEN)]));
  const path = r.path.replace("{task_id}", taskId ?? "");
  return fetch(s.url + path, { method: r.method, headers, body: r.body ?? undefined });
}

/** helpers/api_client.py task_status(): GET until SUCCESS with result.status true; anything else fails the CLI. */
async function pollLikeTheCli(s: TestServer, r: CliRequest, taskId: string): Promise<any> {
  const seen: string[] = [];
  for (let i = 0; i < 5000; i++) {
    const res = await send(s, r, taskId);
    expect(res.status).toBe(200);
    const data = ((await res.json()) as any).data;
    expect(data).toBeDefined();
    expect(typeof data.state).toBe("string");
    if (!seen.includes(data.state)) seen.push(data.state);
    expect(["FAILURE", "ERRORED"]).not.toContain(data.state);
    if (data.state === "SUCCESS") {
      expect(data.result.status).toBe(true);
      return data;
    }
    await Bun.sleep(10);
  }
  throw new Error(`task ${taskId} never reached SUCCESS (states: ${seen.join(", ")})`);
}

for (const [file, session] of sessions) {
  describe(`rstuf CLI session ${file}`, () => {
    let s: TestServer;
    let taskId: string | undefined;

    test("start", async () => {
      s = await startTestServer();
      started.push(s);
      if (session.given === "bins") {
        const r = await s.api("POST", "/api/v1/bootstrap", fixture("bootstrap-bins.json"));
        expect((await s.waitTask(r.body.data.task_id)).state).toBe("SUCCESS");
      }
      if (session.artifact) {
        const target = join(s.app.config.targets.dir, session.artifact.path);
        mkdirSync(dirname(target), { recursive: true });
        writeFileSync(target, session.artifact.bytes);
      }
    });

    for (const [i, { command, requests }] of session.commands.entries()) {
      test(`${i + 1}. ${command}`, async () => {
        for (const r of requests) {
          if (r.body !== null) {
            // The fixture is what `requests` puts on the wire: JSON with Python's separators.
            expect(r.headers!["Content-Length"]).toBe(String(new TextEncoder().encode(r.body).length));
            expect(r.body).toContain('": ');
          }
          if (r.poll) {
            expect(taskId).toBeDefined();
            await pollLikeTheCli(s, r, taskId!);
            continue;
          }
          const res = await send(s, r, taskId);
          const text = await res.text();
          // tufbox difference: every /api/v1 route needs a token (reads the read scope); the CLI
          // sends this one without its -H headers (import-artifacts' GET /api/v1/config/, a
          // command that cannot work against tufbox anyway: it writes into RSTUF's database).
          const unauthenticated = r.path.startsWith("/api/v1/") && r.headers?.Authorization === undefined;
          expect({ request: `${r.method} ${r.path}`, status: res.status, text }).toMatchObject({
            status: unauthenticated ? 401 : r.expect.status,
          });
          if (unauthenticated) continue;
          if (r.expect.body !== undefined) {
            expect(text).toBe(r.expect.body);
            continue;
          }
          if (r.path.startsWith("/metadata/")) continue;
          const body = JSON.parse(text);
          if (r.expect.message !== undefined) expect(body.message).toBe(r.expect.message);
          if (r.expect.cli_expects_message !== undefined) expect(body.message).not.toBe(r.expect.cli_expects_message);
          if (r.expect.status === 202) {
            // send_payload(): `data.task_id` or the CLI fails.
            expect(body.data.task_id).toMatch(/^[0-9a-f]{32}$/);
            taskId = body.data.task_id;
          }
          if (r.method === "GET" && r.path === "/api/v1/metadata/sign/") {
            // _parse_pending_data(): something other than trusted_* to sign, of type root or targets.
            const pending = Object.entries(body.data.metadata).filter(([k]) => !k.startsWith("trusted_"));
            expect(pending.length).toBeGreaterThan(0);
            for (const [, md] of pending) expect(["root", "targets"]).toContain((md as any).signed._type);
          }
          if (r.method === "GET" && r.path === "/api/v1/bootstrap/") expect(body.data.bootstrap).toBe(true);
          if (r.path === "/api/v1/config/") expect(Number.isInteger(body.data.number_of_delegated_bins)).toBe(true);
        }
        // A command the CLI leaves without polling (delegations new, artifact add): let its task
        // finish before the next command, as a person reading the output would.
        if (taskId) expect((await s.waitTask(taskId)).state).toBe("SUCCESS");
      }, 60_000);
    }
  });
}

describe("coverage of the fixtures", () => {
  test("every API URL of the CLI (helpers/api_client.py URL) is sent by some fixture", () => {
    const sent = new Set(
      sessions.flatMap(([, s]) => s.commands.flatMap((c) => c.requests.map((r) => `${r.method} ${r.path}`))),
    );
    for (const url of [
      "GET /api/v1/bootstrap/",
      "POST /api/v1/bootstrap/",
      "GET /api/v1/config/",
      "POST /api/v1/metadata/",
      "GET /api/v1/task/?task_id={task_id}",
      "POST /api/v1/artifacts/publish/",
      "GET /api/v1/metadata/sign/",
      "POST /api/v1/metadata/sign/",
      "POST /api/v1/metadata/sign/delete",
      "POST /api/v1/artifacts/",
      "POST /api/v1/artifacts/delete",
      "POST /api/v1/delegations/",
      "POST /api/v1/delegations/delete",
    ])
      expect(sent).toContain(url);
  });

  test("every command of the CLI that talks to the server has a session", () => {
    const commands = sessions.flatMap(([, s]) => s.commands.map((c) => c.command)).join("\n");
    for (const name of [
      "admin --api-server URL -H 'Authorization: Bearer TOKEN' ceremony",
      "admin send bootstrap",
      "admin metadata sign",
      "admin metadata update",
      "admin send update",
      "admin metadata stop-sign",
      "admin delegations new",
      "admin delegations delete",
      "admin import-artifacts",
      "artifact add",
      "artifact delete",
      "artifact download",
      "task info",
    ])
      expect(commands).toContain(`rstuf ${name}`);
  });

  test("`rstuf artifact add` sends custom: null and only a blake2b-256 hash", () => {
    const add = sessions
      .flatMap(([, s]) => s.commands.flatMap((c) => c.requests))
      .find((r) => r.path === "/api/v1/artifacts/")!;
    const info = JSON.parse(add.body!).artifacts[0].info;
    expect(info.custom).toBeNull();
    expect(Object.keys(info.hashes)).toEqual(["blake2b-256"]);
  });
});
