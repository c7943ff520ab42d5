/**
 * Start-up is all or nothing (issue 10), with the real binary entry point as a
 * child process: every fatal problem exits non-zero by itself with one line
 * naming the option and a hint; nothing is generated or bootstrapped before
 * the port and TLS are known to work; one port, one server; the data
 * directory 0700 and its files 0600; the admin token can always be recovered.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createApp } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import { silentLogger } from "../src/log.ts";
import { SqliteStore } from "../src/store/sqlite/store.ts";
import { ONLINE_KEY_DIR, binsPayload } from "./helpers/fixtures.ts";
import { spawnServer } from "./helpers/process.ts";
import { startTestServer, tempDir } from "./helpers/server.ts";

const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const TLS = fileURLToPath(new URL("./fixtures/tls/", import.meta.url));
const dirs: string[] = [];
const procs: { kill(sig?: number | NodeJS.Signals): void }[] = [];

afterAll(() => {
  for (const p of procs) p.kill("SIGKILL");
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function dir(): string {
  const d = tempDir("tufbox-startup-");
  dirs.push(d);
  return d;
}

/** Run tufbox to completion; a process that does not exit by itself within `waitMs` is killed and reported. */
async function run(args: string[], env: Record<string, string> = {}, waitMs = 20_000) {
  const proc = Bun.spawn(["bun", MAIN, ...args], {
    env: { ...process.env, TUFBOX_LOG_FORMAT: "text", TUFBOX_ADMIN_TOKEN: "", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  procs.push(proc);
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const killed = new Promise<"killed">((resolve) => {
    timer = setTimeout(() => {
      proc.kill("SIGKILL");
      resolve("killed");
    }, waitMs);
  });
  const outcome = await Promise.race([proc.exited, killed]);
  clearTimeout(timer);
  const ms = performance.now() - started;
  const out = (await new Response(proc.stdout).text()) + (await new Response(proc.stderr).text());
  return { exited: outcome !== "killed", code: proc.exitCode, out, ms };
}

/** The error line and the hint line main prints for a failed command. */
function errorLines(out: string): string[] {
  return out.split("\n").filter((l) => /^tufbox [a-z-]+: /.test(l) || l.startsWith("hint: "));
}

function serveArgs(dataDir: string, listen = "127.0.0.1:0", command = "serve"): string[] {
  return [command, "--data-dir", dataDir, "--listen", listen, "--online-key-dir", ONLINE_KEY_DIR];
}

describe("one port, one server", () => {
  test("a port taken by another program: exit non-zero, one line naming the address, a hint", async () => {
    const other = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const r = await run(serveArgs(dir(), `127.0.0.1:${other.port}`));
      expect(r.exited).toBe(true);
      expect(r.code).not.toBe(0);
      expect(errorLines(r.out)).toEqual([
        `tufbox serve: address 127.0.0.1:${other.port} is already in use`,
        "hint: choose another with --listen (or listen / TUFBOX_LISTEN), or stop the program using it",
      ]);
      expect(r.out).not.toContain("listening on");
    } finally {
      other.stop(true);
    }
  }, 30_000);

  test("a second tufbox on the port of a running one exits instead of sharing it", async () => {
    // Today's main: both print "listening" and the kernel splits clients between two repositories.
    const first = await spawnServer(dir());
    procs.push(first.proc);
    const port = new URL(first.url).port;
    const r = await run(serveArgs(dir(), `127.0.0.1:${port}`));
    expect(r.exited).toBe(true);
    expect(r.code).not.toBe(0);
    expect(r.out).not.toContain("listening on");
    expect(errorLines(r.out)[0]).toBe(`tufbox serve: address 127.0.0.1:${port} is already in use`);
    first.proc.kill("SIGTERM");
    await first.proc.exited;
  }, 60_000);

  test("quickstart on a taken port generates nothing and bootstraps nothing", async () => {
    const other = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const d = dir();
    try {
      const r = await run(serveArgs(d, `127.0.0.1:${other.port}`, "quickstart"));
      expect(r.exited).toBe(true);
      expect(r.code).not.toBe(0);
      expect(errorLines(r.out)[0]).toBe(`tufbox quickstart: address 127.0.0.1:${other.port} is already in use`);
    } finally {
      other.stop(true);
    }
    // Today's main: bootstrapped, an admin token stored hashed and never printed.
    expect(readdirSync(d)).not.toContain("DEVELOPMENT-root-key.pem");
    const store = new SqliteStore(join(d, "tufbox.db"));
    await store.open();
    try {
      expect(await store.countTokens()).toBe(0);
      expect(await store.getSetting("bootstrap")).toBeUndefined();
    } finally {
      await store.close();
    }
  }, 30_000);
});

describe("options of the wrong kind name the option", () => {
  const cases: [string, (d: string) => string[], RegExp][] = [
    [
      "--data-dir is a file",
      (d) => {
        writeFileSync(join(d, "file"), "x");
        return serveArgs(join(d, "file"));
      },
      /^tufbox serve: data_dir \(--data-dir\) is .*\/file, which is a file, not a directory$/,
    ],
    [
      "--online-key-dir is a file",
      (d) => {
        writeFileSync(join(d, "keys"), "x");
        return [...serveArgs(join(d, "data")), "--online-key-dir", join(d, "keys")];
      },
      /^tufbox serve: online_key_dir \(--online-key-dir\) is .*\/keys, which is a file, not a directory$/,
    ],
    [
      "--tls-cert does not exist",
      (d) => [...serveArgs(d), "--tls-cert", join(d, "missing.crt"), "--tls-key", `${TLS}localhost.key`],
      /^tufbox serve: tls\.cert \(--tls-cert\): .*missing\.crt does not exist$/,
    ],
    [
      "--tls-key is a directory",
      (d) => [...serveArgs(d), "--tls-cert", `${TLS}localhost.crt`, "--tls-key", d],
      /^tufbox serve: tls\.key \(--tls-key\) is .*, which is a directory, not a PEM file$/,
    ],
    [
      // Today's main: an error is printed and the process stays alive, not listening.
      "--tls-key does not match --tls-cert",
      (d) => [...serveArgs(d), "--tls-cert", `${TLS}localhost.crt`, "--tls-key", `${TLS}other.key`],
      /^tufbox serve: tls\.key \(--tls-key\) does not match the certificate in tls\.cert \(--tls-cert\)$/,
    ],
    [
      "--tls-cert holds a key, not a certificate",
      (d) => [...serveArgs(d), "--tls-cert", `${TLS}other.key`, "--tls-key", `${TLS}other.key`],
      /^tufbox serve: tls\.cert \(--tls-cert\) does not hold a PEM certificate$/,
    ],
  ];
  for (const [name, args, line] of cases) {
    test(`${name}: exit non-zero with one line naming it and a hint`, async () => {
      const d = dir();
      const r = await run(args(d));
      expect(r.exited).toBe(true);
      expect(r.code).not.toBe(0);
      const lines = errorLines(r.out);
      expect(lines.length).toBe(2);
      expect(lines[0]).toMatch(line);
      expect(lines[1]).toStartWith("hint: ");
      expect(r.out).not.toContain("listening on");
    }, 30_000);
  }

  test("a matching certificate and key serve HTTPS", async () => {
    const d = dir();
    const app = await startTestServer({
      dataDir: d,
      flags: { "tls-cert": `${TLS}localhost.crt`, "tls-key": `${TLS}localhost.key` },
    });
    try {
      expect(app.url).toStartWith("https://");
      const res = await fetch(`${app.url}/healthz`, { tls: { rejectUnauthorized: false } } as RequestInit);
      expect(res.status).toBe(200);
    } finally {
      await app.stop();
    }
  });
});

describe("keys are loaded before serving", () => {
  test("a bootstrapped repository whose online key is missing does not start", async () => {
    const d = dir();
    const s = await startTestServer({ dataDir: d });
    const r = await s.api("POST", "/api/v1/bootstrap", binsPayload(2));
    expect((await s.waitTask(r.body.data.task_id)).state).toBe("SUCCESS");
    await s.stop();
    const emptyKeys = join(dir(), "keys");
    mkdirSync(emptyKeys);
    // Today's main: it serves, and fails at the first re-sign, up to a day later.
    const run1 = await run(["serve", "--data-dir", d, "--listen", "127.0.0.1:0", "--online-key-dir", emptyKeys]);
    expect(run1.exited).toBe(true);
    expect(run1.code).not.toBe(0);
    const lines = errorLines(run1.out);
    expect(lines[0]).toMatch(
      /^tufbox serve: online key [0-9a-f]{64} is not available: online key file .* does not exist$/,
    );
    expect(lines[1]).toMatch(/^hint: put the online private key .*--online-key-dir/);
    expect(run1.out).not.toContain("listening on");
  }, 60_000);
});

describe("files and permissions", () => {
  test("the data directory is 0700; the database, WAL, SHM and keys 0600", async () => {
    const d = join(dir(), "data");
    const server = await spawnServer(d, { TUFBOX_ONLINE_KEY_DIR: join(d, "keys") }, "quickstart", [
      "--online-key-dir",
      join(d, "keys"),
      "--bins",
      "2",
    ]);
    procs.push(server.proc);
    try {
      // Today's main: 0755 and 0644 (the process umask).
      expect(statSync(d).mode & 0o777).toBe(0o700);
      for (const f of ["tufbox.db", "tufbox.db-wal", "tufbox.db-shm", "DEVELOPMENT-root-key.pem"])
        expect([f, statSync(join(d, f)).mode & 0o777]).toEqual([f, 0o600]);
      expect(statSync(join(d, "keys")).mode & 0o777).toBe(0o700);
      for (const f of readdirSync(join(d, "keys"))) expect(statSync(join(d, "keys", f)).mode & 0o777).toBe(0o600);
    } finally {
      server.proc.kill("SIGTERM");
      await server.proc.exited;
    }
  }, 60_000);

  test("an existing database wider than 0600 is narrowed at start", async () => {
    const d = dir();
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, "tufbox.db"), "", { mode: 0o644 });
    const config = loadConfig({ flags: { "data-dir": d, "online-key-dir": ONLINE_KEY_DIR } });
    const app = await createApp(config, silentLogger());
    try {
      expect(statSync(join(d, "tufbox.db")).mode & 0o777).toBe(0o600);
    } finally {
      await app.store.close();
    }
  });
});

