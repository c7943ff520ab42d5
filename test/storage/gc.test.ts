/**
 * The gc-artifact-content job on a real server: removed artifacts keep their
 * bytes for the grace period (still downloadable by hash), then lose them;
 * listed, held and re-uploaded content is never deleted.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { collectContent, defaultGraceMs } from "../../src/storage/gc.ts";
import type { TestServer } from "../helpers/server.ts";
import { bootstrapped, localFiles, put, sha256 } from "../helpers/upload.ts";

let s: TestServer;
beforeAll(async () => {
  s = await bootstrapped();
});
afterAll(async () => {
  await s.stop();
});

const HOUR = 3_600_000;

async function settle(taskId: string) {
  expect((await s.waitTask(taskId)).state).toBe("SUCCESS");
}

async function upload(path: string, body: string, query = "") {
  const r = await put(s.url, path, body, {}, query);
  expect(r.status).toBe(202);
  await settle(r.body.data.task_id);
}

async function remove(path: string) {
  const r = await s.api("POST", "/api/v1/artifacts/delete", { artifacts: [path] });
  expect(r.status).toBe(202);
  await settle(r.body.data.task_id);
}

const gc = (now: Date) =>
  collectContent({ store: s.app.store, content: s.app.content, log: s.app.log }, { graceMs: HOUR, now });
const stored = () => localFiles(s.app.config.storage.local_dir).objects;
const byHash = (dir: string, body: string, name: string) => fetch(`${s.url}/targets/${dir}/${sha256(body)}.${name}`);

test("GC deletes only content unlisted for longer than the grace period", async () => {
  await upload("gc/removed.txt", "removed soon");
  await upload("gc/kept.txt", "kept forever");
  await upload("gc/held.txt", "held, not yet published", "?publish=false");
  await upload("gc/revived.txt", "removed, then uploaded again");
  // The same bytes under a second path: removing one path must not delete them.
  await upload("gc/shared-1.txt", "shared bytes");
  await upload("gc/shared-2.txt", "shared bytes");
  await remove("gc/removed.txt");
  await remove("gc/revived.txt");
  await remove("gc/shared-1.txt");

  const t0 = new Date();
  const first = await gc(t0);
  // (The scheduler's own run of the job may have marked them a moment earlier.)
  expect(first.deleted).toBe(0);
  for (const unlisted of ["removed soon", "removed, then uploaded again"])
    expect((await s.app.store.contents.get(sha256(unlisted)))?.unreferencedSince).not.toBeNull();
  // Within the grace period a client holding old metadata still gets the bytes.
  expect(await (await byHash("gc", "removed soon", "removed.txt")).text()).toBe("removed soon");

  await upload("gc/revived.txt", "removed, then uploaded again");
  const later = new Date(t0.getTime() + 2 * HOUR);
  const second = await gc(later);
  expect(second).toMatchObject({ deleted: 1, freedBytes: "removed soon".length });
  expect(stored()).not.toContain(sha256("removed soon"));
  expect(await s.app.store.contents.get(sha256("removed soon"))).toBeUndefined();
  expect((await byHash("gc", "removed soon", "removed.txt")).status).toBe(404);
  for (const kept of ["kept forever", "held, not yet published", "removed, then uploaded again", "shared bytes"]) {
    expect(stored()).toContain(sha256(kept));
    expect((await s.app.store.contents.get(sha256(kept)))?.unreferencedSince).toBeNull();
  }
  expect(await (await fetch(`${s.url}/targets/gc/shared-2.txt`)).text()).toBe("shared bytes");
});

test("bytes uploaded again after deletion are stored again", async () => {
  await upload("gc2/a.txt", "come back");
  await remove("gc2/a.txt");
  const t0 = new Date();
  await gc(t0);
  await gc(new Date(t0.getTime() + 2 * HOUR));
  expect(stored()).not.toContain(sha256("come back"));
  await upload("gc2/a.txt", "come back");
  expect(stored()).toContain(sha256("come back"));
  expect(await (await fetch(`${s.url}/targets/gc2/a.txt`)).text()).toBe("come back");
});

test("the job is listed with the scheduler and runs now; the default grace outlasts timestamp and snapshot expiry", async () => {
  const job = s.app.scheduler.list().find((j) => j.name === "gc-artifact-content");
  expect(job?.description).toContain("grace period");
  expect(await s.app.scheduler.runNow("gc-artifact-content")).toMatch(/^artifact content: \d+ deleted/);
  expect(defaultGraceMs({ timestamp: 1, snapshot: 7 })).toBe(8 * 24 * HOUR);
  expect(defaultGraceMs(undefined)).toBe(2 * 24 * HOUR);
});
