/**
 * Passphrase-encrypted PKCS#8 (RFC 5958 EncryptedPrivateKeyInfo, RFC 8018
 * PBES2): PBKDF2-HMAC-SHA256 + AES-256-CBC.
 *
 * Why not `KeyObject.export({cipher, passphrase})`: it writes the same
 * structure but with OpenSSL's default of 2,048 PBKDF2 iterations, which is
 * cheap to brute-force for a root key that may leave the building on a USB
 * stick. We write 600,000 iterations (OWASP 2023 for PBKDF2-HMAC-SHA256;
 * ~80 ms here). The result is standard: OpenSSL, python `cryptography`
 * (securesystemslib) and node:crypto all decrypt it.
 */
import { createCipheriv, pbkdf2Sync, randomBytes, type KeyObject } from "node:crypto";

export const PBKDF2_ITERATIONS = 600_000;

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

const sequence = (...parts: Buffer[]) => tlv(0x30, Buffer.concat(parts));
const octets = (b: Buffer) => tlv(0x04, b);
const oid = (hex: string) => tlv(0x06, Buffer.from(hex, "hex"));
const NULL = tlv(0x05, Buffer.alloc(0));

function integer(n: number): Buffer {
  const bytes: number[] = [];
  for (let v = n; ; v = Math.floor(v / 256)) {
    bytes.unshift(v & 0xff);
    if (v < 256) break;
  }
  if (bytes[0]! & 0x80) bytes.unshift(0);
  return tlv(0x02, Buffer.from(bytes));
}

const OID_PBES2 = oid("2a864886f70d01050d"); // 1.2.840.113549.1.5.13
const OID_PBKDF2 = oid("2a864886f70d01050c"); // 1.2.840.113549.1.5.12
const OID_HMAC_SHA256 = oid("2a864886f70d0209"); // 1.2.840.113549.2.9
const OID_AES256_CBC = oid("60864801650304012a"); // 2.16.840.1.101.3.4.1.42

function pem(label: string, der: Buffer): string {
  const lines = der.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** PKCS#8 PEM of `key`, encrypted with `passphrase` when one is given. */
export function privateKeyPem(key: KeyObject, passphrase?: string, iterations = PBKDF2_ITERATIONS): string {
  const plain = key.export({ format: "der", type: "pkcs8" });
  if (passphrase === undefined) return pem("PRIVATE KEY", plain);
  const salt = randomBytes(16);
  const iv = randomBytes(16);
  const kek = pbkdf2Sync(passphrase, salt, iterations, 32, "sha256");
  const cipher = createCipheriv("aes-256-cbc", kek, iv);
  const encrypted = Buffer.concat([cipher.update(plain), cipher.final()]);
  kek.fill(0);
  const algorithm = sequence(
    OID_PBES2,
    sequence(
      sequence(OID_PBKDF2, sequence(octets(salt), integer(iterations), sequence(OID_HMAC_SHA256, NULL))),
      sequence(OID_AES256_CBC, octets(iv)),
    ),
  );
  return pem("ENCRYPTED PRIVATE KEY", sequence(algorithm, octets(encrypted)));
}
