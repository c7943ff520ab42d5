/**
 * Root rotation (spec 5.3.4-5.3.5): N+1 must meet the thresholds of N and of
 * N+1, and a client walks the chain one version at a time. src/tuf/root-chain.ts
 * is the only implementation; these cases are what every caller relies on.
 */
import { describe, expect, test } from "bun:test";
import {
  NobleEd25519Signer,
  SPEC_VERSION,
  canonicalJson,
  parseRoot,
  utf8,
  verifyRootUpdate,
  walkRootChain,
  type Metadata,
  type RootSigned,
} from "../../src/tuf/index.ts";
import { clone, fixtureJson } from "./helpers.ts";

function fixtureRoot(p: string): Metadata<RootSigned> {
  return parseRoot(clone(fixtureJson(p).metadata.root));
}

const signer = (n: number) => new NobleEd25519Signer(new Uint8Array(32).fill(n));

/** Root `version` with root keys `rootKeys` (threshold `threshold`), signed by `signedBy`. */
function makeRoot(
  version: number,
  rootKeys: number[],
  threshold: number,
  signedBy: number[],
  expires = "2099-01-01T00:00:00Z",
): Metadata<RootSigned> {
  const online = signer(99);
  const keys = Object.fromEntries([...rootKeys, 99].map((n) => [signer(n).keyid, signer(n).publicKey.json]));
  const only = (ids: string[], t: number) => ({ keyids: ids, threshold: t });
  const signed: RootSigned = {
    _type: "root",
    spec_version: SPEC_VERSION,
    version,
    expires,
    consistent_snapshot: true,
    keys,
    roles: {
      root: only(
        rootKeys.map((n) => signer(n).keyid),
        threshold,
      ),
      targets: only([online.keyid], 1),
      snapshot: only([online.keyid], 1),
      timestamp: only([online.keyid], 1),
    },
  };
  const data = utf8(canonicalJson(signed));
  return { signed, signatures: signedBy.map((n) => ({ keyid: signer(n).keyid, sig: signer(n).sign(data) })) };
}

describe("verifyRootUpdate", () => {
  test("fixture root v2 meets the thresholds of v1 and of itself", () => {
    const v1 = fixtureRoot("bootstrap-bins.json");
    const v2 = fixtureRoot("metadata-update-root-v2-online-ecdsa.json");
    const r = verifyRootUpdate(v2, v1);
    expect(r.verified).toBe(true);
    expect(r.own.verified).toBe(true);
    expect(r.trusted?.verified).toBe(true);
  });

  test("fixture root v3 with 1 of 2 signatures is reported, not thrown", () => {
    const v2 = fixtureRoot("metadata-update-root-v2-online-ecdsa.json");
    const v3 = fixtureRoot("metadata-update-root-v3-online-rsa-1-of-2.json");
    const r = verifyRootUpdate(v3, v2);
    expect(r.verified).toBe(false);
    expect(r.own.signed.length).toBe(1);
    expect(r.trusted?.signed.length).toBe(1);
  });

  test("without a trusted root only its own threshold counts", () => {
    const v1 = makeRoot(1, [1, 2], 2, [1, 2]);
    expect(verifyRootUpdate(v1)).toEqual({ verified: true, own: verifyRootUpdate(v1).own });
    expect(verifyRootUpdate(makeRoot(1, [1, 2], 2, [1])).verified).toBe(false);
  });

  test("rotating every root key: signed only by the new keys fails N's threshold; only by the old ones fails its own", () => {
    const v1 = makeRoot(1, [1, 2], 2, [1, 2]);
    const newOnly = makeRoot(2, [3, 4], 2, [3, 4]);
    const oldOnly = makeRoot(2, [3, 4], 2, [1, 2]);
    const both = makeRoot(2, [3, 4], 2, [1, 2, 3, 4]);
    expect(verifyRootUpdate(newOnly, v1)).toMatchObject({ verified: false, own: { verified: true } });
    expect(verifyRootUpdate(newOnly, v1).trusted?.verified).toBe(false);
    expect(verifyRootUpdate(oldOnly, v1)).toMatchObject({ verified: false, own: { verified: false } });
    expect(verifyRootUpdate(oldOnly, v1).trusted?.verified).toBe(true);
    expect(verifyRootUpdate(both, v1).verified).toBe(true);
  });

  test("a lower threshold in N+1 does not lower N's: 1 of N+1's keys is not enough when N needs 2", () => {
    const v1 = makeRoot(1, [1, 2], 2, [1, 2]);
    const v2 = makeRoot(2, [1, 2], 1, [1]);
    const r = verifyRootUpdate(v2, v1);
    expect(r.own.verified).toBe(true);
    expect(r.trusted?.verified).toBe(false);
    expect(r.verified).toBe(false);
  });
});

