/**
 * `tufbox ceremony`: root v1 and the repository settings, as an RSTUF
 * bootstrap payload signed by the root keys present (possibly fewer than the
 * threshold: the others sign later with `tufbox sign`). Non-interactive with
 * flags; asks for what is missing when run in a terminal without --root-key.
 */
import { readPublicKeyFile, type NamedKey } from "../offline/key-files.ts";
import { DEFAULT_EXPIRATION, parseDays, parseExpirationList, type Expiration } from "../offline/expiration.ts";
import { readDelegationsFile } from "../offline/delegations.ts";
import {
  bootstrapPayload,
  ceremonyRoot,
  checkBins,
  checkOnlineKeyUri,
  defaultOnlineKeyUri,
  onlineKeyPlaces,
  ROLE_KEY_ROLES,
  defaultThreshold,
  type CeremonyPlan,
  type TargetsLayout,
} from "../offline/bootstrap-payload.ts";
import { addRootSignatures, rootSignersFor } from "../offline/root-signing.ts";
import { formatRootSummary, summarizeRoot, thresholdsMet } from "../offline/root-summary.ts";
import { writeDocument } from "../offline/root-files.ts";
import { EXPIRING_ROLES } from "../tuf/roles.ts";
import type { NativeSigner } from "../tuf/signer.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import { flagBool, flagString, flagStrings, parseCount } from "./flags.ts";
import { loadPrivateKey, passphraseFilesFor } from "./passphrase.ts";
import { offlineCommand } from "./errors.ts";
import { processTerminal, type Terminal } from "./terminal.ts";
import { EXPIRE_POLICY } from "../tuf/rstuf.ts";
import { binCountConcern } from "../tuf/bin-advice.ts";

export const DEFAULT_CEREMONY_OUT = "ceremony-payload.json";
export const DEFAULT_BINS = 256;

export const CEREMONY_HELP = `tufbox ceremony --root-key A.pub [--root-key B.pub ...] [--threshold N]
                --online-key ONLINE.pub [--online-key-uri fn:NAME]
                [--timestamp-key T.pub] [--snapshot-key S.pub] [--targets-key G.pub] [--bins-key B.pub]
                [--bins N | --delegations FILE.yaml]
                [--expires root=365,targets=365,snapshot=1,timestamp=1,bins=1]
                [--sign A [--sign B ...]] [--passphrase-file F ...]
                [--out ${DEFAULT_CEREMONY_OUT}] [--force]

Writes root v1 and the repository settings as an RSTUF bootstrap payload
(POST /api/v1/bootstrap; rstuf admin send bootstrap). It contains only public
keys. Run in a terminal without --root-key to be asked for everything.

  --root-key FILE.pub     a root key (repeat for each); from 'tufbox key generate'
  --threshold N           root signatures needed (default: a majority of the root keys)
  --online-key FILE.pub   the key the server signs targets, snapshot, timestamp and
                          the bins with (threshold 1)
  --online-key-uri URI    where the server finds its private part
                          (default fn:<keyid>: the file <keyid> in its online-key directory)
  --timestamp-key FILE.pub, --snapshot-key FILE.pub, --targets-key FILE.pub, --bins-key FILE.pub
                          an online key of its own for that role (threshold 1), found by
                          the server as fn:<keyid>; roles without one use --online-key
                          (optional when --targets-key is given). The bins default to the
                          targets role's key. Rotate each later with 'tufbox root update'.
  --bins N                hash bins, a power of two in 2..16384 (default ${DEFAULT_BINS}: bins under
                          64 KiB up to ~100,000 artifacts; 2048 for ~1M; more bins slow
                          tuf-js clients down: tufbox bins advise --artifacts N)
  --delegations FILE      custom delegated roles instead of bins, YAML:
                            roles:
                              - name: nightly
                                paths: ["nightly/*"]      # or path_hash_prefixes: [...]
                                online: true              # signed by the online key
                                expires: 7                # days (default 1 online, 365 offline)
                              - name: releases
                                paths: ["releases/*"]
                                terminating: true         # default false
                                keys: [release-team.pub]  # relative to the YAML file
                                threshold: 1              # default 1
  --expires ROLE=DAYS,... expiry per role (defaults root=365,targets=365,snapshot=1,timestamp=1,bins=1)
  --sign FILE             sign root v1 with this root private key (repeat; fewer than the
                          threshold is fine: the others run 'tufbox sign' later)
  --passphrase-file F     passphrase of the --sign keys (one for all, or one per key);
                          or TUFBOX_KEY_PASSPHRASE, or asked in a terminal
  --out FILE              where to write the payload (default ${DEFAULT_CEREMONY_OUT});
                          an existing file is only replaced with --force`;

