/**
 * The latest published top-level targets, parsed once per version: who is
 * delegated what, with which keys (dashboard role list, offline-expiry
 * alerts). Read from the store, so replicas that did not publish it see it too.
 */
import type { Store } from "../store/store.ts";
import { parseTargets, type TargetsSigned } from "../tuf/metadata.ts";

export class LatestTargets {
  readonly #store: Store;
  #cached: { version: number; signed: TargetsSigned } | null = null;

  constructor(store: Store) {
    this.#store = store;
  }

  /** `version` is the targets head the caller knows about; undefined before bootstrap */
  async get(version: number | undefined): Promise<TargetsSigned | undefined> {
    if (version === undefined) return undefined;
    if (this.#cached?.version === version) return this.#cached.signed;
    const doc = await this.#store.getDocument("targets", version);
    if (!doc) return undefined;
    const signed = parseTargets(JSON.parse(new TextDecoder().decode(doc.bytes))).signed;
    this.#cached = { version, signed };
    return signed;
  }
}
