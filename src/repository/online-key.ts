/**
 * Finding the online key's private part. RSTUF names it in the public key's
 * `x-rstuf-online-key-uri`: `fn:<name>` is a PKCS#8 PEM file `<name>` in the
 * online-key directory. A PEM given directly (TUFBOX_ONLINE_KEY, for
 * containers) is used when it matches the published public key.
 *
 * Private key text never leaves this module: errors name files and keyids only.
 */
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { signerFromPem, type Signer } from "../tuf/signer.ts";
import type { KeyJSON } from "../tuf/keys.ts";
import { TufError } from "../tuf/errors.ts";
import { ONLINE_KEY_URI, onlineKeyFile } from "../tuf/rstuf.ts";
import { ConfigurationError } from "./errors.ts";

export class OnlineKeys {
  readonly #dir: string | undefined;
  readonly #pem: string | undefined;
  readonly #cache = new Map<string, Signer>();

  constructor(opts: { dir?: string; pem?: string }) {
    this.#dir = opts.dir;
    this.#pem = opts.pem;
  }

  /** Where `fn:` files live (for messages and quickstart). */
  get dir(): string | undefined {
    return this.#dir;
  }

  signerFor(keyid: string, key: KeyJSON): Signer {
    const cached = this.#cache.get(keyid);
    if (cached) return cached;
    const signer = this.#load(keyid, key);
    this.#cache.set(keyid, signer);
    return signer;
  }

  /** True when the private key for `key` can be loaded. */
  has(keyid: string, key: KeyJSON): boolean {
    try {
      this.signerFor(keyid, key);
      return true;
    } catch {
      return false;
    }
  }

  #load(keyid: string, key: KeyJSON): Signer {
    const errors: string[] = [];
    if (this.#pem !== undefined) {
      try {
        return signerFromPem(this.#pem, { keyJSON: key, keyid });
      } catch (err) {
        errors.push(
          `the online key given in TUFBOX_ONLINE_KEY ${err instanceof TufError ? err.message.replace(/^private key: /, "") : "could not be read"}`,
        );
      }
    }
    const uri = key[ONLINE_KEY_URI];
    const file = typeof uri === "string" ? onlineKeyFile(uri) : null;
    if (file) {
      if ("problem" in file) {
        errors.push(`${ONLINE_KEY_URI} "${uri}" is not a plain file name`);
      } else if (!this.#dir) {
        errors.push(`${ONLINE_KEY_URI} is "${uri}" but no online key directory is configured`);
      } else {
        const path = join(this.#dir, file.name);
        if (!existsSync(path)) {
          errors.push(`online key file ${path} does not exist`);
        } else {
          try {
            return signerFromPem(readFileSync(path, "utf8"), { keyJSON: key, keyid });
          } catch (err) {
            errors.push(
              `online key file ${path}: ${err instanceof TufError ? err.message.replace(/^private key: /, "") : "could not be read"}`,
            );
          }
        }
      }
    } else if (this.#pem === undefined) {
      errors.push(`key ${keyid} has no ${ONLINE_KEY_URI} of the form fn:<name>, and no TUFBOX_ONLINE_KEY is set`);
    }
    throw new ConfigurationError(
      `online key ${keyid} is not available: ${errors.join("; ")}`,
      "put the online private key (PKCS#8 PEM) in the online key directory (--online-key-dir) under the name its x-rstuf-online-key-uri gives, or set TUFBOX_ONLINE_KEY / TUFBOX_ONLINE_KEY_FILE",
    );
  }
}
