/** The notifier contract for one process (SQLite): nothing crosses the process boundary. */
import { silentLogger } from "../../src/log.ts";
import { LocalNotifier } from "../../src/notify/local.ts";
import { notifierContract } from "./contract.ts";

notifierContract({ kind: "local", make: () => new LocalNotifier(silentLogger()), crossesReplicas: false });
