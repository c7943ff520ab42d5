/**
 * Every key type as root key and as online key (issue 3, "Online keys"):
 * root v1 payloads built here from freshly generated ed25519, ecdsa P-256 and
 * rsa 3072 keys; for each of the 3 x 3 pairs a real server bootstraps 16 bins,
 * takes an artifact, and the real tuf-js client verifies and downloads it.
 *
 * The online private key is found through `x-rstuf-online-key-uri`
 * (`fn:<keyid>` in the online-key directory), through TUFBOX_ONLINE_KEY (PEM
 * text) or TUFBOX_ONLINE_KEY_FILE; without it the bootstrap is a 422 naming
 * the key. Whatever happens, the private key never appears in a response
 * body, in the /metadata/ listing or its files, or in a log line.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { canonicalJson, utf8 } from "../../src/tuf/canonical.ts";
import { computeKeyId, PublicKey, type KeyJSON } from "../../src/tuf/keys.ts";
import { NativeSigner, publicKeyJSONFor } from "../../src/tuf/signer.ts";
import { fixture } from "../helpers/fixtures.ts";
import { startTestServer, tempDir, type TestServer } from "../helpers/server.ts";
import { tufClient } from "../helpers/tufjs.ts";

const KEY_TYPES = ["ed25519", "ecdsa", "rsa"] as const;
type KeyType = (typeof KEY_TYPES)[number];

interface TestKey {
  type: KeyType;
  privateKey: KeyObject;
  /** PKCS#8 PEM */
  pem: string;
  keyid: string;
  json: KeyJSON;
}

function generate(type: KeyType): TestKey {
  const { privateKey } =
    type === "ed25519"
      ? generateKeyPairSync("ed25519")
      : type === "ecdsa"
        ? generateKeyPairSync("ec", { namedCurve: "P-256" })
        : generateKeyPairSync("rsa", { modulusLength: 3072 });
  const json = publicKeyJSONFor(privateKey);
  return {
    type,
    privateKey,
    pem: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
    keyid: computeKeyId(json),
    json,
  };
}

/** Strings that would give the private key away, in the encodings it could leak in. */
function secretsOf(key: TestKey): string[] {
  const body = key.pem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");
  const jwk = key.privateKey.export({ format: "jwk" }) as Record<string, string>;
  const out = [body, ...key.pem.split("\n").filter((l) => l.length >= 60)];
  for (const part of ["d", "p", "q"]) {
    const v = jwk[part];
    if (v === undefined) continue;
    out.push(v, Buffer.from(v, "base64url").toString("hex"), Buffer.from(v, "base64url").toString("base64"));
  }
  return out;
}

/** A bootstrap payload (16 bins) whose root v1 is built and signed here. */
function bootstrapPayload(
  root: TestKey,
  online: TestKey,
  onlineExtra: Record<string, unknown> = { "x-rstuf-online-key-uri": `fn:${online.keyid}` },
) {
  const onlineRole = { keyids: [online.keyid], threshold: 1 };
  const signed = {
    _type: "root",
    version: 1,
    spec_version: "1.0.31",
    expires: "2036-01-01T00:00:00Z",
    consistent_snapshot: true,
    keys: {
      [root.keyid]: { ...root.json, "x-rstuf-key-name": `root ${root.type}` },
      [online.keyid]: { ...online.json, "x-rstuf-key-name": `online ${online.type}`, ...onlineExtra },
    },
    roles: {
      root: { keyids: [root.keyid], threshold: 1 },
      timestamp: onlineRole,
      snapshot: onlineRole,
      targets: onlineRole,
    },
  };
  const signer = new NativeSigner(root.privateKey, PublicKey.fromJSON(signed.keys[root.keyid]!, "key", root.keyid));
  const settings = fixture("bootstrap-bins.json").settings;
  expect(settings.roles.bins.number_of_delegated_bins).toBe(16);
  return {
    settings,
    metadata: { root: { signed, signatures: [{ keyid: root.keyid, sig: signer.sign(utf8(canonicalJson(signed))) }] } },
    timeout: 300,
  };
}

/** A server whose every response body and log line is kept, to look for key material. */
interface Watched {
  server: TestServer;
  seen: string[];
  logs: string[];
  api: TestServer["api"];
}

async function watchedServer(opts: { keyDir: string; env?: Record<string, string> }): Promise<Watched> {
  const logs: string[] = [];
  const server = await startTestServer({ flags: { "online-key-dir": opts.keyDir }, env: opts.env, logLines: logs });
  const seen: string[] = [];
  const api: TestServer["api"] = async (...args) => {
    const r = await server.api(...args);
    seen.push(r.text);
    return r;
  };
  return { server, seen, logs, api };
}

