/** Paths to test/fixtures/rstuf (RSTUF payloads made by python-tuf; see its README) and small readers. */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const FIXTURES = fileURLToPath(new URL("../fixtures/rstuf/", import.meta.url));
export const ONLINE_KEY_DIR = `${FIXTURES}online-key-dir`;

export function fixture<T = any>(name: string): T {
  return JSON.parse(readFileSync(FIXTURES + name, "utf8")) as T;
}

export function fixtureKey(name: string): { pem: string; keyid: string } {
  return {
    pem: readFileSync(`${FIXTURES}keys/${name}.pem`, "utf8"),
    keyid: readFileSync(`${FIXTURES}keys/${name}.keyid`, "utf8").trim(),
  };
}

/** The bins bootstrap payload with another bin count (settings are not signed). */
export function binsPayload(bins: number, file = "bootstrap-bins.json"): any {
  const p = fixture(file);
  p.settings.roles.bins.number_of_delegated_bins = bins;
  return p;
}
