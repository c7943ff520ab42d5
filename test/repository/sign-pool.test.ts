/**
 * Signing on another core (sign-pool.ts): what the worker makes is exactly
 * what signing here makes (ed25519 and ECDSA keys held by this process), a
 * small publication never starts the worker, a key that cannot move is
 * signed by the caller, and the publication builder's documents are the
 * same bytes with or without the pool.
 */
import { describe, expect, test } from "bun:test";
import { createHash, createPrivateKey } from "node:crypto";
import { PublicationBuilder } from "../../src/repository/publication.ts";
import { type SignedBytes, SignerUnavailable, SignPool } from "../../src/repository/sign-pool.ts";
import { VerifyPool } from "../../src/repository/verify-pool.ts";
import {
  canonicalTargetsText,
  NativeSigner,
  NobleEd25519Signer,
  serializeEnvelope,
  type Signer,
  signerFromPem,
  utf8,
} from "../../src/tuf/index.ts";
import { keyIdFile, keyPem } from "../tuf/helpers.ts";

const ed = signerFromPem(keyPem("online-ed25519"), { keyid: keyIdFile("online-ed25519") });
const ecdsa = signerFromPem(keyPem("online-ecdsa"), { keyid: keyIdFile("online-ecdsa") });

/** A bin's signed text with `n` distinct entries. */
function binText(i: number, n = 3): string {
  const entries: [string, string][] = [];
  for (let j = 0; j < n; j++)
    entries.push([
      `p/${i}/${j}.tar.gz`,
      `{"hashes":{"sha256":"${(i * 31 + j).toString(16).padStart(64, "0")}"},"length":${j}}`,
    ]);
  return canonicalTargetsText(
    { _type: "targets", spec_version: "1.0.31", version: i + 1, expires: "2030-01-01T00:00:00Z" },
    entries,
  );
}

async function signAll(pool: SignPool, signer: Signer, texts: string[]): Promise<(SignedBytes | undefined)[]> {
  const batch = pool.batch();
  const out: (SignedBytes | undefined)[] = texts.map(() => undefined);
  if (!batch.accepts(signer)) throw new Error(`${signer.keyid} cannot be signed by the pool`);
  texts.forEach((text, i) => {
    batch.add(signer, utf8(text), (s) => {
      out[i] = s;
    });
  });
  await batch.done();
  return out;
}

function expectSignedHere(signer: Signer, text: string, got: SignedBytes | undefined) {
  expect(got).toBeDefined();
  const { sig, envelope, sha256, data } = got!;
  expect(new TextDecoder().decode(data)).toBe(text);
  expect(signer.publicKey.verify(utf8(text), sig)).toBe(true);
  expect(envelope).toEqual(serializeEnvelope(text, [{ keyid: signer.keyid, sig }]));
  expect(sha256).toBe(createHash("sha256").update(envelope).digest("hex"));
}

describe("sign pool", () => {
  test("a few documents are signed here, without a worker", async () => {
    const pool = new SignPool();
    try {
      const texts = [0, 1, 2].map((i) => binText(i));
      const signed = await signAll(pool, ed, texts);
      expect(pool.workerRunning).toBe(false);
      for (const [i, t] of texts.entries()) expectSignedHere(ed, t, signed[i]);
      // ed25519 is deterministic: the signature made here is the signer's own.
      expect(signed[0]!.sig).toBe(ed.sign(utf8(texts[0]!)));
    } finally {
      pool.close();
    }
  });

  test("a large batch is signed by the worker, byte for byte as here, with either key type, and the idle worker stops", async () => {
    const pool = new SignPool({ idleStopMs: 50 });
    try {
      const texts = Array.from({ length: 200 }, (_, i) => binText(i, 1 + (i % 7)));
      const signed = await signAll(pool, ed, texts);
      expect(pool.workerRunning).toBe(true);
      texts.forEach((t, i) => {
        expectSignedHere(ed, t, signed[i]);
        expect(signed[i]!.sig).toBe(ed.sign(utf8(t)));
      });
      // A second key goes to the same worker.
      const other = await signAll(pool, ecdsa, texts.slice(0, 130));
      for (const [i, t] of texts.slice(0, 130).entries()) expectSignedHere(ecdsa, t, other[i]);
      // A small publication in between (signed here) does not keep the worker alive.
      await signAll(pool, ed, texts.slice(0, 2));
      for (let i = 0; i < 200 && pool.workerRunning; i++) await Bun.sleep(10);
      expect(pool.workerRunning).toBe(false);
    } finally {
      pool.close();
    }
  });

  test("a worker that fails fails its batch (nothing half-signed), and later batches are signed here", async () => {
    // A key the worker cannot import: its error reaches the pool like a crash would.
    class Garbled extends NativeSigner {
      override pkcs8ForWorker(): Uint8Array {
        return new Uint8Array(48).fill(1);
      }
    }
    const garbled = new Garbled(createPrivateKey(keyPem("online-ed25519")), ed.publicKey);
    const pool = new SignPool();
    try {
      const texts = Array.from({ length: 70 }, (_, i) => binText(i));
      const failure = await signAll(pool, garbled, texts).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(failure).toBeInstanceOf(SignerUnavailable);
      expect(pool.workerRunning).toBe(false);
      // From now on the caller signs.
      expect(pool.batch().accepts(garbled)).toBe(false);
    } finally {
      pool.close();
    }
  });

  test("a key this process cannot hand over is left to the caller", () => {
    const pool = new SignPool();
    try {
      const noble = new NobleEd25519Signer(new Uint8Array(32).fill(7));
      const batch = pool.batch();
      expect(batch.accepts(noble)).toBe(false);
      const counting: Signer = { keyid: ed.keyid, publicKey: ed.publicKey, sign: (d) => ed.sign(d) };
      expect(batch.accepts(counting)).toBe(false);
      return batch.done();
    } finally {
      pool.close();
    }
  });

  test("a publication's documents are the same bytes with the pool as without", async () => {
    const signPool = new SignPool();
    const verifyPool = new VerifyPool();
    try {
      const build = (pool?: SignPool) => {
        const b = new PublicationBuilder(() => ed, verifyPool, new Map(), pool);
        for (let i = 0; i < 150; i++) b.sign(`bins-${i}`, i + 1, "2030-01-01T00:00:00Z", binText(i));
        // Empty bins share one signed text: signed once, the others copy its bytes.
        for (let i = 150; i < 230; i++) b.sign(`bins-${i}`, 1, "2030-01-01T00:00:00Z", binText(999, 0));
        b.snapshot(2, "2030-01-01T00:00:00Z");
        return b;
      };
      const plain = build();
      const pooled = build(signPool);
      await Promise.all([plain.verified(), pooled.verified()]);
      expect(signPool.workerRunning).toBe(true);
      expect(pooled.documents.map((d) => d.role)).toEqual(plain.documents.map((d) => d.role));
      pooled.documents.forEach((d, i) => {
        expect(d.bytes).toEqual(plain.documents[i]!.bytes);
        expect(d.sha256).toBe(plain.documents[i]!.sha256);
      });
      expect(() => pooled.assertPublishable()).not.toThrow();
    } finally {
      signPool.close();
      verifyPool.close();
    }
  });
});
