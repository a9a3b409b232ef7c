import { asObject } from './fields.js';
import { hasBearer, type ErrorReply, type SimError, type WireFormat } from './format.js';
import { completionId, OpenAIEncoder, openai, parseOpenAI, SSE_DONE } from './openai.js';

// vLLM's OpenAI-compatible /v1/completions (served there with --reject-suffix): the same bytes as
// OpenAI on success, but vLLM's own error object, and any `suffix` refused with 400 because vLLM
// does not support it. A gateway must build the FIM prompt from the model's sentinel tokens instead.

/** vLLM's ErrorResponse: `{"object":"error","message","type","param","code"}`, code = the status. */
function vllmErrorJson(status: number, message: string): string {
  return JSON.stringify({ object: 'error', message, type: errorType(status), param: null, code: status });
}

function errorType(status: number): string {
  switch (status) {
    case 400:
      return 'BadRequestError';
    case 404:
      return 'NotFoundError';
    case 503:
      return 'ServiceUnavailableError';
    default:
      return status >= 500 ? 'InternalServerError' : 'BadRequestError';
  }
}

class VllmEncoder extends OpenAIEncoder {
  /** vLLM reports a failure inside the stream as `{"error": ErrorResponse}` and still ends with [DONE]. */
  override streamError(message: string): string {
    return `data: {"error":${vllmErrorJson(500, message)}}\n\n${SSE_DONE}`;
  }
}

/** vLLM's /v1/completions: OpenAI's wire format, vLLM's errors, no `suffix`. */
export const vllm: WireFormat<undefined> = {
  ...openai,
  name: 'vllm',
  admit(head, apiKey) {
    return hasBearer(head, apiKey)
      ? undefined
      : { status: 401, kind: 'unauthorized', message: 'Unauthorized', param: null };
  },
  parse(body, route) {
    // vLLM refuses the field whenever it is present, even empty: it checks `suffix is not None`.
    const suffix = asObject(body)?.suffix;
    if (suffix !== undefined && suffix !== null) {
      return { ok: false, param: 'suffix', message: 'suffix is not currently supported' };
    }
    return parseOpenAI(body, route);
  },
  encoder(request) {
    return new VllmEncoder(completionId(), request.model);
  },
  error(err: SimError): ErrorReply {
    // vLLM's API-key middleware answers a bare {"error": "Unauthorized"}.
    if (err.kind === 'unauthorized') return { status: 401, body: '{"error":"Unauthorized"}' };
    return { status: err.status, body: vllmErrorJson(err.status, err.message) };
  },
};
