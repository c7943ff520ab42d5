/**
 * Checking downloaded bytes against the `length` and `hashes` signed metadata
 * gives for them: snapshot in timestamp (spec 5.5.2), targets roles in
 * snapshot (5.6.2), target files in targets (5.7.3).
 *
 * Algorithm names are securesystemslib's, as src/tuf/hashes.ts maps them.
 * Every listed hash must match, and a hash whose algorithm we cannot compute
 * is a mismatch, as python-tuf ngclient does (`BaseFile._verify_hashes`
 * raises LengthOrHashMismatchError for an unsupported algorithm): a file
 * whose metadata we cannot fully check is not verified.
 */
import { createHash, type Hash } from "node:crypto";
import { digestFor } from "./hashes.ts";

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
      const algorithm = digestFor(name);
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
