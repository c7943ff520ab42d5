/**
 * Building one publication: the documents of a new repository version, each
 * signed with its role's online key (or already signed offline), verified on another
 * core, and the snapshot and timestamp that make them visible — everything
 * the store's commitPublication writes in one transaction.
 *
 * Pure of storage: the bootstrap and the batching publisher both fill one of
 * these and hand its result to the store (python-tuf's repository model:
 * close a role = new version and expiry, sign, verify before writing).
 * Signing happens here, before the write transaction (STYLE.md rule 4).
 */
import { createHash } from "node:crypto";
import type { DocumentRecord } from "../store/store.ts";
import { canonicalJson, canonicalObjectFromEntries, canonicalString, utf8 } from "../tuf/canonical.ts";
import { envelopeFromSignedBytes, envelopesAsIs, serializeEnvelope } from "../tuf/document.ts";
import { metadataFileName, snapshotMetaName } from "../tuf/file-names.ts";
import { SPEC_VERSION, type Signature } from "../tuf/metadata.ts";
import { isTargetsRole } from "../tuf/roles.ts";
import type { PublicKey } from "../tuf/keys.ts";
import type { Signer } from "../tuf/signer.ts";
import { assertPublishable } from "./client-limits.ts";
import type { SignBatch, SignPool } from "./sign-pool.ts";
import type { VerifyBatch } from "./verify-pool.ts";

/** The signer of each online role (roles may have keys of their own: tuf/roles.ts onlineKeyFor). */
export type RoleSigners = (role: string) => Signer;

/** Where signatures are verified: one batch per key (verify-pool.ts). */
export interface Verifier {
  batch(key: PublicKey): VerifyBatch;
}
import { applySnapshotMeta, snapshotMetaText } from "./snapshot-meta.ts";

export class PublicationBuilder {
  readonly #signers: RoleSigners;
  readonly #verifier: Verifier;
  /** one verification batch per signing key (a repository with one online key has one) */
  readonly #batches = new Map<string, VerifyBatch>();
  /** documents signed here: their nesting is checked with their signature, on the verification worker */
  readonly #depthChecked = new WeakSet<DocumentRecord>();
  /** in the order they were added: targets roles before snapshot before timestamp */
  readonly documents: DocumentRecord[] = [];
  /** per role, the head the store must still have when this commits (nobody published in between) */
  readonly expectedHeads: Record<string, number> = {};
  /**
   * The published snapshot `meta` as canonical fragments ("bins-0a.json" →
   * '{"version":3}'), left untouched until published(); this publication's
   * entries are kept apart (snapshot-meta.ts: 16384+ entries are not copied
   * or re-sorted for each publication).
   */
  readonly #baseMeta: Map<string, string>;
  readonly #metaChanges = new Map<string, string>();
  /** the last document signed here, reused by the next with the same text and key (sign) */
  #lastSigned: { keyid: string; signedText: string; doc: DocumentRecord } | null = null;
  /** targets documents signed on another core (sign-pool.ts); none without a pool */
  readonly #signBatch: SignBatch | undefined;
  #signed: Promise<void> | undefined;
  /** documents that reuse another's bytes, copied once that one is signed: [from, to] */
  readonly #shares: [DocumentRecord, DocumentRecord][] = [];

  constructor(
    signers: RoleSigners,
    verifier: Verifier,
    snapshotMeta: Map<string, string> = new Map(),
    signPool?: SignPool,
  ) {
    this.#signers = signers;
    this.#verifier = verifier;
    this.#baseMeta = snapshotMeta;
    this.#signBatch = signPool?.batch();
  }

