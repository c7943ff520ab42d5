import { describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import {
  REDACTED,
  REDACTED_PRIVATE_KEY,
  createLogger,
  isSecretFieldName,
  redact,
  redactString,
  type LogFormat,
  type LogLevel,
} from "../src/log.ts";

function capture(level: LogLevel = "debug", format: LogFormat = "json") {
  const lines: string[] = [];
  const log = createLogger({
    level,
    format,
    write: (l) => lines.push(l),
    now: () => new Date("2025-01-02T03:04:05.678Z"),
  });
  return { log, lines, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

// Real keys, so the test proves the actual base64 body never comes out.
const ed = generateKeyPairSync("ed25519");
const edPem = ed.privateKey.export({ format: "pem", type: "pkcs8" }).toString();
const edBody = edPem.split("\n")[1]!;
const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
const ecPem = ec.privateKey.export({ format: "pem", type: "sec1" }).toString(); // "EC PRIVATE KEY"
const ecBody = ecPem.split("\n")[1]!;
const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const rsaPem = rsa.privateKey.export({ format: "pem", type: "pkcs1" }).toString(); // "RSA PRIVATE KEY"
const rsaBody = rsaPem.split("\n")[2]!;
const publicPem = ed.publicKey.export({ format: "pem", type: "spki" }).toString();
const SECRET_BODIES = [edBody, ecBody, rsaBody];

function expectNoKeyMaterial(output: string): void {
  for (const body of SECRET_BODIES) expect(output).not.toContain(body);
  expect(output).not.toContain("PRIVATE KEY-----");
}

describe("levels and formats", () => {
  test("records below the level are dropped", () => {
    const { log, lines } = capture("warn");
    log.debug("d");
    log.info("i");
    log.warn("w");
    log.error("e");
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(["w", "e"]);
    expect(log.isEnabled("info")).toBe(false);
    expect(log.isEnabled("error")).toBe(true);
  });

  test("JSON lines: time, level, msg first, then fields", () => {
    const { log, lines } = capture();
    log.info("published", { role: "timestamp", version: 7 });
    expect(lines[0]).toBe(
      '{"time":"2025-01-02T03:04:05.678Z","level":"info","msg":"published","role":"timestamp","version":7}',
    );
  });

  test("fields cannot overwrite time, level or msg", () => {
    const { log, records } = capture();
    log.warn("real", { level: "debug", msg: "fake", time: "never" });
    expect(records()[0]).toEqual({ time: "2025-01-02T03:04:05.678Z", level: "warn", msg: "real" });
  });

  test("text: one readable line, values quoted only when needed, stacks indented below", () => {
    const { log, lines } = capture("debug", "text");
    log.warn("slow publish", { ms: 1200, role: "bins-0a", note: "two words" });
    expect(lines[0]).toBe('2025-01-02T03:04:05.678Z WARN  slow publish ms=1200 role=bins-0a note="two words"');
    log.error("failed", { err: new TypeError("boom") });
    expect(lines[1]!.split("\n")[0]).toBe('2025-01-02T03:04:05.678Z ERROR failed err="TypeError: boom"');
    expect(lines[1]!.split("\n")[1]).toStartWith("    TypeError: boom");
    log.error("publish failed", { err: new Error("commit failed", { cause: new Error("db down") }) });
    expect(lines[2]).toContain("\n    caused by: Error: db down\n");
  });

  test("child loggers add fields; call fields win", () => {
    const { log, records } = capture();
    const pub = log.child({ component: "publisher" }).child({ batch: 1 });
    pub.info("a", { batch: 2 });
    expect(records()[0]).toMatchObject({ component: "publisher", batch: 2, msg: "a" });
  });

  test("a failing writer or an odd value never throws into the caller", () => {
    const log = createLogger({
      level: "info",
      format: "json",
      write: () => {
        throw new Error("disk full");
      },
    });
    expect(() => log.info("x")).not.toThrow();
    const { log: ok, records } = capture();
    const circular: Record<string, unknown> = { name: "loop" };
    circular.self = circular;
    ok.info("odd", { circular, big: 10n, nan: NaN, fn: () => 1, when: new Date(0), sym: Symbol("s") });
    expect(records()[0]).toMatchObject({
      circular: { name: "loop", self: "<circular>" },
      big: "10",
      nan: "NaN",
      when: "1970-01-01T00:00:00.000Z",
    });
  });
});

describe("redaction by field name", () => {
  test.each([
    "key",
    "online_key",
    "onlineKey",
    "apiKey",
    "apikey",
    "x-api-key",
    "private",
    "privateKey",
    "private_key_pem",
    "pem",
    "keyPem",
    "token",
    "admin_token",
    "accessToken",
    "secret",
    "client_secret",
    "password",
    "DB_PASSWORD",
    "passphrase",
    "authorization",
    "Authorization",
    "cookie",
    "credentials",
  ])("%s is redacted", (name) => {
    expect(isSecretFieldName(name)).toBe(true);
    const { log, lines } = capture();
    log.info("x", { [name]: "sensitive-value" });
    expect(JSON.parse(lines[0]!)[name]).toBe(REDACTED);
    expect(lines[0]).not.toContain("sensitive-value");
  });

  test.each(["keyid", "keyids", "key_id", "keytype", "role", "threshold", "token_count", "pem_path", "message"])(
    "%s is kept (public and needed to debug TUF)",
    (name) => {
      expect(isSecretFieldName(name)).toBe(false);
      const { log, records } = capture();
      log.info("x", { [name]: "visible" });
      expect(records()[0]![name]).toBe("visible");
    },
  );

  test("at any depth, in arrays, maps, child fields and error properties", () => {
    const { log, lines, records } = capture();
    const err = Object.assign(new Error("auth failed"), { token: "tok-123456", status: 401 });
    log.child({ signer: { keyid: "abc", privateKey: "pk-material" } }).warn("x", {
      request: { headers: { Authorization: "Bearer abcdef123456", "content-type": "application/json" } },
      keys: [{ keyid: "k1", keyval: { public: "pub", private: "deadbeef" } }],
      list: [{ secret: "s1" }, { nested: [{ password: "pw1" }] }],
      map: new Map([["passphrase", "pp1"]]),
      err,
    });
    const out = lines[0]!;
    for (const s of ["pk-material", "abcdef123456", "deadbeef", 's1"', "pw1", "pp1", "tok-123456"])
      expect(out).not.toContain(s);
    const r = records()[0]!;
    expect(r.signer).toEqual({ keyid: "abc", privateKey: REDACTED });
    expect(r.request).toEqual({ headers: { Authorization: REDACTED, "content-type": "application/json" } });
    expect((r.err as Record<string, unknown>).status).toBe(401);
    expect((r.err as Record<string, unknown>).token).toBe(REDACTED);
  });
});

describe("redaction of private key material in values", () => {
  test("PEM private keys in the message, in fields, nested, in arrays", () => {
    const { log, lines, records } = capture();
    log.info(`loaded ${edPem}`, { material: ecPem, nested: { deeper: [{ blob: `prefix ${rsaPem} suffix` }] } });
    expectNoKeyMaterial(lines[0]!);
    const r = records()[0]!;
    expect(r.msg).toBe(`loaded ${REDACTED_PRIVATE_KEY}\n`);
    expect(r.material).toBe(`${REDACTED_PRIVATE_KEY}\n`);
    expect((r.nested as { deeper: { blob: string }[] }).deeper[0]!.blob).toBe(
      `prefix ${REDACTED_PRIVATE_KEY}\n suffix`,
    );
  });

  test("in Error messages, stacks and causes, in both formats", () => {
    for (const format of ["json", "text"] as const) {
      const { log, lines } = capture("debug", format);
      const cause = new Error(`bad key: ${rsaPem}`);
      const err = new Error(`cannot parse online key ${edPem}`, { cause });
      log.error("startup failed", { err });
      log.error("again", { error: new AggregateError([new Error(ecPem)], "several") });
      expectNoKeyMaterial(lines.join("\n"));
      expect(lines[0]).toContain(REDACTED_PRIVATE_KEY);
      expect(lines[1]).toContain(REDACTED_PRIVATE_KEY); // the inner error is logged, redacted
    }
  });

  test("a truncated key (no END line) is still redacted to the end of the string", () => {
    const truncated = edPem.slice(0, 60);
    expect(redactString(`oops: ${truncated}`)).toBe(`oops: ${REDACTED_PRIVATE_KEY}`);
  });

  test("every private key flavour, and encrypted/OpenSSH headers", () => {
    for (const header of [
      "PRIVATE KEY",
      "RSA PRIVATE KEY",
      "EC PRIVATE KEY",
      "ENCRYPTED PRIVATE KEY",
      "OPENSSH PRIVATE KEY",
    ]) {
      const pem = `-----BEGIN ${header}-----\nQUJDREVGR0g=\n-----END ${header}-----`;
      expect(redactString(`a ${pem} b`)).toBe(`a ${REDACTED_PRIVATE_KEY} b`);
    }
  });

  test("public keys and certificates stay visible (they are needed to debug)", () => {
    expect(redactString(publicPem)).toBe(publicPem);
  });

  test("bytes and key objects are never dumped", () => {
    const { log, lines, records } = capture();
    const seed = ed.privateKey.export({ format: "der", type: "pkcs8" });
    log.info("x", { seed, raw: new Uint8Array([1, 2, 3]), keyObject: ed.privateKey, pub: ed.publicKey });
    expect(records()[0]).toMatchObject({
      seed: `<${seed.length} bytes>`,
      raw: "<3 bytes>",
      keyObject: "<private key object>",
      pub: "<public key object>",
    });
    expect(lines[0]).not.toContain(seed.toString("base64").slice(20, 40));
  });

  test("credentials in URLs and bearer tokens inside strings", () => {
    expect(redactString("connect postgres://tufbox:hunter2@db:5432/x failed")).toBe(
      `connect postgres://tufbox:${REDACTED}@db:5432/x failed`,
    );
    expect(redactString("header was Authorization: Bearer eyJhbGciOi.eyJzdWIi.sig")).toBe(
      `header was Authorization: Bearer ${REDACTED}`,
    );
    expect(redactString("plain https://example.org/a@b ok")).toBe("plain https://example.org/a@b ok");
  });

  test("redact() does not mutate its input", () => {
    const input = { token: "t", nested: { pem: edPem, keyid: "k" } };
    const copy = structuredClone(input);
    const out = redact(input) as typeof input;
    expect(input).toEqual(copy);
    expect(out.nested).toEqual({ pem: REDACTED, keyid: "k" });
  });
});
