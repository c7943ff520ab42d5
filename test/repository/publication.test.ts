import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { PublicationBuilder } from "../../src/repository/publication.ts";
import { VerifyPool } from "../../src/repository/verify-pool.ts";
import { canonicalJson, signerFromPem, utf8, type Signer } from "../../src/tuf/index.ts";
import { keyIdFile, keyPem } from "../tuf/helpers.ts";

/** A signer that counts its signatures. */
function counting(name: "online-ed25519" | "online-ecdsa"): Signer & { count: number } {
  const inner = signerFromPem(keyPem(name), { keyid: keyIdFile(name) });
  return {
    keyid: inner.keyid,
    publicKey: inner.publicKey,
    count: 0,
    sign(data) {
      this.count++;
      return inner.sign(data);
    },
  };
}

const emptyBin = (expires: string) =>
  `{"_type":"targets","expires":"${expires}","spec_version":"1.0.31","targets":{},"version":1}`;

describe("publication builder", () => {
  test("documents with the same signed text and key are signed and verified once, and each is the verified bytes", async () => {
    const a = counting("online-ed25519");
    const b = counting("online-ecdsa");
    const pool = new VerifyPool();
    const added: string[] = [];
    const verifier = {
      batch(key: Parameters<VerifyPool["batch"]>[0]) {
        const inner = pool.batch(key);
        return {
          add(name: string, data: Uint8Array, sig: string) {
            added.push(name);
            inner.add(name, data, sig);
          },
          done: () => inner.done(),
        };
      },
    };
    try {
      const build = new PublicationBuilder((role) => (role === "other" ? b : a), verifier);
      const text = emptyBin("2030-01-01T00:00:00Z");
      const docs = ["bins-0", "bins-1", "bins-2"].map((role) => build.sign(role, 1, "2030-01-01T00:00:00Z", text));
      const later = build.sign("bins-3", 1, "2031-01-01T00:00:00Z", emptyBin("2031-01-01T00:00:00Z"));
      // The same text with another key is signed again.
      const other = build.sign("other", 1, "2030-01-01T00:00:00Z", text);
      await build.verified();
      expect(a.count).toBe(2);
      expect(b.count).toBe(1);
      expect(added).toEqual(["1.bins-0.json", "1.bins-3.json", "1.other.json"]);
      for (const doc of [...docs, later, other]) {
        expect(doc.sha256).toBe(createHash("sha256").update(doc.bytes).digest("hex"));
        // As a client checks it: the canonical form of `signed` against the role's key.
        const env = JSON.parse(new TextDecoder().decode(doc.bytes)) as {
          signed: unknown;
          signatures: { keyid: string; sig: string }[];
        };
        const signer = doc === other ? b : a;
        expect(env.signatures.map((s) => s.keyid)).toEqual([signer.keyid]);
        expect(signer.publicKey.verify(utf8(canonicalJson(env.signed)), env.signatures[0]!.sig)).toBe(true);
      }
      expect(docs.map((d) => d.role)).toEqual(["bins-0", "bins-1", "bins-2"]);
      expect(new Set(docs.map((d) => d.sha256)).size).toBe(1);
      expect(build.expectedHeads).toMatchObject({ "bins-0": 0, "bins-1": 0, "bins-2": 0, "bins-3": 0, other: 0 });
      expect(() => build.assertPublishable()).not.toThrow();
    } finally {
      pool.close();
    }
  });
});
