/**
 * Passphrases for private key files. Sources, in order: `--passphrase-file F`
 * (first line), the TUFBOX_KEY_PASSPHRASE environment variable, a prompt
 * without echo when running in a terminal. Never a command-line value: those
 * end up in shell history and `ps`.
 */
import { readFileSync } from "node:fs";
import type { KeyObject } from "node:crypto";
import { OfflineError } from "../offline/errors.ts";
import { openPrivateKey, readPrivateKeyFile } from "../offline/key-files.ts";
import { UsageError } from "./args.ts";
import type { Terminal } from "./terminal.ts";

export const PASSPHRASE_ENV = "TUFBOX_KEY_PASSPHRASE";
const PROMPT_ATTEMPTS = 3;

function readPassphraseFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new UsageError(
      `--passphrase-file ${path}: ${code === "ENOENT" ? "no such file" : "cannot read it"}`,
      "give a file whose first line is the passphrase",
    );
  }
  // The first line: editors and `echo` add a trailing newline.
  const passphrase = text.split(/\r?\n/, 1)[0]!;
  if (passphrase === "")
    throw new UsageError(`--passphrase-file ${path} is empty`, "put the passphrase on the first line of the file");
  return passphrase;
}

function envPassphrase(term: Terminal): string | undefined {
  const v = term.env[PASSPHRASE_ENV];
  return v === undefined || v === "" ? undefined : v;
}

/**
 * The passphrase for a key about to be written. An unencrypted private key is
 * written only when the operator says so with `--no-passphrase` (the online
 * key, which the server opens unattended): without a terminal and without a
 * passphrase source, a root key must not end up in clear on disk because a
 * script forgot --passphrase-file.
 */
export async function newKeyPassphrase(
  term: Terminal,
  keyPath: string,
  opts: { passphraseFile?: string; unencrypted?: boolean } = {},
): Promise<string | undefined> {
  if (opts.unencrypted) {
    if (opts.passphraseFile !== undefined)
      throw new UsageError(
        "--no-passphrase and --passphrase-file exclude each other",
        "encrypt the key (--passphrase-file) or leave it unencrypted for the online key (--no-passphrase)",
      );
    return undefined;
  }
  if (opts.passphraseFile !== undefined) return readPassphraseFile(opts.passphraseFile);
  const env = envPassphrase(term);
  if (env !== undefined) return env;
  const unencryptedHint =
    "only the online key is stored unencrypted (the server signs with it unattended): for it, add --no-passphrase";
  if (!term.interactive)
    throw new UsageError(
      `no passphrase to encrypt ${keyPath} with`,
      `give --passphrase-file FILE or ${PASSPHRASE_ENV}, or run in a terminal to be asked; ${unencryptedHint}`,
    );
  for (let i = 0; i < PROMPT_ATTEMPTS; i++) {
    const first = await term.askSecret(`Passphrase for ${keyPath}`);
    if (first === "") {
      term.info(`An empty passphrase would leave the key unencrypted; ${unencryptedHint}.`);
      continue;
    }
    const again = await term.askSecret("Repeat the passphrase");
    if (first === again) return first;
    term.info("The passphrases differ; try again.");
  }
  throw new UsageError(
    "no passphrase was set",
    `run the command again, or use --passphrase-file FILE; ${unencryptedHint}`,
  );
}

/** Open a private key file, getting its passphrase when it is encrypted. */
export async function loadPrivateKey(term: Terminal, path: string, passphraseFile?: string): Promise<KeyObject> {
  const file = readPrivateKeyFile(path);
  if (!file.encrypted) return openPrivateKey(file);
  if (passphraseFile !== undefined) return openPrivateKey(file, readPassphraseFile(passphraseFile));
  const env = envPassphrase(term);
  if (env !== undefined) return openPrivateKey(file, env);
  if (!term.interactive) {
    throw new UsageError(
      `${path} is encrypted and no passphrase was given`,
      `give it with --passphrase-file FILE or ${PASSPHRASE_ENV}, or run in a terminal to be asked`,
    );
  }
  for (let attempt = 1; ; attempt++) {
    try {
      return openPrivateKey(file, await term.askSecret(`Passphrase for ${path}`));
    } catch (err) {
      if (!(err instanceof OfflineError) || err.reason !== "wrong-passphrase" || attempt >= PROMPT_ATTEMPTS) throw err;
      term.info("Wrong passphrase; try again.");
    }
  }
}

/**
 * `--passphrase-file` for each of several `--sign` keys: none, one for all,
 * or one per key in the same order.
 */
export function passphraseFilesFor(keys: string[], files: string[], flag = "--sign"): (string | undefined)[] {
  if (files.length === 0) return keys.map(() => undefined);
  if (files.length === 1) return keys.map(() => files[0]);
  if (files.length === keys.length) return files;
  throw new UsageError(
    `${files.length} --passphrase-file flags for ${keys.length} ${flag} keys`,
    `give one --passphrase-file for all keys, or one per ${flag} key in the same order`,
  );
}