describe("the admin token is never lost", () => {
  test("a token generated but never shown is announced at the next start; reset revokes it", async () => {
    const d = dir();
    // A first start that stored the token's hash and died before printing it.
    const config = loadConfig({ flags: { "data-dir": d, "online-key-dir": ONLINE_KEY_DIR }, env: {} });
    const first = await createApp(config, silentLogger());
    const lost = await first.auth.init();
    expect(lost).toStartWith("tufbox_");
    await first.store.close();

    // Today's main: this start says nothing, and there is no way to get a token.
    const server = await spawnServer(d, { TUFBOX_ADMIN_TOKEN: "" });
    procs.push(server.proc);
    try {
      await Bun.sleep(100);
      expect(server.output()).toContain(`tufbox admin-token reset --data-dir ${d}`);
      const post = (token: string) =>
        fetch(`${server.url}/api/v1/bootstrap`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify(binsPayload(2)),
        });

      const r = await run(["admin-token", "reset", "--data-dir", d]);
      expect(r.code).toBe(0);
      const token = /\n {2}(tufbox_\S+)\n/.exec(r.out)?.[1];
      expect(token).toBeDefined();
      expect(r.out).toContain("1 earlier admin token(s) revoked");
      // The running server sees the change at once.
      expect((await post(lost!)).status).toBe(401);
      expect((await post(token!)).status).toBe(202);
    } finally {
      server.proc.kill("SIGTERM");
      await server.proc.exited;
    }

    const again = await spawnServer(d, { TUFBOX_ADMIN_TOKEN: "" });
    procs.push(again.proc);
    await Bun.sleep(100);
    expect(again.output()).not.toContain("admin-token reset");
    again.proc.kill("SIGTERM");
    await again.proc.exited;
  }, 60_000);

  test("admin-token reset refuses a directory without a repository", async () => {
    const r = await run(["admin-token", "reset", "--data-dir", join(dir(), "nothing-here")]);
    expect(r.code).not.toBe(0);
    expect(errorLines(r.out)[0]).toMatch(/^tufbox admin-token: no tufbox database at .*nothing-here\/tufbox\.db$/);
  });
});

describe("start-up warnings", () => {
  test("a re-sign window not shorter than a role's expiry is reported", async () => {
    const d = dir();
    const s = await startTestServer({ dataDir: d });
    const r = await s.api("POST", "/api/v1/bootstrap", binsPayload(2));
    expect((await s.waitTask(r.body.data.task_id)).state).toBe("SUCCESS");
    await s.stop();
    const lines: string[] = [];
    const again = await startTestServer({
      dataDir: d,
      env: { TUFBOX_SCHEDULER_RESIGN_WINDOW_HOURS: "24" },
      logLines: lines,
    });
    await again.stop();
    const warnings = lines.map((l) => JSON.parse(l)).filter((l) => l.level === "warn" && /re-sign window/.test(l.msg));
    expect(warnings.map((w) => w.msg.split(":")[0])).toEqual([
      "the re-sign window (24 h, scheduler.resign_window_hours) is not shorter than snapshot's expiry (1 day)",
      "the re-sign window (24 h, scheduler.resign_window_hours) is not shorter than timestamp's expiry (1 day)",
      "the re-sign window (24 h, scheduler.resign_window_hours) is not shorter than bins's expiry (1 day)",
    ]);
  }, 60_000);
});
