/**
 * The repository engine on a real SQLite file, without HTTP or the publisher
 * loop: tests call the façade (src/repository/repository.ts) and publish with
 * publishOnce(), so every step is explicit. What the engine publishes is read
 * back and verified with an independent TUF implementation (@tufjs/models).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Metadata, MetadataKind, type Root, type Snapshot, type Targets, type Timestamp } from "@tufjs/models";
import { silentLogger } from "../../src/log.ts";
import { OnlineKeys } from "../../src/repository/online-key.ts";
import { Repository, type SinkFile } from "../../src/repository/repository.ts";
import { parseBootstrapPayload } from "../../src/server/api/bootstrap/model.ts";
import type { Store, TaskRecord } from "../../src/store/store.ts";
import { SqliteStore } from "../../src/store/sqlite/store.ts";
import { canonicalJson, utf8 } from "../../src/tuf/canonical.ts";
import type { RootSigned, Metadata as TufMetadata } from "../../src/tuf/metadata.ts";
import { signerFromPem } from "../../src/tuf/signer.ts";
import { fixture, fixtureKey, ONLINE_KEY_DIR } from "../helpers/fixtures.ts";

export interface Engine {
  dir: string;
  file: string;
  store: Store;
  repo: Repository;
  /** what the engine handed to the sink, by file name (the latest bytes of each name) */
  files: Map<string, Uint8Array>;
  task(id: string): Promise<TaskRecord | undefined>;
  /** stop as a clean shutdown does (background work first) */
  close(): Promise<void>;
}

export interface EngineOptions {
  dir?: string;
  maxBatch?: number;
  /** wrap the store (fault injection: a crash at a chosen step) */
  wrap?: (store: Store) => Store;
  /** the engine's clock (default: real time) */
  now?: () => Date;
  /** where fn: online key URIs point (default: the fixtures' online-key-dir) */
  onlineKeyDir?: string;
}

const tempDirs: string[] = [];

export function engineDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "tufbox-engine-"));
  tempDirs.push(dir);
  return dir;
}

export function removeEngineDirs(): void {
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export async function openEngine(opts: EngineOptions = {}): Promise<Engine> {
  const dir = opts.dir ?? engineDir();
  const file = join(dir, "tufbox.db");
  const sqlite = new SqliteStore(file);
  await sqlite.open();
  const store = opts.wrap ? opts.wrap(sqlite) : sqlite;
  const files = new Map<string, Uint8Array>();
  const sink = {
    publish: (batch: SinkFile[]) => {
      for (const f of batch) files.set(f.name, f.bytes);
    },
  };
  const repo = new Repository({
    store,
    onlineKeys: new OnlineKeys({ dir: opts.onlineKeyDir ?? ONLINE_KEY_DIR }),
    sink,
    log: silentLogger(),
    maxBatch: opts.maxBatch ?? 10_000,
    now: opts.now,
  });
  await repo.open();
  // Only root, targets, snapshot and timestamp are handed to the sink on open;
  // the server serves bins and delegated roles from the store when asked
  // (issue 15). What a client can fetch is both: add the store's latest of
  // every other role, as the server's loader would answer.
  for (const h of await sqlite.getHeads()) {
    const name = `${h.version}.${h.role}.json`;
    if (h.role === "timestamp" || files.has(name)) continue;
    const doc = await sqlite.getDocument(h.role, h.version);
    if (doc) files.set(name, doc.bytes);
  }
  return {
    dir,
    file,
    store,
    repo,
    files,
    task: (id) => sqlite.getTask(id),
    async close() {
      await repo.drain();
      repo.close();
      await sqlite.close();
    },
  };
}

/** A store whose methods can be replaced one by one (the rest go to the real store). */
export function storeWith(store: Store, overrides: Partial<Store>): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop in overrides) return overrides[prop as keyof Store];
      const v = Reflect.get(target, prop, receiver);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

export async function bootstrapped(e: Engine, file = "bootstrap-bins.json"): Promise<string> {
  const { taskId } = await e.repo.acceptBootstrap(parseBootstrapPayload(fixture(file)));
  await e.repo.drain();
  const task = await e.task(taskId);
  if (task?.state !== "SUCCESS") throw new Error(`bootstrap ${task?.state}: ${JSON.stringify(task?.result)}`);
  return taskId;
}

export const HASH = "ab".repeat(32);

export function addition(path: string, length = 3) {
  return { path, info: { length, hashes: { sha256: HASH } } };
}

