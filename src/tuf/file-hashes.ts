/**
 * Checking downloaded bytes against the `length` and `hashes` signed metadata
 * gives for them: snapshot in timestamp (spec 5.5.2), targets roles in
 * snapshot (5.6.2), target files in targets (5.7.3).
 *
 * Algorithm names are securesystemslib's, which python-tuf and tuf-js write:
 * `sha256`, `sha512`, …, `blake2b` (512-bit), `blake2b-256`, `blake2s`.
 * Every listed hash must match, and a hash whose algorithm we cannot compute
 * is a mismatch, as python-tuf ngclient does (`BaseFile._verify_hashes`
 * raises LengthOrHashMismatchError for an unsupported algorithm): a file
 * whose metadata we cannot fully check is not verified.
 */
import { createHash, type Hash } from "node:crypto";

const ALGORITHMS: Record<string, string> = {
  sha224: "sha224",
  sha256: "sha256",
  sha384: "sha384",
  sha512: "sha512",
  "sha512-224": "sha512-224",
  "sha512-256": "sha512-256",
  "sha3-224": "sha3-224",
  "sha3-256": "sha3-256",
  "sha3-384": "sha3-384",
  "sha3-512": "sha3-512",
  blake2b: "blake2b512",
  "blake2b-512": "blake2b512",
  "blake2b-256": "blake2b256",
  blake2s: "blake2s256",
  "blake2s-256": "blake2s256",
};

/** The node:crypto name for a TUF hash algorithm name, undefined when unsupported. */
export function hashAlgorithm(name: string): string | undefined {
  return Object.hasOwn(ALGORITHMS, name) ? ALGORITHMS[name] : undefined;
}

export interface ExpectedFile {
  length?: number;
  hashes?: Record<string, string>;
}

/**
 * Hashes a file as it streams by, for every algorithm the metadata lists, so
 * large targets never have to sit in memory.
 */
export class FileDigests {
  readonly #hashers: [string, Hash | undefined][];
  #length = 0;

  constructor(algorithms: readonly string[]) {
    this.#hashers = algorithms.map((name) => {
      const algorithm = hashAlgorithm(name);
      return [name, algorithm ? createHash(algorithm) : undefined];
    });
  }

  update(chunk: Uint8Array): void {
    this.#length += chunk.byteLength;
    for (const [, h] of this.#hashers) h?.update(chunk);
  }

  get length(): number {
    return this.#length;
  }

  /**
   * Why the bytes seen do not match `expected`, or undefined when they do.
   * Call once, after the last chunk.
   */
  mismatch(expected: ExpectedFile): string | undefined {
    if (expected.length !== undefined && this.#length !== expected.length)
      return `length ${this.#length} differs from the signed length ${expected.length}`;
    for (const [name, h] of this.#hashers) {
      const want = expected.hashes?.[name];
      if (want === undefined) continue;
      if (!h) return `hash algorithm ${JSON.stringify(name)} is not supported, so the file cannot be verified`;
      const got = h.digest("hex");
      if (got !== want) return `${name} ${got} differs from the signed ${want}`;
    }
    return undefined;
  }
}

/** Why `bytes` do not match the signed length and hashes, or undefined when they do. */
export function lengthAndHashesMismatch(bytes: Uint8Array, expected: ExpectedFile): string | undefined {
  const digests = new FileDigests(Object.keys(expected.hashes ?? {}));
  digests.update(bytes);
  return digests.mismatch(expected);
}
