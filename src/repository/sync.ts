/**
 * Catching up with documents another replica published: serve them (targets
 * roles, then snapshot, then timestamp) and reload the published state.
 * Cheap when nothing changed (one small read).
 *
 * Called from several places at once (the publisher inside its lock,
 * notifications from other replicas, poll ticks): runs one at a time, a call
 * during a run waits for one more run after it (so it sees the database as
 * of after the call), and a result is applied only if it is newer than what
 * this process serves by then: a slow catch-up can never put back an older
 * timestamp over one this process just published.
 */
import type { DocumentRecord } from "../store/store.ts";
import { publicationRank } from "../tuf/roles.ts";
import type { Engine } from "./engine.ts";
import { BOOTSTRAP_KEY, type BootstrapRecord, type RepositorySettings, SETTINGS_KEY } from "./settings.ts";
import { loadPublishedState } from "./state.ts";

/** documents read at once while catching up */
const SYNC_READS = 8;

export class ReplicaSync {
  readonly #engine: Engine;
  /** the catch-up running now, and the one queued behind it */
  #running: Promise<boolean> | null = null;
  #queued: Promise<boolean> | null = null;

  constructor(engine: Engine) {
    this.#engine = engine;
  }

  /** Resolves true if this process now serves something newer. */
  sync(): Promise<boolean> {
    if (this.#queued) return this.#queued;
    if (!this.#running) return this.#start();
    const queued = this.#running
      .catch(() => false)
      .then(() => {
        this.#queued = null;
        return this.#start();
      });
    this.#queued = queued;
    return queued;
  }

  #start(): Promise<boolean> {
    const run: Promise<boolean> = this.#once().finally(() => {
      if (this.#running === run) this.#running = null;
    });
    this.#running = run;
    return run;
  }

  async #once(): Promise<boolean> {
    const e = this.#engine;
    const current = e.state;
    if (!current) {
      const record = (await e.store.getSetting<BootstrapRecord>(BOOTSTRAP_KEY)) ?? undefined;
      if (record?.state === e.bootstrap?.state) return false;
      await e.open();
      return e.state !== undefined;
    }
    const served = () => e.state?.heads.get("timestamp")?.version ?? 0;
    // One small row tells whether anything moved (the heads of 16384 bins would be 16384).
    const remote = (await e.store.getLatestDocument("timestamp"))?.version ?? 0;
    if (remote <= served()) return false;
    const settings = await e.store.getSetting<RepositorySettings>(SETTINGS_KEY);
    const bootstrap = (await e.store.getSetting<BootstrapRecord>(BOOTSTRAP_KEY)) ?? undefined;
    const state = settings ? await loadPublishedState(e.store, settings) : undefined;
    if (!state) return false;
    // Serve exactly the versions the loaded state names (its own read of the
    // heads): if another replica publishes meanwhile, this process is behind
    // rather than ahead, and the next catch-up fixes it.
    const before = (e.state ?? current).heads;
    const wanted = [...state.heads.values()]
      .filter((h) => (before.get(h.role)?.version ?? 0) < h.version)
      .sort((a, b) => publicationRank(a.role) - publicationRank(b.role));
    const docs: (DocumentRecord | undefined)[] = [];
    for (let i = 0; i < wanted.length; i += SYNC_READS) {
      docs.push(
        ...(await Promise.all(wanted.slice(i, i + SYNC_READS).map((h) => e.store.getDocument(h.role, h.version)))),
      );
    }
    const version = state.heads.get("timestamp")?.version ?? 0;
    // This process may have published (under the lock) while we were reading.
    if (version <= served()) return false;
    e.bootstrap = bootstrap;
    e.state = state;
    e.sink.publish(docs.flatMap((d) => (d ? e.filesFor(d) : [])));
    e.log.debug("caught up with documents published elsewhere", { documents: wanted.length, timestamp: version });
    return true;
  }
}
