import { describe, expect, test } from "bun:test";
import { TufError, joinField } from "../../src/tuf/index.ts";

describe("TufError", () => {
  test("carries the field and prefixes the message with it", () => {
    const e = new TufError("signed.version", "must be at least 1");
    expect(e).toBeInstanceOf(Error);
    expect(e).toBeInstanceOf(TufError);
    expect(e.name).toBe("TufError");
    expect(e.field).toBe("signed.version");
    expect(e.message).toBe("signed.version: must be at least 1");
  });

  test("without a field the message is unchanged", () => {
    const e = new TufError("", "bad");
    expect(e.field).toBe("");
    expect(e.message).toBe("bad");
  });
});

describe("joinField", () => {
  test("dots for names, brackets for indexes", () => {
    expect(joinField("", "a")).toBe("a");
    expect(joinField("a", "b")).toBe("a.b");
    expect(joinField("a", 0)).toBe("a[0]");
    expect(joinField("", 3)).toBe("[3]");
    expect(joinField(joinField(joinField(joinField("a", "b"), 1), "c"), 0)).toBe("a.b[1].c[0]");
    expect(joinField("targets", "dir/file-1.0.tar.gz")).toBe("targets.dir/file-1.0.tar.gz");
  });
});
