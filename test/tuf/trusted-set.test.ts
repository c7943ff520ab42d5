/**
 * The client-workflow checks (src/tuf/trusted-set.ts), the pre-order target
 * search (src/tuf/target-search.ts) and length/hash checks
 * (src/tuf/file-hashes.ts), one scenario per rule of spec 5.3–5.7, on a small
 * repository built here with fresh ed25519 keys.
 */
import { describe, expect, test } from "bun:test";
import { createHash, generateKeyPairSync } from "node:crypto";
import { NativeSigner, publicKeyJSONFor } from "../../src/tuf/signer.ts";
import { PublicKey, type KeyJSON } from "../../src/tuf/keys.ts";
import { signSigned } from "../../src/tuf/document.ts";
import type { TargetsSigned } from "../../src/tuf/metadata.ts";
import { SuccinctBins } from "../../src/tuf/bins.ts";
import {
  finalRoot,
  newSnapshot,
  newTargets,
  newTimestamp,
  nextRoot,
  delegatedRoleKeys,
  delegatedRoleNames,
  trustedRoot,
  readDocument,
  stillTrusted,
} from "../../src/tuf/trusted-set.ts";
import { parseRoot, parseTimestamp, parseSnapshot } from "../../src/tuf/metadata.ts";
import { searchTarget, rolesForPath } from "../../src/tuf/target-search.ts";
import { lengthAndHashesMismatch } from "../../src/tuf/file-hashes.ts";

function key(): { signer: NativeSigner; json: KeyJSON; keyid: string } {
  const { privateKey } = generateKeyPairSync("ed25519");
  const json = publicKeyJSONFor(privateKey);
  const pub = PublicKey.fromJSON(json);
  return { signer: new NativeSigner(privateKey, pub), json, keyid: pub.keyid };
}

const r1 = key();
const r2 = key();
const r3 = key();
const ts = key();
const snap = key();
const tg = key();
const bins = key();
const other = key();
const NOW = new Date("2030-06-01T00:00:00Z");
const LATER = "2031-01-01T00:00:00Z";
const PAST = "2030-05-01T00:00:00Z";
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function root(version: number, rootKeys: ReturnType<typeof key>[], threshold = 1, expires = LATER, timestampKey = ts) {
  const all = [...rootKeys, timestampKey, snap, tg];
  return {
    _type: "root",
    spec_version: "1.0.31",
    version,
    expires,
    consistent_snapshot: true,
    keys: Object.fromEntries(all.map((k) => [k.keyid, k.json])),
    roles: {
      root: { keyids: rootKeys.map((k) => k.keyid), threshold },
      timestamp: { keyids: [timestampKey.keyid], threshold: 1 },
      snapshot: { keyids: [snap.keyid], threshold: 1 },
      targets: { keyids: [tg.keyid], threshold: 1 },
    },
  };
}

const sign = (signed: object, ...keys: ReturnType<typeof key>[]) =>
  signSigned(
    signed as never,
    keys.map((k) => k.signer),
  ).bytes;

function timestamp(version: number, snapshotVersion: number, snapBytes?: Uint8Array, expires = LATER) {
  const meta: Record<string, unknown> = { version: snapshotVersion };
  if (snapBytes) Object.assign(meta, { length: snapBytes.byteLength, hashes: { sha256: sha(snapBytes) } });
  return { _type: "timestamp", spec_version: "1.0.31", version, expires, meta: { "snapshot.json": meta } };
}

function snapshot(version: number, meta: Record<string, number>, expires = LATER) {
  return {
    _type: "snapshot",
    spec_version: "1.0.31",
    version,
    expires,
    meta: Object.fromEntries(Object.entries(meta).map(([n, v]) => [n, { version: v }])),
  };
}

function targets(version: number, extra: Partial<TargetsSigned> = {}, expires = LATER): TargetsSigned {
  return { _type: "targets", spec_version: "1.0.31", version, expires, targets: {}, ...extra } as TargetsSigned;
}

const ROOT1 = sign(root(1, [r1, r2], 2), r1, r2);
const root1 = readDocument(ROOT1, parseRoot, "1.root.json");
if (!root1.ok) throw new Error("fixture");
const R1 = root1.value;

