/**
 * The notifier contract over Redis pub/sub, against a real server
 * (TUFBOX_TEST_REDIS_URL; fails under CI without it), and the channel names.
 */
import { describe, expect, test } from "bun:test";
import { RedisClient } from "bun";
import { silentLogger } from "../../src/log.ts";
import { channelPrefix } from "../../src/notify/index.ts";
import { RedisNotifier } from "../../src/notify/redis.ts";
import { REDIS_URL, withServices } from "../helpers/services.ts";
import { notifierContract } from "./contract.ts";

withServices("test/notify/redis.test.ts", { redis: true }, () => {
  const log = silentLogger();
  // Channels of their own, so a test run never wakes anything else on the server.
  const prefix = `tufbox:test-${process.pid}`;
  notifierContract({
    kind: "redis",
    make: () => new RedisNotifier(REDIS_URL, log, { channelPrefix: prefix }),
    crossesReplicas: true,
    unreachable: () =>
      new RedisNotifier("redis://127.0.0.1:1", log, { channelPrefix: "tufbox:test", connectTimeoutMs: 500 }),
    cutConnections: async () => {
      const admin = new RedisClient(REDIS_URL);
      try {
        await admin.connect();
        // The subscribed connections, as a Redis restart or a network cut would end them.
        await admin.send("CLIENT", ["KILL", "TYPE", "pubsub"]);
      } finally {
        admin.close();
      }
    },
  });
});

describe("Redis channel names", () => {
  test("channel names follow the database (and schema), not the host", () => {
    expect(channelPrefix("postgres://u:p@db1:5432/tuf")).toBe("tufbox:tuf");
    expect(channelPrefix("postgresql://u@db2.example/tuf?sslmode=require")).toBe("tufbox:tuf");
    expect(channelPrefix("postgres://u@db/tuf?search_path=prod")).toBe("tufbox:tuf:prod");
    expect(channelPrefix("sqlite:/var/lib/tufbox/tufbox.db")).toBe("tufbox:sqlite");
  });
});