describe("walkRootChain", () => {
  const chain = [
    makeRoot(1, [1, 2], 2, [1, 2]),
    makeRoot(2, [2, 3], 2, [1, 2, 3]),
    makeRoot(3, [3, 4], 1, [2, 3, 4]),
    makeRoot(4, [5], 1, [4, 5]),
  ];
  const loader =
    (roots: Metadata<RootSigned>[], calls: number[] = []) =>
    async (v: number) => {
      calls.push(v);
      return roots.find((r) => r.signed.version === v);
    };

  test("walks every version from the trusted root to the latest, in order", async () => {
    const calls: number[] = [];
    const r = await walkRootChain(chain[0]!, chain[3]!, loader(chain, calls));
    expect(r).toEqual({ ok: true, root: chain[3]!, walked: [2, 3, 4] });
    expect(calls).toEqual([2, 3, 4]);
  });

  test("trusting the latest already: nothing to walk", async () => {
    expect(await walkRootChain(chain[3]!, chain[3]!, loader([]))).toEqual({ ok: true, root: chain[3]!, walked: [] });
  });

  test("refusals say why, naming the version and the threshold", async () => {
    const forged = makeRoot(3, [9], 1, [9]);
    expect(await walkRootChain(chain[0]!, chain[3]!, loader([chain[1]!, forged, chain[3]!]))).toEqual({
      ok: false,
      reason: "root v3 has 0 valid signature(s) of root v2's keys; its threshold is 2",
    });
    const selfless = makeRoot(2, [7, 8], 2, [1, 2]);
    expect(await walkRootChain(chain[0]!, selfless, loader([selfless]))).toEqual({
      ok: false,
      reason: "root v2 has 0 valid signature(s) of its own root keys; its threshold is 2",
    });
    expect(await walkRootChain(chain[0]!, chain[3]!, loader([chain[1]!, chain[3]!]))).toEqual({
      ok: false,
      reason: "3.root.json is missing, so the chain from root v1 cannot be checked",
    });
    expect(await walkRootChain(chain[0]!, chain[2]!, async () => chain[2]!)).toEqual({
      ok: false,
      reason: "2.root.json holds version 3",
    });
    expect(await walkRootChain(chain[2]!, chain[1]!, loader(chain), { trustedSource: "mine.json" })).toEqual({
      ok: false,
      reason: "it is older than the trusted root v3 (mine.json)",
    });
    const twin = makeRoot(1, [1, 2], 2, [1, 2], "2098-01-01T00:00:00Z");
    expect(await walkRootChain(chain[0]!, twin, loader(chain))).toEqual({
      ok: false,
      reason: "it is not the trusted root v1, though it has the same version",
    });
    const otherLatest = makeRoot(2, [2, 3], 2, [1, 2, 3], "2098-01-01T00:00:00Z");
    expect(await walkRootChain(chain[0]!, otherLatest, loader(chain))).toEqual({
      ok: false,
      reason: "root.json differs from 2.root.json",
    });
  });
});
