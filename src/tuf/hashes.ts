/**
 * Hash algorithm names as TUF metadata spells them (the keys of a target's
 * `hashes`, spec 4.5 "TARGETS"; the names are securesystemslib's) and the
 * digest each one means. RSTUF's CLI lists only `blake2b-256`; other tools
 * list `sha256`, `sha512`, or several.
 *
 * The right-hand names are those of Bun.CryptoHasher / node:crypto. Note that
 * `blake2b` alone is BLAKE2b with its full 512-bit output, and `blake2b-256`
 * is BLAKE2b with a 32-byte digest (not a truncated blake2b-512: the digest
 * size is a BLAKE2 parameter, so the two differ in every byte).
 */
const DIGESTS: Readonly<Record<string, string>> = {
  sha224: "sha224",
  sha256: "sha256",
  sha384: "sha384",
  sha512: "sha512",
  "blake2b-256": "blake2b256",
  blake2b: "blake2b512",
  "blake2b-512": "blake2b512",
};

/** The digest name for a TUF hash algorithm name; undefined when tufbox cannot compute it. */
export function digestFor(algorithm: string): string | undefined {
  return Object.hasOwn(DIGESTS, algorithm) ? DIGESTS[algorithm] : undefined;
}
