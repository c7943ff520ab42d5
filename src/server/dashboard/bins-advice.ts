/**
 * The hash-bin advice of GET /api/v1/roles (`bins_advice`): how many bins
 * the clients are best served by (tuf/bin-advice.ts), from the artifacts the
 * store holds and the bytes per target entry measured from the published
 * bins; and its schema for /openapi.json. `tufbox bins advise` and
 * `tufbox status` read it from there.
 */
import { type TSchema, Type } from "@sinclair/typebox";
import type { App } from "../../core.ts";
import { adviseBins, type BinAdvice, measuredEntryBytes } from "../../tuf/bin-advice.ts";

/** Null without hash bins, or when the store cannot count (the rest of the overview still answers). */
export async function binsAdviceOf(app: App): Promise<BinAdvice | null> {
  const settings = app.repo.settings;
  const footprint = app.repo.binsFootprint();
  if (!settings?.bins || !footprint) return null;
  const artifacts = await app.store.countArtifacts().catch(() => null);
  if (artifacts === null) return null;
  return adviseBins({
    artifacts,
    entryBytes: measuredEntryBytes(footprint.bytes, footprint.published, artifacts),
    currentBins: settings.bins.count,
    // targets itself and any custom delegations are listed in the snapshot too
    otherRoles: 1 + app.repo.delegatedRoles.length,
  });
}

const Estimate = Type.Object({
  bins: Type.Integer({ minimum: 2, maximum: 16384 }),
  mean_bin_bytes: Type.Integer({ description: "a bin with the average number of target entries" }),
  largest_bin_bytes: Type.Integer({ description: "the fullest bin to expect (sha256 spreads paths unevenly)" }),
  snapshot_bytes: Type.Integer(),
  tufjs_refresh_seconds: Type.Number({
    description: "tuf-js snapshot loading per refresh, estimated from the role count",
  }),
});

export const BinAdviceSchema: TSchema = Type.Object(
  {
    artifacts: Type.Integer(),
    entry_bytes: Type.Number({ description: "bytes one target entry adds to a bin" }),
    entry_bytes_source: Type.Union([Type.Literal("measured"), Type.Literal("assumed")]),
    other_roles: Type.Integer({ description: "roles in the snapshot besides the bins (targets, custom delegations)" }),
    recommended: Estimate,
    current: Type.Union([Estimate, Type.Null()]),
    holds_artifacts: Type.Object({
      within_target: Type.Integer({ description: "artifacts the recommended count holds with bins under the target" }),
      within_cap_headroom: Type.Integer({ description: "… with the fullest bin under half the client limit" }),
    }),
    trade_off: Type.Array(Type.String(), { minItems: 2, maxItems: 2, description: "the trade-off, in two lines" }),
    warnings: Type.Array(
      Type.Object({
        severity: Type.Union([Type.Literal("critical"), Type.Literal("warning")]),
        code: Type.Union(
          ["bins-over-cap", "bins-near-cap", "tufjs-slow", "far-from-recommended", "cap-needs-slow-tufjs"].map((c) =>
            Type.Literal(c),
          ),
        ),
        message: Type.String(),
      }),
    ),
    limits: Type.Object({
      bin_target_bytes: Type.Integer(),
      bin_cap_bytes: Type.Integer(),
      bin_cap_headroom_bytes: Type.Integer(),
      tufjs_budget_seconds: Type.Number(),
      far_factor: Type.Integer(),
    }),
  },
  { description: "How many hash bins serve the clients best; null without hash bins" },
);
