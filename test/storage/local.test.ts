/** The content storage contract on a local directory, and what only a directory can show. */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { LocalStorage } from "../../src/storage/local.ts";
import { storageContract } from "./contract.ts";

storageContract("local", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tufbox-content-"));
  return { storage: new LocalStorage(dir), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
});

describe("LocalStorage", () => {
  test("content files are named by sha256 under objects/sha256/<2 hex>/", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tufbox-content-"));
    const s = new LocalStorage(dir);
    await s.open();
    const staged = await s.stage([new TextEncoder().encode("hello")], { maxBytes: 100, hashes: ["sha256"] });
    await staged.commit();
    const sha = staged.sha256;
    expect(existsSync(join(dir, "objects", "sha256", sha.slice(0, 2), sha))).toBe(true);
    rmSync(dir, { recursive: true, force: true });
  });

  test("open() removes staging files of crashed processes on this host, not of live ones", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tufbox-content-"));
    const staging = join(dir, "staging");
    mkdirSync(staging, { recursive: true });
    const host = hostname().replace(/[^A-Za-z0-9.]/g, "_");
    // A pid that cannot be running (above pid_max), one that is (this process's parent), another host's.
    const dead = `up-${host}-4194305-aaaaaaaaaaaa-01.part`;
    const live = `up-${host}-${process.ppid}-bbbbbbbbbbbb-02.part`;
    const otherHost = "up-some.other.host-1-cccccccccccc-03.part";
    // Same pid as this process but another instance: the crashed previous run of a container.
    const samePid = `up-${host}-${process.pid}-dddddddddddd-04.part`;
    for (const n of [dead, live, otherHost, samePid, "unrelated.txt"]) writeFileSync(join(staging, n), "x");
    await new LocalStorage(dir).open();
    expect(readdirSync(staging).sort()).toEqual([live, otherHost, "unrelated.txt"].sort());
    rmSync(dir, { recursive: true, force: true });
  });
});
