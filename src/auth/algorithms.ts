/**
 * JWS algorithms with a public verification key (RFC 7518 §3.1, RFC 8037):
 * the only ones tufbox accepts for JWT access tokens. With HS256 and friends
 * the verification key is the signing key, and `none` is no signature at all.
 */
export const ASYMMETRIC_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519",
] as const;