describe("root (5.2, 5.3)", () => {
  test("the trusted root needs its own threshold", () => {
    expect(trustedRoot(ROOT1).ok).toBe(true);
    const half = trustedRoot(sign(root(1, [r1, r2], 2), r1));
    expect(half).toMatchObject({ ok: false, reason: "tampered" });
  });

  test("root N+1 needs the thresholds of N and of N+1, and exactly version N+1", () => {
    const next = root(2, [r2, r3], 2);
    expect(nextRoot(R1, sign(next, r1, r2, r3), "2.root.json").ok).toBe(true);
    // signed by the new keys only: root v1's threshold (r1 + r2) is not met
    expect(nextRoot(R1, sign(next, r2, r3), "2.root.json")).toMatchObject({ ok: false, reason: "tampered" });
    // signed by the old keys only: its own threshold (r2 + r3) is not met
    expect(nextRoot(R1, sign(next, r1, r2), "2.root.json")).toMatchObject({ ok: false, reason: "tampered" });
    // a duplicate signature by one key counts once
    const bytes = sign(next, r1, r2, r3);
    const doc = JSON.parse(new TextDecoder().decode(bytes));
    doc.signatures = [doc.signatures[0], doc.signatures[0], doc.signatures[2]];
    expect(nextRoot(R1, new TextEncoder().encode(JSON.stringify(doc)), "2.root.json").ok).toBe(false);
    expect(nextRoot(R1, sign(root(3, [r1, r2], 2), r1, r2), "2.root.json")).toMatchObject({
      ok: false,
      reason: "invalid",
    });
    expect(nextRoot(R1, sign(root(1, [r1, r2], 2), r1, r2), "2.root.json")).toMatchObject({
      ok: false,
      reason: "rollback",
    });
    expect(nextRoot(R1, new TextEncoder().encode("{"), "2.root.json")).toMatchObject({ ok: false, reason: "invalid" });
  });

  test("an expired intermediate root is fine, an expired final root is a freeze (5.3.10)", () => {
    const old = readDocument(sign(root(2, [r1, r2], 2, PAST), r1, r2), parseRoot, "2.root.json");
    expect(old.ok && nextRoot(R1, sign(root(2, [r1, r2], 2, PAST), r1, r2), "x").ok).toBe(true);
    expect(old.ok && finalRoot(old.value, NOW)).toMatchObject({ ok: false, reason: "expired" });
    expect(finalRoot(R1, NOW).ok).toBe(true);
  });

  test("5.3.11: a timestamp signed by a rotated-out key no longer counts", () => {
    const tsDoc = readDocument(sign(timestamp(5, 5), ts), parseTimestamp, "timestamp.json");
    const rotated = readDocument(sign(root(2, [r1, r2], 2, LATER, other), r1, r2), parseRoot, "2.root.json");
    if (!tsDoc.ok || !rotated.ok) throw new Error("fixture");
    expect(stillTrusted(R1, tsDoc.value, "timestamp")).toBe(true);
    expect(stillTrusted(rotated.value, tsDoc.value, "timestamp")).toBe(false);
  });
});

describe("timestamp (5.4)", () => {
  const trusted = readDocument(sign(timestamp(5, 5), ts), parseTimestamp, "timestamp.json");
  if (!trusted.ok) throw new Error("fixture");
  const T = trusted.value;

  test("signature, rollback, equal version, snapshot rollback, freeze", () => {
    expect(newTimestamp(R1, T, sign(timestamp(6, 6), ts), NOW)).toMatchObject({
      ok: true,
      value: { unchanged: false },
    });
    expect(newTimestamp(R1, T, sign(timestamp(6, 6), other), NOW)).toMatchObject({ ok: false, reason: "tampered" });
    expect(newTimestamp(R1, T, sign(timestamp(4, 5), ts), NOW)).toMatchObject({ ok: false, reason: "rollback" });
    expect(newTimestamp(R1, T, sign(timestamp(5, 5), ts), NOW)).toMatchObject({ ok: true, value: { unchanged: true } });
    expect(newTimestamp(R1, T, sign(timestamp(6, 4), ts), NOW)).toMatchObject({ ok: false, reason: "rollback" });
    expect(newTimestamp(R1, T, sign(timestamp(6, 6, undefined, PAST), ts), NOW)).toMatchObject({
      ok: false,
      reason: "expired",
    });
    expect(newTimestamp(R1, undefined, sign(timestamp(1, 1), ts), NOW).ok).toBe(true);
    // the same version again, but the trusted one expired meanwhile: still a freeze
    const stale = readDocument(sign(timestamp(5, 5, undefined, PAST), ts), parseTimestamp, "t");
    if (!stale.ok) throw new Error("fixture");
    expect(newTimestamp(R1, stale.value, sign(timestamp(5, 5, undefined, PAST), ts), NOW)).toMatchObject({
      ok: false,
      reason: "expired",
    });
  });

  test("a tampered byte inside signed breaks the signature", () => {
    const bytes = sign(timestamp(6, 6), ts);
    const text = new TextDecoder().decode(bytes).replace("2031-01-01", "2032-01-01");
    expect(newTimestamp(R1, T, new TextEncoder().encode(text), NOW)).toMatchObject({ ok: false, reason: "tampered" });
  });
});