/** A signature of `doc.signed` by a fixture key (test/fixtures/rstuf/keys). */
export function signatureBy(doc: TufMetadata, keyName: string, keyJSON = (doc.signed as RootSigned).keys) {
  const { pem, keyid } = fixtureKey(keyName);
  const signer = signerFromPem(pem, { keyJSON: keyJSON[keyid], keyid });
  return { keyid, sig: signer.sign(utf8(canonicalJson(doc.signed))) };
}

const decoder = new TextDecoder();

export interface Published {
  root: Metadata<Root>;
  timestamp: Metadata<Timestamp>;
  snapshot: Metadata<Snapshot>;
  targets: Metadata<Targets>;
  /** every delegated targets role the snapshot lists */
  roles: Map<string, Metadata<Targets>>;
  /** role → version, as the snapshot (and timestamp, root) list them */
  versions: Map<string, number>;
}

/**
 * Verify what was published the way a client does, with @tufjs/models:
 * the root chain from 1.root.json, timestamp → snapshot (version, length,
 * hash) → targets → every role the snapshot lists, each signed by the keys
 * and threshold its delegator names, none expired.
 */
export function verifyPublished(files: Map<string, Uint8Array>): Published {
  const raw = (name: string) => {
    const bytes = files.get(name);
    if (!bytes) throw new Error(`${name} was not published`);
    return { bytes, json: JSON.parse(decoder.decode(bytes)) };
  };
  let root = Metadata.fromJSON(MetadataKind.Root, raw("1.root.json").json);
  root.verifyDelegate("root", root);
  for (let v = 2; files.has(`${v}.root.json`); v++) {
    const next = Metadata.fromJSON(MetadataKind.Root, raw(`${v}.root.json`).json);
    root.verifyDelegate("root", next);
    next.verifyDelegate("root", next);
    root = next;
  }
  const latest = raw("root.json").bytes;
  if (decoder.decode(latest) !== decoder.decode(raw(`${root.signed.version}.root.json`).bytes))
    throw new Error("root.json is not the latest N.root.json");
  const timestamp = Metadata.fromJSON(MetadataKind.Timestamp, raw("timestamp.json").json);
  root.verifyDelegate("timestamp", timestamp);
  const snapName = `${timestamp.signed.snapshotMeta.version}.snapshot.json`;
  const snapRaw = raw(snapName);
  timestamp.signed.snapshotMeta.verify(Buffer.from(snapRaw.bytes));
  const snapshot = Metadata.fromJSON(MetadataKind.Snapshot, snapRaw.json);
  root.verifyDelegate("snapshot", snapshot);
  const versions = new Map<string, number>([
    ["root", root.signed.version],
    ["timestamp", timestamp.signed.version],
    ["snapshot", snapshot.signed.version],
  ]);
  const load = (role: string) => {
    const meta = snapshot.signed.meta[`${role}.json`];
    if (!meta) throw new Error(`the snapshot does not list ${role}`);
    const m = Metadata.fromJSON(MetadataKind.Targets, raw(`${meta.version}.${role}.json`).json);
    if (m.signed.version !== meta.version) throw new Error(`${role}: version ${m.signed.version} ≠ ${meta.version}`);
    versions.set(role, m.signed.version);
    return m;
  };
  const targets = load("targets");
  root.verifyDelegate("targets", targets);
  const roles = new Map<string, Metadata<Targets>>();
  for (const name of Object.keys(snapshot.signed.meta)) {
    const role = name.slice(0, -".json".length);
    if (role === "targets") continue;
    const m = load(role);
    // A deleted role stays listed (spec 5.5.5) but is no longer delegated; so
    // does a bin of an earlier layout after a re-binning.
    if (targets.signed.delegations?.roles && !targets.signed.delegations.roles[role]) continue;
    if (targets.signed.delegations?.succinctRoles && !targets.signed.delegations.succinctRoles.isDelegatedRole(role))
      continue;
    targets.verifyDelegate(role, m);
    roles.set(role, m);
  }
  const now = new Date();
  for (const m of [root, timestamp, snapshot, targets, ...roles.values()])
    if (m.signed.isExpired(now)) throw new Error(`${m.signed.type} v${m.signed.version} is expired`);
  return { root, timestamp, snapshot, targets, roles, versions };
}

/** The published entry for `path`, whichever role holds it. */
export function publishedTarget(p: Published, path: string) {
  for (const m of [p.targets, ...p.roles.values()]) {
    const t = m.signed.targets[path];
    if (t) return t;
  }
  return undefined;
}
