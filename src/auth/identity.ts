/**
 * Who a request is from, as established by a credential verifier at token exchange and carried,
 * signed, inside the gateway token. Policy, rate limits and telemetry read it from the request
 * context; it never holds a secret.
 */
export interface Identity {
  /** Stable subject id (the verifier's user id, OIDC `sub`, GitHub numeric id). */
  readonly uid: string;
  /** Human-readable login shown by `/copilot_internal/user`. */
  readonly login: string;
  /** Plan name, e.g. `copilot_for_business_seat`; policy keys off it. */
  readonly sku: string;
  /** Organisation the user belongs to, if any. */
  readonly org: string | undefined;
}
