/**
 * `tufbox key generate` and `tufbox key info`: offline key files for root
 * keys, the online key and delegated-role keys.
 */
import { basename } from "node:path";
import { computeKeyId, computeLegacyKeyId, type KeyJSON } from "../tuf/keys.ts";
import {
  KEY_TYPES,
  generatePrivateKey,
  publicKeyOf,
  readPrivateKeyFile,
  readPublicKeyFile,
  writeKeyPair,
  type KeyType,
} from "../offline/key-files.ts";
import { PBKDF2_ITERATIONS } from "../offline/pkcs8.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import { flagBool, flagString, requireFlag } from "./flags.ts";
import { loadPrivateKey, newKeyPassphrase, PASSPHRASE_ENV } from "./passphrase.ts";
import { offlineCommand } from "./errors.ts";
import { processTerminal, type Terminal } from "./terminal.ts";
import { KEY_NAME, ONLINE_KEY_URI } from "../tuf/rstuf.ts";

export const KEY_HELP = `tufbox key generate --type ed25519|ecdsa|rsa --out NAME [--name LABEL]
                    [--passphrase-file F | --no-passphrase] [--force]
tufbox key info FILE [--passphrase-file F] [--json]

generate  writes NAME (PKCS#8 PEM private key, mode 0600) and NAME.pub (the TUF
          public key object as JSON, with x-rstuf-key-name = LABEL, default the
          file name) and prints the keyid. Refuses to replace existing files
          unless --force.
            ed25519  ed25519 (default)
            ecdsa    NIST P-256, scheme ecdsa-sha2-nistp256
            rsa      3072 bits, scheme rsassa-pss-sha256
          The private key is encrypted (PBKDF2-SHA256 ${PBKDF2_ITERATIONS} rounds, AES-256-CBC)
          with a passphrase from --passphrase-file F (first line), or
          ${PASSPHRASE_ENV}, or asked in a terminal; without one it refuses.
          --no-passphrase writes it unencrypted: that is for ONLINE keys
          only, which the server uses unattended (copy it to the server's
          online-key directory as the file named in its URI, ceremony
          default fn:<keyid>). With a key per role (ceremony --timestamp-key,
          --snapshot-key, --targets-key, --bins-key) each goes there under its
          own keyid; the ceremony prints every name. Root and delegated-role
          keys stay encrypted.
info      shows keyid, the legacy (securesystemslib < 1.0) keyid, type and
          scheme of a private key file or a .pub file.`;

export const KEY_GENERATE_FLAGS = {
  type: { type: "string" },
  out: { type: "string" },
  name: { type: "string" },
  "passphrase-file": { type: "string" },
  "no-passphrase": { type: "boolean" },
  force: { type: "boolean" },
} as const;

export const KEY_INFO_FLAGS = { "passphrase-file": { type: "string" }, json: { type: "boolean" } } as const;

export async function keyCommand(argv: string[], term: Terminal = processTerminal()): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub === "generate") return offlineCommand("key", () => keyGenerate(rest, term));
  if (sub === "info") return offlineCommand("key", () => keyInfo(rest, term));
  if (sub === undefined || sub === "--help" || sub === "-h" || sub === "help") {
    term.out(KEY_HELP);
    if (sub === undefined) throw new UsageError("missing subcommand", "use 'tufbox key generate' or 'tufbox key info'");
    return;
  }
  throw new UsageError(`unknown subcommand "${sub}"`, "use 'tufbox key generate' or 'tufbox key info'");
}

async function keyGenerate(argv: string[], term: Terminal): Promise<void> {
  const args = parseCommandArgs("key", argv, KEY_GENERATE_FLAGS, { config: false });
  if (args.own.help) return term.out(KEY_HELP);
  if (args.positionals.length > 0)
    throw new UsageError(`unexpected argument "${args.positionals[0]}"`, "the output file is given with --out NAME");
  const type = flagString(args.own, "type") ?? "ed25519";
  if (!(KEY_TYPES as readonly string[]).includes(type))
    throw new UsageError(`--type ${type} is not supported`, `use one of ${KEY_TYPES.join(", ")}`);
  const out = requireFlag(args.own, "out", "key generate", "--type ed25519 --out root1");
  if (out.endsWith(".pub"))
    throw new UsageError(
      `--out ${out} ends with .pub`,
      "--out names the private key file; the public key is written beside it as NAME.pub",
    );
  const force = flagBool(args.own, "force");
  const passphrase = await newKeyPassphrase(term, out, {
    passphraseFile: flagString(args.own, "passphrase-file"),
    unencrypted: flagBool(args.own, "no-passphrase"),
  });
  const key = generatePrivateKey(type as KeyType);
  const written = writeKeyPair(out, key, { name: flagString(args.own, "name") ?? basename(out), passphrase, force });
  term.info(
    `wrote ${out} (${type} private key, ${passphrase === undefined ? "NOT encrypted" : "encrypted"}, mode 0600) and ${written.source} (public key)`,
  );
  if (passphrase === undefined)
    term.info("the private key is not encrypted (--no-passphrase): keep it for the online key only");
  term.out(written.keyid);
}

function describe(key: KeyJSON, keyid: string): Record<string, string> {
  const info: Record<string, string> = {
    keyid,
    legacy_keyid: computeLegacyKeyId(key),
    keytype: key.keytype,
    scheme: key.scheme,
  };
  if (typeof key[KEY_NAME] === "string") info.name = key[KEY_NAME];
  if (typeof key[ONLINE_KEY_URI] === "string") info.online_key_uri = key[ONLINE_KEY_URI];
  return info;
}

async function keyInfo(argv: string[], term: Terminal): Promise<void> {
  const args = parseCommandArgs("key", argv, KEY_INFO_FLAGS, { config: false });
  if (args.own.help) return term.out(KEY_HELP);
  const [file, extra] = args.positionals;
  if (file === undefined || extra !== undefined)
    throw new UsageError("give exactly one key file", "e.g. tufbox key info root1.pub");
  let info: Record<string, string>;
  const text = await Bun.file(file)
    .text()
    .catch(() => "");
  if (text.trimStart().startsWith("{")) {
    const pub = readPublicKeyFile(file);
    info = { file, kind: "public key", ...describe(pub.key, pub.keyid) };
  } else {
    const encrypted = readPrivateKeyFile(file).encrypted;
    const key = await loadPrivateKey(term, file, flagString(args.own, "passphrase-file"));
    const pub = publicKeyOf(key);
    info = {
      file,
      kind: `private key (${encrypted ? "encrypted" : "NOT encrypted"})`,
      ...describe(pub, computeKeyId(pub)),
    };
  }
  if (flagBool(args.own, "json")) return term.out(JSON.stringify(info, null, 2));
  const labels: Record<string, string> = { legacy_keyid: "legacy keyid", online_key_uri: "online key uri" };
  for (const [k, v] of Object.entries(info)) term.out(`${(labels[k] ?? k).padEnd(15)} ${v}`);
}