describe("snapshot (5.5) and targets (5.6)", () => {
  const S5 = sign(snapshot(5, { "targets.json": 3, "bins-0.json": 2 }), snap);
  const ts6 = (bytes: Uint8Array, v = 6) => {
    const d = readDocument(sign(timestamp(6, v, bytes), ts), parseTimestamp, "timestamp.json");
    if (!d.ok) throw new Error("fixture");
    return d.value;
  };
  const trustedSnap = readDocument(S5, parseSnapshot, "5.snapshot.json");
  if (!trustedSnap.ok) throw new Error("fixture");

  test("hashes from the timestamp, signature, version, rollback of listed roles, freeze", () => {
    const s6 = sign(snapshot(6, { "targets.json": 4, "bins-0.json": 2 }), snap);
    expect(newSnapshot(R1, ts6(s6), trustedSnap.value, s6, NOW).ok).toBe(true);
    const altered = new TextEncoder().encode(
      new TextDecoder().decode(s6).replace('"targets.json":{"version":4}', '"targets.json":{"version":9}'),
    );
    expect(newSnapshot(R1, ts6(s6), trustedSnap.value, altered, NOW)).toMatchObject({ ok: false, reason: "tampered" });
    const wrongKey = sign(snapshot(6, { "targets.json": 4, "bins-0.json": 2 }), other);
    expect(newSnapshot(R1, ts6(wrongKey), undefined, wrongKey, NOW)).toMatchObject({ ok: false, reason: "tampered" });
    const s7 = sign(snapshot(7, { "targets.json": 4 }), snap);
    expect(newSnapshot(R1, ts6(s7), undefined, s7, NOW)).toMatchObject({ ok: false, reason: "invalid" });
    const dropped = sign(snapshot(6, { "targets.json": 4 }), snap);
    expect(newSnapshot(R1, ts6(dropped), trustedSnap.value, dropped, NOW)).toMatchObject({
      ok: false,
      reason: "rollback",
    });
    const older = sign(snapshot(6, { "targets.json": 2, "bins-0.json": 2 }), snap);
    expect(newSnapshot(R1, ts6(older), trustedSnap.value, older, NOW)).toMatchObject({ ok: false, reason: "rollback" });
    const expired = sign(snapshot(6, { "targets.json": 4, "bins-0.json": 2 }, PAST), snap);
    expect(newSnapshot(R1, ts6(expired), trustedSnap.value, expired, NOW)).toMatchObject({
      ok: false,
      reason: "expired",
    });
    // bytes verified earlier need not match the timestamp's hashes again (ngclient's trusted local snapshot)
    expect(newSnapshot(R1, ts6(s6, 5), undefined, S5, NOW, true).ok).toBe(true);
  });

  test("targets and a succinct bin verify with their delegator's keys", () => {
    const succinct = { keyids: [bins.keyid], threshold: 1, bit_length: 1, name_prefix: "bins" };
    const top = targets(4, { delegations: { keys: { [bins.keyid]: bins.json }, succinct_roles: succinct } });
    const topBytes = sign(top, tg);
    expect(
      newTargets(topBytes, "4.targets.json", R1.signed.keys, R1.signed.roles.targets, { version: 4 }, NOW).ok,
    ).toBe(true);
    expect(
      newTargets(topBytes, "4.targets.json", R1.signed.keys, R1.signed.roles.targets, { version: 5 }, NOW),
    ).toMatchObject({
      ok: false,
      reason: "rollback",
    });
    const d = top.delegations!;
    expect(delegatedRoleNames(d)).toEqual(["bins-0", "bins-1"]);
    expect(delegatedRoleKeys(d, "bins-1")).toBe(succinct);
    expect(delegatedRoleKeys(d, "bins-2")).toBeUndefined();
    const bin = sign(targets(2), bins);
    expect(newTargets(bin, "2.bins-0.json", d.keys, delegatedRoleKeys(d, "bins-0")!, { version: 2 }, NOW).ok).toBe(
      true,
    );
    const forged = sign(targets(2), other);
    expect(
      newTargets(forged, "2.bins-0.json", d.keys, delegatedRoleKeys(d, "bins-0")!, { version: 2 }, NOW),
    ).toMatchObject({
      ok: false,
      reason: "tampered",
    });
    expect(
      newTargets(
        bin,
        "2.bins-0.json",
        d.keys,
        delegatedRoleKeys(d, "bins-0")!,
        { version: 2, length: bin.byteLength + 1 },
        NOW,
      ),
    ).toMatchObject({ ok: false, reason: "tampered" });
    const expired = sign(targets(2, {}, PAST), bins);
    expect(
      newTargets(expired, "2.bins-0.json", d.keys, delegatedRoleKeys(d, "bins-0")!, { version: 2 }, NOW),
    ).toMatchObject({
      ok: false,
      reason: "expired",
    });
  });
});

