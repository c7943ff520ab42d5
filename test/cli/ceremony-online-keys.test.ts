/**
 * `tufbox ceremony` with an online key per role (issue 17 item 3):
 * --timestamp-key, --snapshot-key, --targets-key and --bins-key put a key of
 * their own into root (and the bins' into settings.roles.bins.online_key);
 * the payload bootstraps an engine whose publications each role's key signs,
 * and the ceremony says where each private key goes.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { ceremonyCommand } from "../../src/cli/ceremony.ts";
import { keyCommand } from "../../src/cli/key.ts";
import { parseBootstrapPayload } from "../../src/server/api/bootstrap/model.ts";
import { newOnlineKey, onlineKeyDir } from "../helpers/online-keys.ts";
import { addition, openEngine, removeEngineDirs, verifyPublished } from "../repository/helpers.ts";
import { readJson, rejects, tempDir, testTerminal, writeText } from "./helpers.ts";
import { readPublicKeyFile } from "../../src/offline/key-files.ts";
import { nextRoot } from "../../src/offline/next-root.ts";
import { KEY_NAME, ONLINE_KEY_URI } from "../../src/tuf/rstuf.ts";

let dir: string;
let keyDir: string;
const keys: Record<string, { keyid: string; pub: string }> = {};

beforeAll(async () => {
  dir = tempDir();
  keyDir = onlineKeyDir();
  for (const name of ["root1", "root2"]) {
    const t = testTerminal();
    await keyCommand(["generate", "--type", "ed25519", "--out", join(dir, name), "--no-passphrase"], t.term);
    keys[name] = { keyid: t.out[0]!, pub: join(dir, `${name}.pub`) };
  }
  // Online keys of three types, their private parts in the server's online-key directory.
  for (const [role, type] of [
    ["timestamp", "ecdsa"],
    ["snapshot", "rsa"],
    ["targets", "ed25519"],
    ["bins", "ecdsa"],
  ] as const) {
    const k = newOnlineKey(type, keyDir);
    const { [ONLINE_KEY_URI]: _uri, [KEY_NAME]: _name, ...pub } = k.key;
    keys[role] = { keyid: k.keyid, pub: writeText(join(dir, `${role}.pub`), JSON.stringify(pub)) };
  }
});
afterAll(removeEngineDirs);

function args(out: string, roles: string[]): string[] {
  return [
    "--root-key",
    keys.root1!.pub,
    "--root-key",
    keys.root2!.pub,
    ...roles.flatMap((r) => [`--${r}-key`, keys[r]!.pub]),
    "--bins",
    "4",
    "--sign",
    join(dir, "root1"),
    "--sign",
    join(dir, "root2"),
    "--out",
    out,
    "--force",
  ];
}

test("a key per role: root names each, the bins' key goes to settings; it bootstraps and each key signs its role", async () => {
  const out = join(dir, "per-role.json");
  const t = testTerminal();
  await ceremonyCommand(args(out, ["timestamp", "snapshot", "targets", "bins"]), t.term);
  const payload = readJson(out);
  const signed = payload.metadata.root.signed;
  for (const role of ["timestamp", "snapshot", "targets"]) {
    expect(signed.roles[role]).toEqual({ keyids: [keys[role]!.keyid], threshold: 1 });
    expect(signed.keys[keys[role]!.keyid][ONLINE_KEY_URI]).toBe(`fn:${keys[role]!.keyid}`);
  }
  expect(Object.keys(payload.settings.roles.bins.online_key)).toEqual([keys.bins!.keyid]);
  // Where each private key goes, by role (keyids only).
  const text = t.out.join("\n");
  for (const role of ["timestamp", "snapshot", "targets", "bins"])
    expect(text).toMatch(new RegExp(`${role}\\s+key ${keys[role]!.keyid} as ${keys[role]!.keyid}`));

  const e = await openEngine({ onlineKeyDir: keyDir });
  try {
    const { taskId } = await e.repo.acceptBootstrap(parseBootstrapPayload(payload));
    await e.repo.drain();
    expect((await e.task(taskId))?.state).toBe("SUCCESS");
    await e.repo.acceptAdd({ artifacts: [addition("x/y")], addTaskIdToCustom: false, publish: true });
    await e.repo.publishOnce();
    const p = verifyPublished(e.files);
    expect(Object.keys(p.timestamp.signatures)).toEqual([keys.timestamp!.keyid]);
    expect(Object.keys(p.snapshot.signatures)).toEqual([keys.snapshot!.keyid]);
    expect(Object.keys(p.targets.signatures)).toEqual([keys.targets!.keyid]);
    for (const m of p.roles.values()) expect(Object.keys(m.signatures)).toEqual([keys.bins!.keyid]);
  } finally {
    await e.close();
  }
});

test("--targets-key alone stands for --online-key; a root key as a role key is refused", async () => {
  const out = join(dir, "targets-only.json");
  await ceremonyCommand(args(out, ["targets"]), testTerminal().term);
  const signed = readJson(out).metadata.root.signed;
  for (const role of ["timestamp", "snapshot", "targets"])
    expect(signed.roles[role].keyids).toEqual([keys.targets!.keyid]);
  await rejects(
    ceremonyCommand(
      [...args(join(dir, "bad.json"), []), "--online-key", keys.targets!.pub, "--snapshot-key", keys.root1!.pub],
      testTerminal().term,
    ),
    Error,
    /--snapshot-key .* is also a root key/,
  );
});

test("root update (nextRoot): --snapshot-key rotates the snapshot key only; with --online-key it is refused", async () => {
  const current = readJson(join(dir, "per-role.json")).metadata.root.signed;
  const snapshot = readPublicKeyFile(keys.timestamp!.pub);
  const now = new Date();
  const next = nextRoot(current, { addKeys: [], removeKeyids: [], roleKeys: { snapshot }, expiresDays: 365, now });
  expect(next.version).toBe(2);
  expect(next.roles.snapshot.keyids).toEqual([keys.timestamp!.keyid]);
  for (const role of ["timestamp", "targets"] as const) expect(next.roles[role]).toEqual(current.roles[role]);
  // The old snapshot key is no longer listed.
  expect(next.keys[keys.snapshot!.keyid]).toBeUndefined();
  expect(() =>
    nextRoot(current, {
      addKeys: [],
      removeKeyids: [],
      onlineKey: { key: readPublicKeyFile(keys.bins!.pub), uri: `fn:${keys.bins!.keyid}` },
      roleKeys: { snapshot },
      expiresDays: 365,
      now,
    }),
  ).toThrow(/exclude each other/);
  expect(() =>
    nextRoot(current, { addKeys: [], removeKeyids: [], roleKeys: { timestamp: snapshot }, expiresDays: 365, now }),
  ).toThrow(/already the timestamp key/);
});
