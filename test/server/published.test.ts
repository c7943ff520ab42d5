import { describe, expect, test } from "bun:test";
import { PublishedMetadata, PublishedMetadataError } from "../../src/server/published.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined) => (b ? new TextDecoder().decode(b) : undefined);

/** A store stand-in that records every load, like the real store would answer. */
function fakeStore() {
  const files = new Map<string, Uint8Array>();
  const loads: string[] = [];
  return {
    files,
    loads,
    loader: async (name: string) => {
      loads.push(name);
      await Bun.sleep(1);
      return files.get(name);
    },
    lister: async () => [...files.keys()],
    add(list: { name: string; bytes: Uint8Array }[]) {
      for (const f of list) files.set(f.name, f.bytes);
      return list;
    },
  };
}

function batch(v: number, extra: Record<string, string> = {}) {
  return [
    { name: `${v}.bins-0.json`, bytes: enc(`{"bin":${v}}`) },
    { name: `${v}.snapshot.json`, bytes: enc(`{"snapshot":${v}}`) },
    ...Object.entries(extra).map(([name, s]) => ({ name, bytes: enc(s) })),
    { name: "timestamp.json", bytes: enc(`{"timestamp":${v}}`) },
  ];
}

describe("PublishedMetadata", () => {
  test("serves exactly the published bytes with a strong sha256 ETag", async () => {
    const md = new PublishedMetadata();
    md.publish(batch(1));
    const ts = await md.get("timestamp.json");
    expect(text(ts?.bytes)).toBe('{"timestamp":1}');
    const sha = new Bun.CryptoHasher("sha256").update('{"timestamp":1}').digest("hex");
    expect(ts?.etag).toBe(`"${sha.slice(0, 32)}"`);
    expect(ts?.immutable).toBe(false);
    const snap = await md.get("1.snapshot.json");
    expect(snap?.immutable).toBe(true);
    expect(snap?.version).toBe(1);
    expect(snap?.role).toBe("snapshot");
  });

  test("keeps the newest version of every role resident and older ones reachable", async () => {
    const store = fakeStore();
    const md = new PublishedMetadata({ loader: store.loader, cacheBytes: 1 });
    md.publish(store.add(batch(1)));
    md.publish(store.add(batch(2)));
    expect(
      md
        .hotFiles()
        .map((f) => f.name)
        .sort(),
    ).toEqual(["2.bins-0.json", "2.snapshot.json", "timestamp.json"]);
    expect(text((await md.get("timestamp.json"))?.bytes)).toBe('{"timestamp":2}');
    // cacheBytes: 1 keeps nothing old in memory: v1 must come from the loader.
    expect(md.peek("1.snapshot.json")).toBeUndefined();
    expect(text((await md.get("1.snapshot.json"))?.bytes)).toBe('{"snapshot":1}');
    expect(store.loads).toEqual(["1.snapshot.json"]);
    expect(store.loads).not.toContain("2.snapshot.json");
  });

  test("the LRU of older versions is bounded by bytes", async () => {
    const store = fakeStore();
    const md = new PublishedMetadata({ loader: store.loader, cacheBytes: 64 });
    for (let v = 1; v <= 20; v++) md.publish(store.add(batch(v)));
    const { cachedBytes, cachedFiles } = md.stats();
    expect(cachedBytes).toBeLessThanOrEqual(64);
    expect(cachedFiles).toBeGreaterThan(0);
    // The most recently replaced version is still cached, the first one is not.
    expect(md.peek("19.snapshot.json")).toBeDefined();
    expect(md.peek("1.snapshot.json")).toBeUndefined();
    expect(text((await md.get("1.bins-0.json"))?.bytes)).toBe('{"bin":1}');
  });

  test("a version above the newest is missing without asking the store", async () => {
    const store = fakeStore();
    const md = new PublishedMetadata({ loader: store.loader });
    md.publish(
      store.add([
        { name: "1.root.json", bytes: enc("{}") },
        { name: "root.json", bytes: enc("{}") },
      ]),
    );
    expect(await md.get("2.root.json")).toBeUndefined();
    expect(store.loads).toEqual([]);
    // Unknown roles do go to the store (it knows every role), and the answer is remembered briefly.
    expect(await md.get("1.unknown.json")).toBeUndefined();
    expect(await md.get("1.unknown.json")).toBeUndefined();
    expect(store.loads).toEqual(["1.unknown.json"]);
  });

  test("concurrent misses for one name load it once", async () => {
    const store = fakeStore();
    const md = new PublishedMetadata({ loader: store.loader, cacheBytes: 0 });
    md.publish(store.add(batch(1)));
    md.publish(store.add(batch(2)));
    const results = await Promise.all(Array.from({ length: 10 }, () => md.get("1.snapshot.json")));
    expect(results.every((r) => text(r?.bytes) === '{"snapshot":1}')).toBe(true);
    expect(store.loads).toEqual(["1.snapshot.json"]);
  });

  test("a store failure rejects instead of reading as missing", async () => {
    let fail = true;
    const md = new PublishedMetadata({
      loader: async () => {
        if (fail) throw new Error("store down");
        return enc("{}");
      },
    });
    md.publish([{ name: "2.targets.json", bytes: enc("{}") }]);
    await expect(md.get("1.targets.json")).rejects.toThrow("store down");
    fail = false;
    expect(await md.get("1.targets.json")).toBeDefined();
  });

  test("refuses to republish a version with different bytes, and changes nothing", async () => {
    const md = new PublishedMetadata();
    md.publish(batch(1));
    expect(() =>
      md.publish([
        { name: "2.snapshot.json", bytes: enc("{}") },
        { name: "1.snapshot.json", bytes: enc('{"snapshot":"evil"}') },
        { name: "timestamp.json", bytes: enc('{"timestamp":2}') },
      ]),
    ).toThrow(PublishedMetadataError);
    expect(text(md.peek("timestamp.json")?.bytes)).toBe('{"timestamp":1}');
    expect(md.peek("2.snapshot.json")).toBeUndefined();
    // The same bytes again are fine (the engine republishes heads at start-up).
    md.publish(batch(1));
    expect(md.generation).toBe(2);
  });

  test("refuses names that cannot be served", () => {
    const md = new PublishedMetadata();
    expect(() => md.publish([{ name: "../x.json", bytes: enc("{}") }])).toThrow(PublishedMetadataError);
    expect(() => md.publish([{ name: "timestamp", bytes: enc("{}") }])).toThrow(PublishedMetadataError);
  });

  test("listeners hear every publish once, with the batch names, until unsubscribed", () => {
    const md = new PublishedMetadata();
    const heard: string[][] = [];
    const off = md.onChange((names) => heard.push([...names]));
    md.onChange(() => {
      throw new Error("a broken listener must not break publishing");
    });
    md.publish(batch(1));
    off();
    md.publish(batch(2));
    expect(heard).toEqual([["1.bins-0.json", "1.snapshot.json", "timestamp.json"]]);
    expect(md.peek("2.snapshot.json")).toBeDefined();
  });

  test("listNames merges the store's names with memory, in version order", async () => {
    const store = fakeStore();
    const md = new PublishedMetadata({ loader: store.loader, lister: store.lister });
    store.add([
      { name: "1.root.json", bytes: enc("{}") },
      { name: "2.root.json", bytes: enc("{}") },
      { name: "10.root.json", bytes: enc("{}") },
    ]);
    md.publish([{ name: "timestamp.json", bytes: enc("{}") }]);
    expect(await md.listNames()).toEqual(["1.root.json", "2.root.json", "10.root.json", "timestamp.json"]);
  });

  test("a name missing in the store is found after it is published", async () => {
    const store = fakeStore();
    const md = new PublishedMetadata({ loader: store.loader, missingTtlMs: 60_000 });
    expect(await md.get("1.bins-1.json")).toBeUndefined();
    md.publish([{ name: "1.bins-1.json", bytes: enc("{}") }]);
    expect(await md.get("1.bins-1.json")).toBeDefined();
  });
});