export const FLAGS = {
  "root-key": { type: "string", multiple: true },
  threshold: { type: "string" },
  "online-key": { type: "string" },
  "online-key-uri": { type: "string" },
  "timestamp-key": { type: "string" },
  "snapshot-key": { type: "string" },
  "targets-key": { type: "string" },
  "bins-key": { type: "string" },
  bins: { type: "string" },
  delegations: { type: "string" },
  expires: { type: "string" },
  sign: { type: "string", multiple: true },
  "passphrase-file": { type: "string", multiple: true },
  out: { type: "string" },
  force: { type: "boolean" },
} as const;

/** Ask until `parse` accepts the answer (a typo in a prompt should not end the ceremony). */
async function askUntil<T>(
  term: Terminal,
  question: string,
  dflt: string | undefined,
  parse: (answer: string) => T,
): Promise<T> {
  for (;;) {
    const answer = await term.ask(question, dflt);
    try {
      return parse(answer);
    } catch (err) {
      const e = err as { message?: string; hint?: string };
      term.info(`  ${e.message ?? String(err)}${e.hint ? ` (${e.hint})` : ""}`);
    }
  }
}

async function askList(
  term: Terminal,
  question: string,
  min: number,
  parse: (answer: string) => void,
): Promise<string[]> {
  const list: string[] = [];
  for (;;) {
    const answer = await term.ask(`${question} ${list.length + 1}${list.length >= min ? " (empty: done)" : ""}`, "");
    if (answer === "") {
      if (list.length >= min) return list;
      continue;
    }
    try {
      parse(answer);
      list.push(answer);
    } catch (err) {
      const e = err as { message?: string; hint?: string };
      term.info(`  ${e.message ?? String(err)}${e.hint ? ` (${e.hint})` : ""}`);
    }
  }
}

function layoutFrom(answer: string, onlineKey: NamedKey): TargetsLayout {
  if (/^\d+$/.test(answer.trim())) {
    const bins = Number(answer.trim());
    checkBins(bins);
    return { bins };
  }
  return { delegations: readDelegationsFile(answer, onlineKey), source: answer };
}

function describeLayout(layout: TargetsLayout, expiration: Expiration): string[] {
  if ("bins" in layout) {
    const concern = binCountConcern(layout.bins);
    return [
      `targets delegates to ${layout.bins} hash bins (TAP 15), signed by the online key, expiring after ${expiration.bins} day(s)`,
      ...(concern ? [`warning: ${concern}`] : []),
    ];
  }
  return [
    `targets delegates to custom roles (${layout.source}):`,
    ...layout.delegations.roles.map((r) => {
      const who = r.keyids.length === 0 ? "online key" : `${r.threshold} of ${r.keyids.length} offline key(s)`;
      const what = r.paths ? `paths ${r.paths.join(" ")}` : `hash prefixes ${r.path_hash_prefixes!.join(" ")}`;
      return `  ${r.name}: ${what}; ${who}; ${r.terminating ? "terminating; " : ""}expires after ${r[EXPIRE_POLICY]} day(s)`;
    }),
  ];
}