describe("target search (5.6.7)", () => {
  const file = (n: number) => ({ length: n, hashes: { sha256: "00".repeat(32) } });
  const role = (name: string, paths: string[], terminating = false) => ({
    name,
    keyids: [],
    threshold: 1,
    terminating,
    paths,
  });

  test("pre-order, in order of appearance, terminating stops backtracking, cycles skipped", async () => {
    const roles: Record<string, TargetsSigned> = {
      targets: targets(1, {
        delegations: { keys: {}, roles: [role("a", ["x/*"]), role("b", ["x/*"], true), role("c", ["x/*"])] },
      }),
      a: targets(1, { delegations: { keys: {}, roles: [role("a2", ["x/*"]), role("targets", ["x/*"])] } }),
      a2: targets(1),
      b: targets(1, { targets: { "x/1": file(2) } }),
      c: targets(1, { targets: { "x/1": file(3), "x/2": file(4) } }),
    };
    const seen: string[] = [];
    const load = (name: string) => {
      seen.push(name);
      return roles[name];
    };
    expect(await searchTarget("x/1", load)).toEqual({ role: "b", file: file(2) });
    expect(seen).toEqual(["targets", "a", "a2", "b"]);
    // b is terminating: c is never asked, even though it lists x/2
    expect(await searchTarget("x/2", load)).toBeUndefined();
    expect(await searchTarget("y", load)).toBeUndefined();
  });

  test("at most 32 roles are visited; succinct bins route by hash", async () => {
    const chain: Record<string, TargetsSigned> = {};
    chain.targets = targets(1, { delegations: { keys: {}, roles: [role("r0", ["*"])] } });
    for (let i = 0; i < 40; i++)
      chain[`r${i}`] = targets(1, {
        delegations: { keys: {}, roles: [role(`r${i + 1}`, ["*"])] },
        ...(i === 39 ? { targets: { deep: file(1) } } : {}),
      });
    expect(await searchTarget("deep", (n) => chain[n])).toBeUndefined();
    const d = { keys: {}, succinct_roles: { keyids: [], threshold: 1, bit_length: 4, name_prefix: "bins" } };
    expect(rolesForPath(d, "a/b.txt")).toEqual([
      { name: new SuccinctBins(4).binForPath("a/b.txt"), terminating: true },
    ]);
  });
});

describe("lengths and hashes", () => {
  const bytes = new TextEncoder().encode("hello");
  const h = (alg: string) => createHash(alg).update(bytes).digest("hex");

  test("every listed hash must match; an algorithm we cannot compute is a mismatch", () => {
    expect(
      lengthAndHashesMismatch(bytes, { length: 5, hashes: { sha256: h("sha256"), "blake2b-256": h("blake2b256") } }),
    ).toBeUndefined();
    expect(
      lengthAndHashesMismatch(bytes, { hashes: { blake2b: h("blake2b512"), sha512: h("sha512") } }),
    ).toBeUndefined();
    expect(lengthAndHashesMismatch(bytes, { length: 6 })).toContain("length 5");
    expect(lengthAndHashesMismatch(bytes, { hashes: { sha256: h("sha512").slice(0, 64) } })).toContain("sha256");
    expect(lengthAndHashesMismatch(bytes, { hashes: { sha256: h("sha256"), md5: h("md5") } })).toContain(
      "not supported",
    );
    expect(lengthAndHashesMismatch(bytes, {})).toBeUndefined();
  });
});
