import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  canonicalJson,
  canonicalTargetsText,
  serializeEnvelope,
  targetsEntriesOf,
  TufError,
  utf8,
} from "../../src/tuf/index.ts";

/** A targets document as the publisher assembles it, from [path, fragment] entries. */
function documentOf(entries: [string, string][], extra: Record<string, unknown> = {}): Uint8Array {
  const text = canonicalTargetsText(
    { _type: "targets", spec_version: "1.0.31", version: 7, expires: "2030-01-01T00:00:00Z", ...extra },
    entries.map(([p, f]): [string, string] => [p, f]),
  );
  return serializeEnvelope(text, [{ keyid: "ab".repeat(32), sig: "cd".repeat(64) }]);
}

const byCodeUnit = (a: [string, string], b: [string, string]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

// Any string, control characters, quotes, backslashes and astral characters included.
const text = fc.string({ unit: "binary", maxLength: 12 });
const info = fc.record(
  {
    length: fc.nat(),
    hashes: fc.dictionary(fc.constantFrom("sha256", "sha512"), fc.string({ unit: "binary", maxLength: 8 })),
    custom: fc.dictionary(text, fc.oneof(text, fc.integer(), fc.boolean(), fc.constant(null), fc.array(text))),
  },
  { requiredKeys: ["length", "hashes"] },
);

describe("targetsEntriesOf", () => {
  test("gives back exactly the fragments a document was assembled from, in code unit order", () => {
    fc.assert(
      fc.property(fc.dictionary(text, info, { maxKeys: 20 }), (targets) => {
        const entries = Object.entries(targets).map(([p, i]): [string, string] => [p, canonicalJson(i)]);
        const got = targetsEntriesOf(documentOf(entries));
        expect(got).toEqual([...entries].sort(byCodeUnit));
      }),
      { numRuns: 300 },
    );
  });

  test("finds the targets whatever else the document holds (delegations with their own targets-like keys)", () => {
    const delegations = {
      keys: { k: { keytype: "ed25519", keyval: { public: "targets" }, scheme: "ed25519" } },
      roles: [{ name: "targets", keyids: ["k"], threshold: 1, paths: ['a"}{'], terminating: false }],
    };
    const entries: [string, string][] = [
      ["a/b.tar.gz", '{"hashes":{"sha256":"00"},"length":3}'],
      ['q"uote\\d', '{"custom":{"x":"}{\\"\\\\"},"hashes":{"sha256":"11"},"length":0}'],
    ];
    expect(targetsEntriesOf(documentOf(entries, { delegations }))).toEqual([...entries].sort(byCodeUnit));
    expect(targetsEntriesOf(documentOf([]))).toEqual([]);
  });

  test("a control character in the canonical text (a JSON escape in the envelope) comes back raw", () => {
    const fragment = canonicalJson({ custom: { note: "line\nnext\u0001" }, hashes: { sha256: "00" }, length: 1 });
    const bytes = documentOf([["tab\there", fragment]]);
    expect(new TextDecoder().decode(bytes)).toContain("\\n");
    expect(targetsEntriesOf(bytes)).toEqual([["tab\there", fragment]]);
  });

  test("what is not a targets document is refused with a TufError", () => {
    for (const bad of ['{"signatures":[]}', '{"signed":{"_type":"root"}}', '{"signed":{"targets":{"a":', "[]", ""]) {
      expect(() => targetsEntriesOf(utf8(bad))).toThrow(TufError);
    }
  });
});
