/**
 * Every error ghostwire returns, in one table: a stable code, an HTTP status and a message a user
 * can act on. docs/errors.md mirrors this table; a test keeps the two in step.
 */
export const ERROR_TABLE = {
  GW_NOT_FOUND: {
    status: 404,
    message:
      'No such route. Completions are served at POST /v1/completions, POST /v1/engines/{engine}/completions and POST /v1/fim/completions.',
  },
  GW_METHOD_NOT_ALLOWED: { status: 405, message: 'This route does not accept that HTTP method.' },
  GW_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    message: 'Send the request body as JSON with Content-Type: application/json.',
  },
  GW_BODY_TOO_LARGE: {
    status: 413,
    message: 'The request body is larger than the configured limit (limits.maxBodyBytes).',
  },
  GW_BODY_TIMEOUT: { status: 408, message: 'The request body did not arrive in time.' },
  GW_INVALID_JSON: { status: 400, message: 'The request body is not valid JSON.' },
  GW_INVALID_REQUEST: {
    status: 400,
    message: 'The request body does not have the expected fields or types.',
  },
  GW_TOKEN_MISSING: {
    status: 401,
    message:
      'This route needs a gateway token: send Authorization: Bearer <token> (get one from GET /copilot_internal/v2/token).',
  },
  GW_TOKEN_MALFORMED: {
    status: 401,
    message: 'The token is not a well-formed gateway token; exchange your credential for a new one.',
  },
  GW_TOKEN_UNKNOWN_KEY: {
    status: 401,
    message: 'The token was signed with a key this gateway does not know (or has retired); get a new token.',
  },
  GW_TOKEN_BAD_SIGNATURE: {
    status: 401,
    message: 'The token signature does not verify; it was altered or not issued by this gateway.',
  },
  GW_TOKEN_EXPIRED: {
    status: 401,
    message: 'The token has expired; exchange your credential for a new one.',
  },
  GW_TOKEN_REVOKED: {
    status: 401,
    message: 'The token or its user has been revoked by an operator; contact your administrator.',
  },
  GW_CREDENTIAL_MISSING: {
    status: 401,
    message:
      'The token exchange needs a credential: send Authorization: token <your API key or OAuth token>.',
  },
  GW_CREDENTIAL_INVALID: {
    status: 401,
    message: 'The credential was not accepted by the configured verifier; check the key or sign in again.',
  },
  GW_USER_DISABLED: {
    status: 403,
    message: 'This user is disabled on this gateway; contact your administrator.',
  },
  GW_AUTH_UNAVAILABLE: {
    status: 503,
    message: 'The identity provider could not be reached to check the credential; retry shortly.',
  },
  GW_UNKNOWN_MODEL: {
    status: 404,
    message: 'The requested model or engine is not configured on this gateway.',
  },
  GW_RATE_LIMITED: {
    status: 429,
    message:
      'Too many requests: a requests-per-second limit of this gateway (policy.limits) refused this one; retry after the Retry-After delay.',
  },
  GW_QUOTA_EXCEEDED: {
    status: 429,
    message:
      'Token quota used up: a generated-tokens-per-minute quota of this gateway (policy.limits) refused this request; retry after the Retry-After delay.',
  },
  GW_TOO_MANY_IN_FLIGHT: {
    status: 429,
    message:
      'Too many requests in flight for this user (policy.limits user.concurrent); let one finish or cancel it, then retry.',
  },
  GW_RATE_LIMIT_UNAVAILABLE: {
    status: 503,
    message:
      'The shared rate-limit store could not be reached and this gateway refuses unchecked requests (policy.limits.redis.failOpen: false); retry shortly.',
  },
  GW_NO_CAPACITY: {
    status: 503,
    message: 'No upstream capacity is available right now; retry after the indicated delay.',
  },
  GW_NO_HEALTHY_UPSTREAM: {
    status: 503,
    message:
      "No model server in this gateway instance's region is healthy: it is out of rotation until one recovers; use another region's gateway meanwhile.",
  },
  GW_UPSTREAM_UNAVAILABLE: { status: 502, message: 'The model server could not be reached.' },
  GW_UPSTREAM_ERROR: { status: 502, message: 'The model server answered with an error.' },
  GW_UPSTREAM_CLOSED: {
    status: 502,
    message: 'The model server closed the stream before the completion finished.',
  },
  GW_UPSTREAM_BAD_RESPONSE: {
    status: 502,
    message: 'The model server sent a response the gateway could not use.',
  },
  GW_UPSTREAM_TIMEOUT: { status: 504, message: 'The model server did not answer in time.' },
  GW_DEADLINE_EXCEEDED: {
    status: 504,
    message: 'The request deadline passed before the completion finished.',
  },
  GW_CLIENT_CLOSED: { status: 499, message: 'The client cancelled the request.' },
  GW_SUPERSEDED: {
    status: 409,
    message: 'A newer request from the same editor and file replaced this one (policy.supersession).',
  },
  GW_POLICY_REJECTED: {
    status: 403,
    message: "This gateway's policy does not accept this request.",
  },
  GW_SHUTTING_DOWN: {
    status: 503,
    message: 'This gateway instance is shutting down; retry on another connection.',
  },
  GW_INTERNAL: {
    status: 500,
    message: 'Internal gateway error. The request id in this body helps operators find it.',
  },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_TABLE;
