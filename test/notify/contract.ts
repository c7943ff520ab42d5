/**
 * The notifier contract (src/notify/notifier.ts), run against every backend
 * like the store contract: in-process (LocalNotifier), PostgreSQL
 * LISTEN/NOTIFY and Redis pub/sub, the last two against real servers.
 *
 * What every backend promises:
 * - start() never fails because the server is unreachable; ping() says so;
 * - announcements are fire and forget: they never throw, also after close();
 * - every *other* replica hears "wake" and "published N", the sender never
 *   hears its own (for LocalNotifier, one process, nobody hears anything);
 * - a listener that throws does not keep the others from hearing;
 * - after a lost connection the notifier reconnects by itself and reports one
 *   wake-up (messages sent meanwhile are lost, so listeners catch up);
 * - after close(), nothing more is heard.
 */
import { describe, expect, test } from "bun:test";
import type { Notifier } from "../../src/notify/notifier.ts";
import { eventually } from "../helpers/services.ts";

export interface NotifierBackend {
  kind: Notifier["kind"];
  /** a notifier as one replica makes it; every call is another replica on the same server */
  make(): Notifier;
  /** whether notifiers made by make() reach each other (false for one process, LocalNotifier) */
  crossesReplicas: boolean;
  /** a notifier whose server cannot be reached (absent: there is no server) */
  unreachable?: () => Notifier;
  /** cut the server side of every notifier's connections (absent: there is no connection) */
  cutConnections?: () => Promise<void>;
}

interface Heard {
  log: string[];
  clear(): void;
}

function listen(named: [string, Notifier][]): Heard {
  const log: string[] = [];
  for (const [name, n] of named) {
    n.onWake(() => log.push(`${name} wake`));
    n.onPublished((v) => log.push(`${name} published ${v}`));
  }
  return {
    log,
    clear: () => {
      log.length = 0;
    },
  };
}

async function started(...notifiers: Notifier[]): Promise<void> {
  await Promise.all(notifiers.map((n) => n.start()));
  // Connecting may itself report a wake-up (a reconnection catch-up); wait until every one is reachable.
  await eventually("every notifier connected", 10_000, async () =>
    (await Promise.all(notifiers.map((n) => n.ping()))).every(Boolean),
  );
}

/** Enough time for a message on loopback to arrive, to show that one did not. */
const QUIET_MS = 150;

export function notifierContract(backend: NotifierBackend): void {
  describe(`notifier contract: ${backend.kind}`, () => {
    test("kind names the backend; start, ping and close work; close twice is harmless", async () => {
      const n = backend.make();
      expect(n.kind).toBe(backend.kind);
      await started(n);
      expect(await n.ping()).toBe(true);
      await n.close();
      await n.close();
    });

    test(
      backend.crossesReplicas
        ? "every other replica hears a change and a publication; the sender does not"
        : "one process: announcements reach no one, not even the sender",
      async () => {
        const [a, b, c] = [backend.make(), backend.make(), backend.make()];
        const heard = listen([
          ["a", a],
          ["b", b],
          ["c", c],
        ]);
        try {
          await started(a, b, c);
          await Bun.sleep(QUIET_MS);
          heard.clear();
          a.announceChange();
          a.announcePublished(42);
          if (backend.crossesReplicas) {
            await eventually("b and c heard both", 5000, async () => heard.log.length >= 4, 5);
            await Bun.sleep(QUIET_MS); // and nothing more arrives
            expect(heard.log.sort()).toEqual(["b published 42", "b wake", "c published 42", "c wake"]);
          } else {
            await Bun.sleep(QUIET_MS);
            expect(heard.log).toEqual([]);
          }
        } finally {
          await Promise.all([a, b, c].map((n) => n.close()));
        }
      },
    );

    if (backend.crossesReplicas) {
      test("every publication is heard with its version, in order", async () => {
        const [a, b] = [backend.make(), backend.make()];
        const versions: number[] = [];
        b.onPublished((v) => versions.push(v));
        try {
          await started(a, b);
          for (let v = 1; v <= 50; v++) a.announcePublished(v);
          await eventually("all 50 heard", 5000, async () => versions.length >= 50, 5);
          expect(versions).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
        } finally {
          await Promise.all([a.close(), b.close()]);
        }
      });

      test("a listener that throws does not keep the next one from hearing", async () => {
        const [a, b] = [backend.make(), backend.make()];
        const heard: number[] = [];
        b.onPublished(() => {
          throw new Error("listener failed");
        });
        b.onPublished((v) => heard.push(v));
        try {
          await started(a, b);
          a.announcePublished(7);
          await eventually("the second listener heard", 5000, async () => heard.length > 0, 5);
          expect(heard).toEqual([7]);
        } finally {
          await Promise.all([a.close(), b.close()]);
        }
      });

      test("after close(), nothing more is heard and announcing does not throw", async () => {
        const [a, b, c] = [backend.make(), backend.make(), backend.make()];
        const heard = listen([
          ["b", b],
          ["c", c],
        ]);
        try {
          await started(a, b, c);
          await b.close();
          await Bun.sleep(QUIET_MS);
          heard.clear();
          a.announcePublished(3);
          await eventually("c heard", 5000, async () => heard.log.includes("c published 3"), 5);
          await Bun.sleep(QUIET_MS);
          expect(heard.log).toEqual(["c published 3"]);
          b.announceChange();
          b.announcePublished(4);
        } finally {
          await Promise.all([a.close(), c.close()]);
        }
      });
    }

    const unreachable = backend.unreachable;
    if (unreachable) {
      test("server unreachable: start() does not fail, ping is false, announcements are dropped quietly", async () => {
        const n = unreachable();
        try {
          await n.start();
          expect(await n.ping()).toBe(false);
          n.announceChange();
          n.announcePublished(1);
        } finally {
          await n.close();
        }
      });
    }

    const cut = backend.cutConnections;
    if (cut) {
      test("a cut connection: the notifier reconnects by itself, reports a wake-up, and messages flow again", async () => {
        const [a, b] = [backend.make(), backend.make()];
        const heard = listen([["b", b]]);
        try {
          await started(a, b);
          await Bun.sleep(QUIET_MS);
          heard.clear();
          await cut();
          // Lost messages are made up for by one wake-up after the reconnection.
          await eventually("b reconnected and woke", 20_000, async () => heard.log.includes("b wake"), 20);
          await started(a, b);
          await eventually(
            "a publication heard after the reconnection",
            20_000,
            async () => {
              a.announcePublished(9);
              await Bun.sleep(50);
              return heard.log.includes("b published 9");
            },
            50,
          );
        } finally {
          await Promise.all([a.close(), b.close()]);
        }
      }, 60_000);
    }
  });
}