/** Everything a client can read: API answers so far, config, signing view, the /metadata/ listing and every file in it. */
async function everythingServed(w: Watched): Promise<string[]> {
  const out = [...w.seen];
  for (const path of ["/api/v1/config", "/api/v1/metadata/sign", "/api/v1/bootstrap", "/healthz"])
    out.push((await w.api("GET", path)).text);
  const listing = await fetch(`${w.server.url}/metadata/`);
  expect(listing.status).toBe(200);
  const html = await listing.text();
  out.push(html);
  const names = [...new Set([...html.matchAll(/[A-Za-z0-9._-]+\.json/g)].map((m) => m[0]))];
  for (const name of names) {
    const r = await fetch(`${w.server.url}/metadata/${name}`);
    expect(r.status).toBe(200);
    out.push(await r.text());
  }
  return out;
}

async function expectNoLeak(w: Watched, keys: TestKey[]) {
  const served = await everythingServed(w);
  expect(w.logs.length).toBeGreaterThan(0);
  for (const key of keys) {
    const secrets = secretsOf(key);
    for (const [where, texts] of [
      ["a response", served],
      ["a log line", w.logs],
    ] as const) {
      for (const text of texts) {
        expect(text).not.toContain("PRIVATE KEY");
        for (const secret of secrets) {
          if (text.includes(secret))
            throw new Error(`the ${key.type} online private key appears in ${where}: ${text.slice(0, 200)}`);
        }
      }
    }
  }
}

/** Bootstrap, add one artifact with its bytes in the targets directory, and have tuf-js download and verify it. */
async function bootstrapAddAndVerify(
  w: Watched,
  payload: ReturnType<typeof bootstrapPayload>,
  root: TestKey,
  online: TestKey,
  clientDir: string,
) {
  const b = await w.api("POST", "/api/v1/bootstrap", payload);
  expect(b.status).toBe(202);
  expect(b.body.message).toBe("Bootstrap accepted.");
  const bt = await w.server.waitTask(b.body.data.task_id);
  expect({ state: bt.state, error: bt.result.error }).toEqual({ state: "SUCCESS", error: undefined });

  const bytes = new TextEncoder().encode(`signed by ${online.type}, rooted in ${root.type}`);
  const path = `keys/${root.type}-${online.type}.txt`;
  const file = join(w.server.app.config.targets.dir, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, bytes);
  const a = await w.api("POST", "/api/v1/artifacts", {
    artifacts: [
      { path, info: { length: bytes.length, hashes: { sha256: createHash("sha256").update(bytes).digest("hex") } } },
    ],
  });
  expect(a.status).toBe(202);
  expect((await w.server.waitTask(a.body.data.task_id)).state).toBe("SUCCESS");

  // What is published is signed by the keys we chose.
  const rootDoc: any = await (await fetch(`${w.server.url}/metadata/1.root.json`)).json();
  expect(rootDoc.signatures.map((s: any) => s.keyid)).toEqual([root.keyid]);
  const ts: any = await (await fetch(`${w.server.url}/metadata/timestamp.json`)).json();
  expect(ts.signatures.map((s: any) => s.keyid)).toEqual([online.keyid]);
  expect((await w.api("GET", "/api/v1/config")).body.data.online_key_id).toBe(online.keyid);

  const trusted = new Uint8Array(await (await fetch(`${w.server.url}/metadata/1.root.json`)).arrayBuffer());
  const client = tufClient(w.server.url, clientDir, trusted);
  await client.refresh();
  expect(await client.download(path)).toEqual(bytes);
  expect(client.version("timestamp")).toBe(2);
}

const roots = {} as Record<KeyType, TestKey>;
const onlines = {} as Record<KeyType, TestKey>;
const keyDir = tempDir("tufbox-keys-online-");
const emptyKeyDir = tempDir("tufbox-keys-empty-");
const scratch = tempDir("tufbox-keys-scratch-");
const watched: Watched[] = [];

beforeAll(() => {
  for (const type of KEY_TYPES) {
    roots[type] = generate(type);
    onlines[type] = generate(type);
    // RSTUF's convention: the online private key as PKCS#8 PEM named by the x-rstuf-online-key-uri.
    writeFileSync(join(keyDir, onlines[type].keyid), onlines[type].pem, { mode: 0o600 });
  }
  // RSA key generation takes seconds on a busy 2-core machine: past bun's 5 s default.
}, 60_000);

afterAll(async () => {
  for (const w of watched) await w.server.stop();
  for (const d of [keyDir, emptyKeyDir, scratch]) rmSync(d, { recursive: true, force: true });
});

