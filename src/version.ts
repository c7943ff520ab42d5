/** Version and commit, fixed at build time by scripts/build.ts (--define); read from package.json when run from source. */
import pkg from "../package.json" with { type: "json" };

declare const TUFBOX_VERSION: string | undefined;
declare const TUFBOX_COMMIT: string | undefined;

export const VERSION: string = typeof TUFBOX_VERSION === "string" ? TUFBOX_VERSION : pkg.version;
export const COMMIT: string = typeof TUFBOX_COMMIT === "string" ? TUFBOX_COMMIT : "source";
