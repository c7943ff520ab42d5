/** The body of POST /api/v1/bins: the new number of TAP 15 hash bins. */
import { type Static, Type } from "@sinclair/typebox";
import { bitLengthForBins, MAX_BINS, MIN_BINS } from "../../../tuf/bins.ts";
import { extend, tufCheck } from "../schema.ts";

/** A power of two, never rounded (the same rule as bootstrap's number_of_delegated_bins). */
export const resizeBody = Type.Object(
  {
    number_of_delegated_bins: extend(
      Type.Integer({
        minimum: MIN_BINS,
        maximum: MAX_BINS,
        description: `the new number of hash bins: a power of two from ${MIN_BINS} to ${MAX_BINS}, not the current one`,
      }),
      // The TUF layer's rule and words: "must be a power of two between 2 and 16384, got N".
      {
        opaque: true,
        check: tufCheck((n: unknown) => {
          bitLengthForBins(n);
          return n as number;
        }, 1),
      },
    ),
  },
  { additionalProperties: false },
);

export type ResizeBody = Static<typeof resizeBody>;