export async function ceremonyCommand(
  argv: string[],
  term: Terminal = processTerminal(),
  now: Date = new Date(),
): Promise<void> {
  return offlineCommand("ceremony", async () => {
    const args = parseCommandArgs("ceremony", argv, FLAGS, { config: false });
    if (args.own.help) return term.out(CEREMONY_HELP);
    if (args.positionals.length > 0)
      throw new UsageError(`unexpected argument "${args.positionals[0]}"`, "run 'tufbox ceremony --help'");
    const own = args.own;
    const interactive = term.interactive && flagStrings(own, "root-key").length === 0;
    if (interactive) term.info("TUF ceremony: root v1 and repository settings. Press Enter to accept [defaults].\n");

    // Root keys and threshold.
    const rootFiles = interactive
      ? await askList(term, "Root public key file (.pub)", 1, (f) => void readPublicKeyFile(f))
      : flagStrings(own, "root-key");
    if (rootFiles.length === 0)
      throw new UsageError(
        "--root-key is required",
        "give each root key's .pub file: --root-key alice.pub --root-key bob.pub (or run in a terminal to be asked)",
      );
    const rootKeys = rootFiles.map(readPublicKeyFile);
    const thresholdFlag = flagString(own, "threshold");
    const thresholdHint = `a whole number from 1 to ${rootKeys.length} (the number of root keys)`;
    const threshold =
      thresholdFlag !== undefined
        ? parseCount(thresholdFlag, "--threshold", 1, thresholdHint)
        : interactive
          ? await askUntil(
              term,
              `Root threshold (signatures needed, of ${rootKeys.length})`,
              String(defaultThreshold(rootKeys.length)),
              (a) => {
                const n = parseCount(a, "--threshold", 1, thresholdHint);
                if (n > rootKeys.length)
                  throw new UsageError(
                    `--threshold ${n} is larger than the number of root keys (${rootKeys.length})`,
                    thresholdHint,
                  );
                return n;
              },
            )
          : defaultThreshold(rootKeys.length);

    // Online keys of their own per role (issue 17), then the online key for the rest.
    const roleKeys: CeremonyPlan["roleKeys"] = {};
    for (const role of ROLE_KEY_ROLES) {
      const file = flagString(own, `${role}-key`);
      if (file !== undefined) roleKeys[role] = readPublicKeyFile(file);
    }
    const onlineFile =
      flagString(own, "online-key") ??
      (roleKeys.targets ? roleKeys.targets.source : undefined) ??
      (interactive
        ? await askUntil(term, "Online public key file (.pub)", undefined, (f) => {
            readPublicKeyFile(f);
            return f;
          })
        : undefined);
    if (onlineFile === undefined)
      throw new UsageError("--online-key is required", "give the online key's .pub file: --online-key online.pub");
    const onlineKey = readPublicKeyFile(onlineFile);
    const uriFlag = flagString(own, "online-key-uri");
    const onlineKeyUri =
      uriFlag ??
      (interactive
        ? await askUntil(
            term,
            "Online key URI (where the server finds the private key)",
            defaultOnlineKeyUri(onlineKey.keyid),
            (u) => {
              checkOnlineKeyUri(u);
              return u;
            },
          )
        : defaultOnlineKeyUri(onlineKey.keyid));

    // Bins or custom delegations.
    const binsFlag = flagString(own, "bins");
    const delegationsFlag = flagString(own, "delegations");
    if (binsFlag !== undefined && delegationsFlag !== undefined)
      throw new UsageError(
        "--bins and --delegations exclude each other",
        "targets delegates either to hash bins or to custom roles",
      );
    let layout: TargetsLayout;
    if (binsFlag !== undefined) {
      layout = { bins: parseCount(binsFlag, "--bins", 0, "use a power of two between 2 and 16384, e.g. --bins 256") };
      checkBins(layout.bins);
    } else if (delegationsFlag !== undefined) {
      layout = { delegations: readDelegationsFile(delegationsFlag, onlineKey), source: delegationsFlag };
    } else if (interactive) {
      layout = await askUntil(
        term,
        "Hash bins (a power of two) or a delegations .yaml file",
        String(DEFAULT_BINS),
        (a) => layoutFrom(a, onlineKey),
      );
    } else {
      layout = { bins: DEFAULT_BINS };
    }

    // Expiry per role.
    const expiration: Expiration = { ...DEFAULT_EXPIRATION };
    const expiresFlag = flagString(own, "expires");
    if (expiresFlag !== undefined) {
      const given = parseExpirationList(expiresFlag);
      if (given.bins !== undefined && !("bins" in layout))
        throw new UsageError(
          "--expires bins=… applies only with hash bins",
          "custom delegated roles set their expiry in the delegations file (expires: DAYS)",
        );
      Object.assign(expiration, given);
    } else if (interactive) {
      for (const role of EXPIRING_ROLES) {
        if (role === "bins" && !("bins" in layout)) continue;
        expiration[role] = await askUntil(term, `Expiry of ${role} (days)`, String(expiration[role]), (a) =>
          parseDays(a, `--expires ${role}`),
        );
      }
    }

    const plan: CeremonyPlan = { rootKeys, threshold, onlineKey, onlineKeyUri, roleKeys, layout, expiration, now };
    const signed = ceremonyRoot(plan);

    // Signatures from the root keys at hand.
    const signFiles =
      interactive && flagStrings(own, "sign").length === 0
        ? await askList(term, "Sign now with root private key file", 0, () => undefined)
        : flagStrings(own, "sign");
    const passFiles = passphraseFilesFor(signFiles, flagStrings(own, "passphrase-file"));
    const signers: NativeSigner[] = [];
    for (const [i, file] of signFiles.entries()) {
      const privateKey = await loadPrivateKey(term, file, passFiles[i]);
      for (const s of rootSignersFor({ privateKey, source: file }, signed)) {
        if (signers.some((o) => o.keyid === s.keyid))
          throw new UsageError(`--sign ${file}: key ${s.keyid} is given twice`, "give each --sign key once");
        signers.push(s);
      }
    }
    const root = addRootSignatures({ signed, signatures: [] }, signers);

    const out =
      flagString(own, "out") ??
      (interactive ? await term.ask("Write the payload to", DEFAULT_CEREMONY_OUT) : DEFAULT_CEREMONY_OUT);
    writeDocument(out, bootstrapPayload(plan, root), { replace: flagBool(own, "force"), what: "bootstrap payload" });

    const summary = summarizeRoot(root, { kind: "bootstrap", now });
    term.out(formatRootSummary(summary));
    term.out(describeLayout(layout, expiration).join("\n"));
    term.out(
      `expiry (days): ${EXPIRING_ROLES.filter((r) => r !== "bins" || "bins" in layout)
        .map((r) => `${r}=${expiration[r]}`)
        .join(", ")}`,
    );
    term.out(`\nwrote ${out} (bootstrap payload, public data only)`);
    if (!thresholdsMet(summary)) {
      const missing = summary.status[0]!.result;
      term.out(
        `next: ${missing.threshold - missing.signed.length} more root signature(s): each key holder runs\n  tufbox sign --key THEIR_KEY --in ${out} --out ${out}\n  (or send it now: the server waits for the missing signatures in a signing session)`,
      );
    }
    const places = onlineKeyPlaces(plan);
    const copy =
      new Set(places.map((p) => p.keyid)).size > 1
        ? `copy each online private key (PKCS#8 PEM) to the server's online-key directory:\n${places
            .map(
              (p) =>
                `    ${p.role.padEnd(9)} key ${p.keyid}${p.uri.startsWith("fn:") ? ` as ${p.uri.slice(3)}` : ` (${p.uri})`}`,
            )
            .join("\n")}\n `
        : `copy the online private key to the server's online-key directory${onlineKeyUri.startsWith("fn:") ? ` as ${onlineKeyUri.slice(3)}` : ""},\n `;
    term.out(
      `then: ${copy} start the server (tufbox serve) and send the payload:\n  tufbox bootstrap ${out} --server URL\n  (it is POST /api/v1/bootstrap: RSTUF's 'rstuf admin send bootstrap ${out}' works too)`,
    );
  });
}