async function watch(opts: { keyDir: string; env?: Record<string, string> }): Promise<Watched> {
  const w = await watchedServer(opts);
  watched.push(w);
  return w;
}

describe("every key type as root key and as online key (fn: files)", () => {
  for (const rootType of KEY_TYPES) {
    for (const onlineType of KEY_TYPES) {
      test(`root ${rootType}, online ${onlineType}: bootstrap, add, tuf-js verifies`, async () => {
        const root = roots[rootType];
        const online = onlines[onlineType];
        const payload = bootstrapPayload(root, online);
        expect(payload.metadata.root.signed.keys[online.keyid]!.keytype).toBe(onlineType);
        const w = await watch({ keyDir });
        await bootstrapAddAndVerify(w, payload, root, online, join(scratch, `client-${rootType}-${onlineType}`));
        await expectNoLeak(w, Object.values(onlines));
        await w.server.stop();
      }, 30_000);
    }
  }
});

describe("online key from the environment (containers)", () => {
  for (const onlineType of KEY_TYPES) {
    test(`TUFBOX_ONLINE_KEY holds the ${onlineType} PEM; no fn: file exists`, async () => {
      const online = onlines[onlineType];
      const w = await watch({ keyDir: emptyKeyDir, env: { TUFBOX_ONLINE_KEY: online.pem } });
      await bootstrapAddAndVerify(
        w,
        bootstrapPayload(roots.ed25519, online),
        roots.ed25519,
        online,
        join(scratch, `client-env-${onlineType}`),
      );
      await expectNoLeak(w, [online]);
      await w.server.stop();
    }, 30_000);
  }

  test("TUFBOX_ONLINE_KEY_FILE names a PEM file elsewhere; the key has no x-rstuf-online-key-uri", async () => {
    const online = onlines.ecdsa;
    const file = join(scratch, "online-key.pem");
    writeFileSync(file, online.pem, { mode: 0o600 });
    const w = await watch({ keyDir: emptyKeyDir, env: { TUFBOX_ONLINE_KEY_FILE: file } });
    const payload = bootstrapPayload(roots.rsa, online, {});
    expect(JSON.stringify(payload)).not.toContain("x-rstuf-online-key-uri");
    await bootstrapAddAndVerify(w, payload, roots.rsa, online, join(scratch, "client-env-file"));
    await expectNoLeak(w, [online]);
    await w.server.stop();
  }, 30_000);
});

describe("a missing online key makes the bootstrap a 422 naming the key", () => {
  const cases: {
    name: string;
    online: () => TestKey;
    dir: () => string;
    env?: () => Record<string, string>;
    msg: RegExp;
  }[] = [
    {
      name: "no fn: file, no environment",
      online: () => onlines.rsa,
      dir: () => emptyKeyDir,
      msg: /online key file .* does not exist/,
    },
    {
      name: "TUFBOX_ONLINE_KEY holds another key",
      online: () => onlines.ed25519,
      dir: () => emptyKeyDir,
      env: () => ({ TUFBOX_ONLINE_KEY: onlines.ecdsa.pem }),
      msg: /TUFBOX_ONLINE_KEY does not match public key/,
    },
    {
      name: "the fn: file holds another key",
      online: () => onlines.ecdsa,
      dir: () => {
        const d = join(scratch, "wrong-file");
        mkdirSync(d, { recursive: true });
        writeFileSync(join(d, onlines.ecdsa.keyid), onlines.rsa.pem);
        return d;
      },
      msg: /does not match public key/,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const online = c.online();
      const w = await watch({ keyDir: c.dir(), env: c.env?.() });
      const r = await w.api("POST", "/api/v1/bootstrap", bootstrapPayload(roots.ed25519, online));
      expect(r.status).toBe(422);
      expect(r.body.detail).toHaveLength(1);
      const issue = r.body.detail[0];
      expect(issue.loc).toEqual(["body", "metadata", "root", "signed", "keys", online.keyid]);
      expect(issue.msg).toContain(`online key ${online.keyid} is not available`);
      expect(issue.msg).toMatch(c.msg);
      // Nothing was accepted: the repository is still available for a bootstrap.
      expect((await w.api("GET", "/api/v1/bootstrap")).body.data).toEqual({ bootstrap: false, state: null, id: null });
      const served = await everythingServed(w);
      for (const text of [...served, ...w.logs]) {
        expect(text).not.toContain("PRIVATE KEY");
        for (const key of Object.values(onlines))
          for (const secret of secretsOf(key)) expect(text.includes(secret)).toBe(false);
      }
      await w.server.stop();
    });
  }
});