  /**
   * Call once the publication is committed: the snapshot meta it published
   * (the map given to the constructor, updated in place).
   */
  published(): Map<string, string> {
    applySnapshotMeta(this.#baseMeta, this.#metaChanges);
    this.#metaChanges.clear();
    return this.#baseMeta;
  }

  /**
   * A document signed elsewhere (root N+1, an offline role's completed
   * signing session), published exactly as signed. `expectedHead` defaults
   * to the version before it.
   */
  addSigned(
    role: string,
    version: number,
    expires: string,
    signedText: string,
    signatures: Signature[],
    expectedHead = version - 1,
  ): DocumentRecord {
    return this.#add(role, version, expires, serializeEnvelope(signedText, signatures), expectedHead);
  }

  /** Sign `signedText` with the role's online key; the signature is verified (another core) before anything is written. */
  sign(role: string, version: number, expires: string, signedText: string): DocumentRecord {
    const signer = this.#signers(role);
    // A targets document does not name its role (spec 4.5): every empty bin
    // of a bootstrap (or of a re-sign at expiry) has the same signed text, so
    // the same key gives the same envelope. Signed and verified once, the
    // bytes are shared by the next documents with that text and key: each of
    // them is exactly the verified bytes (16384 bins: 1 signature, not 16384).
    const last = this.#lastSigned;
    if (last && last.keyid === signer.keyid && last.signedText === signedText) {
      const doc = this.#add(role, version, expires, last.doc.bytes, version - 1, last.doc.sha256);
      // Still being signed: its bytes are copied when they are.
      if (last.doc.sha256 === "") this.#shares.push([last.doc, doc]);
      this.#depthChecked.add(doc);
      return doc;
    }
    const data = utf8(signedText);
    const name = metadataFileName(role, version);
    const verify = this.#verifyBatch(signer);
    // Targets documents are signed on another core when there is one; snapshot and timestamp here.
    const pool = this.#signBatch;
    if (pool?.accepts(signer) && isTargetsRole(role) && envelopesAsIs(signedText)) {
      // Its bytes arrive with its signature (signed()).
      const doc = this.#add(role, version, expires, new Uint8Array(0), version - 1, "");
      pool.add(signer, data, (signed) => {
        doc.bytes = signed.envelope;
        doc.sha256 = signed.sha256;
        verify.add(name, signed.data, signed.sig);
      });
      this.#depthChecked.add(doc);
      this.#lastSigned = { keyid: signer.keyid, signedText, doc };
      return doc;
    }
    const sig = signer.sign(data);
    // Before data is handed to the verifier (which may detach its buffer).
    const bytes = envelopeFromSignedBytes(signedText, data, [{ keyid: signer.keyid, sig }]);
    verify.add(name, data, sig);
    const doc = this.#add(role, version, expires, bytes, version - 1);
    this.#depthChecked.add(doc);
    this.#lastSigned = { keyid: signer.keyid, signedText, doc };
    return doc;
  }

  #verifyBatch(signer: Signer): VerifyBatch {
    let verify = this.#batches.get(signer.keyid);
    if (!verify) {
      verify = this.#verifier.batch(signer.publicKey);
      this.#batches.set(signer.keyid, verify);
    }
    return verify;
  }

  /**
   * Resolves when every document added here has its bytes (signed on another
   * core, sign-pool.ts); rejects when the signing worker failed. Call before
   * reading `documents`' bytes.
   */
  signed(): Promise<void> {
    this.#signed ??= (async () => {
      await this.#signBatch?.done();
      for (const [from, to] of this.#shares) {
        to.bytes = from.bytes;
        to.sha256 = from.sha256;
      }
    })();
    return this.#signed;
  }

  /** The snapshot listing every targets role with its version (spec 4.4.3). */
  snapshot(version: number, expires: string): DocumentRecord {
    const text = canonicalObjectFromEntries([
      ["_type", '"snapshot"'],
      ["expires", canonicalString(expires)],
      ["meta", snapshotMetaText(this.#baseMeta, this.#metaChanges)],
      ["spec_version", canonicalString(SPEC_VERSION)],
      ["version", String(version)],
    ]);
    return this.sign("snapshot", version, expires, text);
  }

  /** The timestamp naming `snapshot` with version, length and sha256 (spec 4.6). */
  timestamp(version: number, expires: string, snapshot: DocumentRecord): DocumentRecord {
    const signed = {
      _type: "timestamp",
      spec_version: SPEC_VERSION,
      version,
      expires,
      meta: {
        [snapshotMetaName("snapshot")]: {
          version: snapshot.version,
          length: snapshot.bytes.length,
          hashes: { sha256: snapshot.sha256 },
        },
      },
    };
    return this.sign("timestamp", version, expires, canonicalJson(signed));
  }

  /**
   * Throws ClientLimitError when a document here is one TUF clients could not
   * load (client-limits.ts); nothing of such a publication is committed.
   */
  assertPublishable(): void {
    assertPublishable(this.documents, this.#depthChecked);
  }

  /** Resolves when every signature made here verified (and, for the documents signed here, nests no deeper than clients parse); rejects naming the first that did not. */
  async verified(): Promise<void> {
    // Every batch settles before the first failure is reported: none is left running.
    const signing = await Promise.allSettled([this.signed()]);
    const results = await Promise.allSettled([...this.#batches.values()].map((b) => b.done()));
    const failed = [...signing, ...results].find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  #add(
    role: string,
    version: number,
    expires: string,
    bytes: Uint8Array,
    expectedHead: number,
    sha256?: string,
  ): DocumentRecord {
    const doc: DocumentRecord =
      sha256 !== undefined ? { role, version, expires, bytes, sha256 } : documentRecord(role, version, expires, bytes);
    this.documents.push(doc);
    this.expectedHeads[role] = expectedHead;
    if (isTargetsRole(role)) this.#metaChanges.set(snapshotMetaName(role), `{"version":${version}}`);
    return doc;
  }
}

export function documentRecord(role: string, version: number, expires: string, bytes: Uint8Array): DocumentRecord {
  return { role, version, expires, bytes, sha256: createHash("sha256").update(bytes).digest("hex") };
}
