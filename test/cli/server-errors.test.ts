/**
 * `--server` commands when things go wrong, and their machine-readable
 * output: the server's 401 / 422 / 404 reasons with a hint, an unreachable
 * server, local input errors (exit 2), failed tasks (exit 1), --json
 * documents on stdout only, --help for every command.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { artifactCommand } from "../../src/cli/artifact.ts";
import { bootstrapCommand, sendCommand } from "../../src/cli/send.ts";
import { taskCommand } from "../../src/cli/task.ts";
import { statusCommand } from "../../src/cli/status.ts";
import { signCommand } from "../../src/cli/sign.ts";
import { rootCommand } from "../../src/cli/root-update.ts";
import { ApiClient, validationIssues } from "../../src/cli/client.ts";
import { fixture } from "../helpers/fixtures.ts";
import { startTestServer, TOKEN, type TestServer } from "../helpers/server.ts";
import { fixtureKeyFile, fixturePath, hasStackTrace, runCli, tempDir, testTerminal } from "./helpers.ts";
import { serverError, serverTerm, usageError } from "./server-helpers.ts";

let server: TestServer;
let dir: string;
let file: string;
let closedUrl: string;

beforeAll(async () => {
  dir = tempDir();
  file = join(dir, "app.tar.gz");
  writeFileSync(file, "bytes");
  server = await startTestServer();
  const r = await server.api("POST", "/api/v1/bootstrap", fixture("bootstrap-bins.json"));
  expect((await server.waitTask(r.body.data.task_id)).state).toBe("SUCCESS");
  // A port nothing listens on any more.
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("x") });
  closedUrl = `http://127.0.0.1:${s.port}`;
  await s.stop(true);
});
afterAll(async () => {
  await server?.stop();
});

const sub = (args: string[], env: Record<string, string> = {}) =>
  runCli(args, { cwd: dir, env: { TUFBOX_SERVER: server.url, ...env } });

describe("the server says no: exit 1 with its reason and a hint", () => {
  test("wrong token (subprocess): exit 1, the 401 reason, a hint, no stack trace", async () => {
    const r = await sub(["artifact", "add", file, "--token", "not-the-token"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "tufbox artifact: cannot add 1 artifact(s): the server refused the request (401): Unauthorized: invalid token\nhint: the server does not accept this token: check --token / TUFBOX_TOKEN",
    );
    expect(hasStackTrace(r.stderr)).toBe(false);
    expect(r.stderr + r.stdout).not.toContain("not-the-token");
  });

  test("no token: the 401 reason and where to find the token", async () => {
    const err = await serverError(
      artifactCommand(["add", file], serverTerm(server.url, { token: null }).term),
      /\(401\): Unauthorized: missing Authorization: Bearer <token> header/,
    );
    expect(err.status).toBe(401);
    expect(err.hint).toContain("--token TOKEN or TUFBOX_TOKEN");
  });

  test("TUFBOX_TOKEN from the environment works; --token wins over it", async () => {
    const t = serverTerm(server.url);
    await artifactCommand(["add", file], t.term);
    expect(t.out.join("\n")).toContain("added: app.tar.gz");
    await serverError(artifactCommand(["add", file, "--token", "wrong"], serverTerm(server.url).term), /401/);
  });

  test("422 (subprocess): printed with the field, exit 1", async () => {
    const r = await sub(["send", "update", fixturePath("metadata-update-root-v3-online-rsa-1-of-2.json")], {
      TUFBOX_TOKEN: TOKEN,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "the server rejected it (422): body.metadata.root.signed.version: must be 2 (the trusted root is version 1)",
    );
    expect(r.stderr).toMatch(/\nhint: /);
    expect(hasStackTrace(r.stderr)).toBe(false);
  });

  test("422 from an artifact the server refuses names the item", async () => {
    const api = new ApiClient({ server: server.url, token: TOKEN, metadataUrl: `${server.url}/metadata` });
    const err = await serverError(
      api.post(
        "/api/v1/artifacts",
        { artifacts: [{ path: "a", info: { length: -1, hashes: { sha256: "00" } } }] },
        { what: "add" },
      ),
      /422\): body\.artifacts\.0\.info\.length: Input should be a non-negative integer/,
    );
    expect(err.status).toBe(422);
    expect(validationIssues([{ loc: ["body", "x", 0], msg: "bad" }, "plain"])).toEqual(["body.x.0: bad", "plain"]);
  });

  test("404 (already bootstrapped): the server's error string and a hint", async () => {
    const err = await serverError(
      bootstrapCommand([fixturePath("bootstrap-bins.json")], serverTerm(server.url).term),
      /cannot bootstrap the repository: System already has a Metadata\. State: finished \(404\)/,
    );
    expect(err.hint).toContain("tufbox status --server");
  });

  test("unreachable server (subprocess): a clean message, exit 1", async () => {
    const r = await runCli(["status", "--server", closedUrl], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `^tufbox status: cannot read the bootstrap state: ${closedUrl.replace(/[.:/]/g, "\\$&")} cannot be reached \\(\\w+\\)\nhint: check --server \\(or TUFBOX_SERVER\\)`,
      ),
    );
    expect(hasStackTrace(r.stderr)).toBe(false);
    expect(r.stdout).toBe("");
  });

  test("a URL that is not a tufbox API: HTTP status named, exit 1", async () => {
    const s = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: () => new Response("<html>hello</html>", { status: 200 }),
    });
    try {
      await serverError(
        statusCommand([], serverTerm(`http://127.0.0.1:${s.port}`).term),
        /answered HTTP 200 without a JSON body/,
      );
    } finally {
      await s.stop(true);
    }
  });

  test("a failed task: exit 1 with the server's result.error", async () => {
    // A signature for nothing pending: the sign task ends ERRORED.
    const sig = join(dir, "sig.json");
    writeFileSync(sig, JSON.stringify({ role: "root", signature: { keyid: "ab".repeat(32), sig: "cd".repeat(64) } }));
    const r = await sub(["send", "sign", sig], { TUFBOX_TOKEN: TOKEN });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /sign root failed \(task [0-9a-f]{32} ERRORED\): Signature Failed: No signatures pending for root\nhint: /,
    );
    // tufbox task on that task: exit 1 too, with --json the task on stdout.
    const id = /task ([0-9a-f]{32}) ERRORED/.exec(r.stderr)![1]!;
    const t = await sub(["task", id, "--json"], { TUFBOX_TOKEN: TOKEN });
    expect(t.code).toBe(1);
    expect(JSON.parse(t.stdout)).toMatchObject({
      task_id: id,
      state: "ERRORED",
      outcome: "failed",
      result: { error: "No signatures pending for root" },
    });
  });

  test("sign --server with nothing pending: exit 1, says so", async () => {
    await serverError(
      signCommand(["--key", fixtureKeyFile("root-ecdsa")], serverTerm(server.url).term),
      /nothing is pending signatures on http/,
    );
  });
});

describe("local problems: exit 2 before anything is sent", () => {
  const cases: [string, string[], RegExp][] = [
    ["no --server and no TUFBOX_SERVER", ["status"], /--server is required/],
    [
      "a --server that is not a URL",
      ["status", "--server", "localhost"],
      /--server "localhost" is not a URL|only http/,
    ],
    ["send what?", ["send", "payload", "x.json"], /cannot send "payload"/],
    ["a missing payload file", ["bootstrap", "missing.json"], /missing\.json: no such file/],
    ["a payload of the wrong kind", ["send", "update", fixturePath("bootstrap-bins.json")], /is a bootstrap payload/],
    [
      "--path with two files",
      ["artifact", "add", "a", "b", "--path", "x"],
      /--path names one target, but 2 files were given/,
    ],
    ["a missing artifact file", ["artifact", "add", "nope.bin"], /nope\.bin: no such file/],
    [
      "a bad target path",
      ["artifact", "add", "app.tar.gz", "--path", "../x"],
      /must not contain '\.' or '\.\.' segments/,
    ],
    [
      "--custom that is not an object",
      ["artifact", "add", "app.tar.gz", "--custom", "[1]"],
      /--custom must be a JSON object/,
    ],
    ["a bad task id", ["task", "a/b"], /is not a task id/],
    [
      "root update --server without --trusted",
      ["root", "update", "--sign", "x"],
      /--trusted is required with --server/,
    ],
    [
      "sign --in with --server",
      ["sign", "--key", "k", "--in", "f", "--server", "http://x"],
      /--in and --server exclude each other/,
    ],
  ];
  for (const [name, args, pattern] of cases) {
    test(name, async () => {
      const env = name.startsWith("no --server") ? {} : { TUFBOX_SERVER: server.url };
      const r = await runCli(args, { cwd: dir, env: { TUFBOX_SERVER: "", ...env } });
      expect(r.stderr).toMatch(pattern);
      expect(r.stderr).toMatch(/\nhint: /);
      expect(r.code).toBe(2);
      expect(hasStackTrace(r.stderr)).toBe(false);
    });
  }
});

describe("--json: one document on stdout, nothing else there", () => {
  test("status, task, artifact add / delete, and an error", async () => {
    const status = await sub(["status", "--json"], { TUFBOX_TOKEN: TOKEN });
    expect(status.code).toBe(0);
    const s = JSON.parse(status.stdout);
    expect(s).toMatchObject({
      server: server.url,
      bootstrap: { bootstrap: true, state: "finished" },
      bins: 16,
      pending: [],
    });
    expect(s.roles.timestamp.version).toBeGreaterThan(0);
    expect(s.roles.root.seconds_left).toBeGreaterThan(0);

    const add = await sub(["artifact", "add", file, "--prefix", "json/", "--custom", '{"build": 7}', "--json"], {
      TUFBOX_TOKEN: TOKEN,
    });
    expect(add.code).toBe(0);
    const a = JSON.parse(add.stdout);
    expect(a).toMatchObject({
      state: "SUCCESS",
      outcome: "finished",
      result: { details: { added_artifacts: ["json/app.tar.gz"] } },
    });
    expect(a.artifacts[0].info.custom).toEqual({ build: 7 });
    expect(add.stderr).toContain("json/app.tar.gz: 5 bytes"); // human lines go to stderr

    const task = await sub(["task", a.task_id, "--json"], { TUFBOX_TOKEN: TOKEN });
    expect(task.code).toBe(0);
    expect(JSON.parse(task.stdout)).toMatchObject({ task_id: a.task_id, state: "SUCCESS" });

    const del = await sub(["artifact", "delete", "json/app.tar.gz", "json/never.bin", "--json"], {
      TUFBOX_TOKEN: TOKEN,
    });
    expect(del.code).toBe(0);
    expect(JSON.parse(del.stdout).result.details).toMatchObject({
      deleted_artifacts: ["json/app.tar.gz"],
      not_found_artifacts: ["json/never.bin"],
    });

    const bad = await sub(["artifact", "delete", "json/never.bin", "--json"], { TUFBOX_TOKEN: TOKEN });
    expect(bad.code).toBe(1);
    const e = JSON.parse(bad.stdout);
    expect(e.error.exit_code).toBe(1);
    expect(e.error.message).toContain("deleting artifacts failed");

    const unauthorized = await sub(["artifact", "add", file, "--json"]);
    expect(unauthorized.code).toBe(1);
    expect(JSON.parse(unauthorized.stdout).error).toMatchObject({ status: 401, detail: { message: "Unauthorized" } });
  });

  test("an unknown task id reads as PENDING (exit 0)", async () => {
    const t = testTerminal({ env: { TUFBOX_SERVER: server.url, TUFBOX_TOKEN: TOKEN } });
    await taskCommand(["0".repeat(32), "--json"], t.term);
    expect(JSON.parse(t.out.join("\n"))).toMatchObject({ state: "PENDING", outcome: "waiting", result: null });
  });
});

describe("progress", () => {
  test("on a TTY one line is rewritten with state and elapsed time, then cleared; otherwise plain lines", async () => {
    const t = serverTerm(server.url);
    const live: (string | null)[] = [];
    await artifactCommand(["add", file, "--path", "live/app.tar.gz"], {
      ...t.term,
      live: (text) => void live.push(text),
    });
    expect(live.length).toBeGreaterThan(1);
    expect(
      live
        .filter((l) => l !== null)
        .every((l) => /^task [0-9a-f]{12}… (PENDING|RECEIVED|STARTED|SUCCESS) \d+\.\ds$/.test(l!)),
    ).toBe(true);
    expect(live.at(-2)).toMatch(/ SUCCESS /);
    expect(live.at(-1)).toBeNull();
    expect(t.info.join("\n")).not.toMatch(/task [0-9a-f]{32}: /); // no plain lines on a TTY

    const plain = serverTerm(server.url);
    await artifactCommand(["add", file, "--path", "live/app2.tar.gz"], plain.term);
    expect(plain.info.at(-1)).toMatch(/^task [0-9a-f]{32}: SUCCESS$/);
  });
});

describe("--help", () => {
  for (const command of ["bootstrap", "send", "artifact", "task", "status", "sign", "root update"]) {
    test(command, async () => {
      const r = await runCli([...command.split(" "), "--help"], { cwd: dir });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("--server");
      expect(r.stdout).toContain("--json");
    });
  }
  test("tufbox help lists the server commands", async () => {
    const r = await runCli(["help"], { cwd: dir });
    for (const c of ["bootstrap", "send", "artifact", "task", "status"])
      expect(r.stdout).toMatch(new RegExp(`^  ${c} `, "m"));
  });
  test("in-process help does not need a server", async () => {
    for (const run of [sendCommand, rootCommand]) {
      const t = testTerminal();
      await run(run === rootCommand ? ["update", "--help"] : ["--help"], t.term);
      expect(t.out.join("\n")).toContain("--server URL");
    }
    await usageError(sendCommand([], testTerminal().term), /missing what to send/);
  });
});
