/**
 * GET /api/v1/roles `bins_advice` against a real server: the artifacts are
 * counted from the store, the bytes per target entry measured from the
 * published bins (checked here against the entries themselves, in canonical
 * JSON), the current count compared with the advice; and the constants the
 * advice assumes without measurements (an empty bin, an entry with a
 * 50-character path) are what the server really publishes.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { canonicalJson } from "../../../src/tuf/canonical.ts";
import { ASSUMED_ENTRY_BYTES, BIN_ENVELOPE_BYTES, adviseBins } from "../../../src/tuf/bin-advice.ts";
import { binsPayload } from "../../helpers/fixtures.ts";
import { startTestServer, tempDir, type TestServer } from "../../helpers/server.ts";

let s: TestServer;
const dataDir = tempDir();

async function published(url: string, name: string): Promise<{ bytes: number; doc: any }> {
  const res = await fetch(`${url}/metadata/${name}`);
  expect(res.status).toBe(200);
  const text = await res.text();
  return { bytes: new TextEncoder().encode(text).byteLength, doc: JSON.parse(text) };
}

/** Every bin the snapshot lists: its bytes and its target entries. */
async function publishedBins(url: string) {
  const ts = (await published(url, "timestamp.json")).doc;
  const snap = (await published(url, `${ts.signed.meta["snapshot.json"].version}.snapshot.json`)).doc;
  return Promise.all(
    Object.entries(snap.signed.meta as Record<string, { version: number }>)
      .filter(([name]) => name.startsWith("bins-"))
      .map(([name, m]) => published(url, `${m.version}.${name}`)),
  );
}

const PATHS = Array.from({ length: 200 }, (_, i) => `releases/${String(i).padStart(3, "0")}/app.tar.gz`);

beforeAll(async () => {
  s = await startTestServer({ dataDir });
  const boot = await s.api("POST", "/api/v1/bootstrap", binsPayload(16));
  expect((await s.waitTask(boot.body.data.task_id)).state).toBe("SUCCESS");
});

afterAll(async () => {
  await s?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("GET /api/v1/roles bins_advice", () => {
  test("an empty repository: no entries to measure, the assumed entry size, 16 bins far below the advice", async () => {
    const r = await s.api("GET", "/api/v1/roles");
    expect(r.status).toBe(200);
    const a = r.body.data.bins_advice;
    expect(a).toMatchObject({
      artifacts: 0,
      entry_bytes: ASSUMED_ENTRY_BYTES,
      entry_bytes_source: "assumed",
      current: { bins: 16 },
      recommended: { bins: 256 },
    });
    expect(a.trade_off).toHaveLength(2);
    expect(a.warnings.map((w: any) => w.code)).toEqual(["far-from-recommended"]);
    // the fields that were there before the advice are still there
    expect(r.body.data.bins).toMatchObject({ count: 16, published: 16 });
    expect(r.body.data.roles.map((x: any) => x.name)).toEqual(["root", "targets", "snapshot", "timestamp"]);
  });

  test("an empty bin is as big as the advice assumes", async () => {
    const bins = await publishedBins(s.url);
    expect(bins).toHaveLength(16);
    for (const b of bins) {
      expect(Object.keys(b.doc.signed.targets)).toHaveLength(0);
      // versions and expiry dates have the same width in every bin of one bootstrap
      expect(Math.abs(b.bytes - BIN_ENVELOPE_BYTES)).toBeLessThanOrEqual(2);
    }
  });

  test("with artifacts: counted from the store, entry bytes measured from the published bins", async () => {
    const add = await s.api("POST", "/api/v1/artifacts", {
      artifacts: PATHS.map((path, i) => ({
        path,
        info: { length: 1000 + i, hashes: { sha256: i.toString(16).padStart(64, "0") } },
      })),
    });
    expect((await s.waitTask(add.body.data.task_id)).state).toBe("SUCCESS");
    const bins = await publishedBins(s.url);
    // Independently: each entry as it appears in the canonical bin, with its separator.
    let entryBytes = 0;
    let entries = 0;
    for (const b of bins)
      for (const [path, info] of Object.entries(b.doc.signed.targets)) {
        entryBytes += new TextEncoder().encode(`${JSON.stringify(path)}:${canonicalJson(info)},`).byteLength;
        entries++;
      }
    expect(entries).toBe(PATHS.length);
    const a = (await s.api("GET", "/api/v1/roles")).body.data.bins_advice;
    expect(a.artifacts).toBe(PATHS.length);
    expect(a.entry_bytes_source).toBe("measured");
    expect(Math.abs(a.entry_bytes - entryBytes / entries)).toBeLessThan(1);
    expect(a).toEqual(
      adviseBins({ artifacts: PATHS.length, entryBytes: a.entry_bytes, currentBins: 16, otherRoles: 1 }) as any,
    );
  });

  test("the assumed entry size is a sha256 + length entry with a 50-character path", async () => {
    const path = `${"p".repeat(39)}/app.tar.gz`;
    expect(path).toHaveLength(50);
    const add = await s.api("POST", "/api/v1/artifacts", {
      artifacts: [{ path, info: { length: 123456, hashes: { sha256: "cd".repeat(32) } } }],
    });
    expect((await s.waitTask(add.body.data.task_id)).state).toBe("SUCCESS");
    const bins = await publishedBins(s.url);
    const bin = bins.find((b) => path in b.doc.signed.targets)!;
    const bytes = new TextEncoder().encode(`${JSON.stringify(path)}:${canonicalJson(bin.doc.signed.targets[path])},`);
    expect(Math.abs(bytes.byteLength - ASSUMED_ENTRY_BYTES)).toBeLessThanOrEqual(5);
  });

  test("/openapi.json documents bins_advice on GET /api/v1/roles", async () => {
    const doc = (await (await fetch(`${s.url}/openapi.json`)).json()) as any;
    const schema = doc.paths["/api/v1/roles"].get.responses["200"].content["application/json"].schema;
    const data = schema.properties.data;
    expect(data.properties.bins_advice).toBeDefined();
    expect(JSON.stringify(data.properties.bins_advice)).toContain("tufjs_refresh_seconds");
  });

  test("after a restart the same advice (bin sizes come back from the store)", async () => {
    const before = (await s.api("GET", "/api/v1/roles")).body.data.bins_advice;
    expect(before.entry_bytes_source).toBe("measured");
    await s.stop();
    s = await startTestServer({ dataDir });
    expect((await s.api("GET", "/api/v1/roles")).body.data.bins_advice).toEqual(before);
  });
});
