import type { CompletionEvent, CompletionRequest } from '../model.js';
import { invalid, nonNegativeInt, numberIn, objectField, optionalString } from './fields.js';
import { openaiProtocol } from './openai.js';
import type { ClientEncoder, ClientProtocol, DecodeInput, ProtocolChoice, ResponseMeta } from './protocol.js';

/**
 * Tabby's IDE extensions (through tabby-agent): `POST /v1/completions` with `{language, segments:
 * {prefix, suffix, filepath, git_url, declarations, relevant_snippets_from_changed_files,
 * relevant_snippets_from_recently_opened_files, clipboard}, user, temperature, seed, mode}`,
 * answered with one JSON body `{id, choices: [{index, text}]}`; never streamed. The body names no
 * model: every Tabby request goes to the configured one (`protocols.tabby.model`).
 *
 * The prompt is built as Tabby's own server builds it: the code snippets the editor sent
 * (declarations first, then snippets from changed and from recently opened files), each headed
 * `Path: <file>` and written as line comments of the file's language, then the prefix; within a
 * budget of `contextChars` snippet characters, and only for languages whose line comment is known.
 * The suffix is the suffix; the clipboard and git_url are not used.
 *
 * `/v1/completions` is also OpenAI's route: openaiOrTabby() tells the two apart by the body.
 * GET /v1/health and POST /v1/events are answered in server/tabby-endpoints.ts.
 */

/** What a gateway's config says about Tabby clients (`protocols.tabby`). */
export interface TabbySettings {
  /** The model every Tabby request goes to. */
  readonly model: string;
  /** Tokens to ask for: Tabby's request has no max_tokens (its server's default is 64). */
  readonly maxTokens: number;
  /** At most this many characters of editor-sent snippets go into the prompt; 0 = none. */
  readonly contextChars: number;
}

/** Tabby's server samples at this temperature unless the request names one. */
const DEFAULT_TEMPERATURE = 0.1;

/** Tabby's protocol for one gateway's settings. */
export function tabbyProtocol(settings: TabbySettings): ClientProtocol {
  return {
    name: 'tabby',
    // Tabby's answers are never streamed, so no upstream's bytes can pass through to them.
    responseFormat: 'tabby',
    decode: (input) => decodeTabby(input, settings),
    encoder: (_req, meta) => new TabbyEncoder(meta),
  };
}

/** A Tabby body: no `prompt`, and the `segments` (or `debug_options.raw_prompt`) Tabby sends instead. */
export function isTabbyBody(body: Readonly<Record<string, unknown>>): boolean {
  return body.prompt === undefined && (body.segments !== undefined || body.debug_options !== undefined);
}

/**
 * The protocol of a `POST /v1/completions` body, which OpenAI clients and Tabby clients share: a
 * body with `prompt` is OpenAI's, one with `segments` and no `prompt` is Tabby's (isTabbyBody).
 */
export function openaiOrTabby(
  tabby: ClientProtocol,
  openai: ClientProtocol = openaiProtocol,
): ProtocolChoice {
  return (body) => (isTabbyBody(body) ? tabby : openai);
}

function decodeTabby(input: DecodeInput, settings: TabbySettings): CompletionRequest {
  const b = input.body;
  const language = optionalString(b.language, 'language');
  const mode = optionalString(b.mode, 'mode');
  if (mode !== undefined && mode !== 'standard')
    throw invalid(`"mode" must be "standard": "${mode.slice(0, 32)}" completions are not supported.`);
  const temperature = numberIn(b.temperature, 'temperature', 0, 2) ?? DEFAULT_TEMPERATURE;
  const seed = nonNegativeInt(b.seed, 'seed');
  const rawPrompt = optionalString(
    objectField(b.debug_options, 'debug_options')?.raw_prompt,
    'debug_options.raw_prompt',
  );
  let prompt: string;
  let suffix: string | undefined;
  let filepath: string | undefined;
  if (rawPrompt !== undefined) {
    // Tabby's own rule: a raw prompt goes to the model as it is, and the segments are ignored.
    prompt = rawPrompt;
  } else {
    const s = objectField(b.segments, 'segments');
    if (s === undefined) throw invalid('"segments" is required and must be an object.');
    if (typeof s.prefix !== 'string') throw invalid('"segments.prefix" is required and must be a string.');
    suffix = optionalString(s.suffix, 'segments.suffix');
    filepath = optionalString(s.filepath, 'segments.filepath');
    const snippets = [
      ...snippetList(s.declarations, 'segments.declarations'),
      ...snippetList(s.relevant_snippets_from_changed_files, 'segments.relevant_snippets_from_changed_files'),
      ...snippetList(
        s.relevant_snippets_from_recently_opened_files,
        'segments.relevant_snippets_from_recently_opened_files',
      ),
    ];
    prompt = withSnippets(s.prefix, language, snippets, settings.contextChars);
  }
  return {
    prompt,
    suffix,
    maxTokens: settings.maxTokens,
    temperature,
    topP: undefined,
    n: 1,
    stop: [],
    stream: false,
    language,
    logprobs: undefined,
    seed,
    logitBias: undefined,
    model: settings.model,
    filepath,
    extra: undefined,
    client: input.client,
    // No upstream speaks Tabby: adapters build their bodies from the fields above.
    origin: 'tabby',
    raw: input.raw,
    body: b,
  };
}

interface Snippet {
  readonly filepath: string;
  readonly body: string;
}

/** `[{filepath, body, ...}]`, each field checked; null or absent is an empty list. */
function snippetList(v: unknown, name: string): Snippet[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalid(`"${name}" must be an array.`);
  return v.map((item: unknown, i) => {
    const at = `${name}[${i}]`;
    if (typeof item !== 'object' || item === null) throw invalid(`"${at}" must be an object.`);
    const { filepath, body } = item as { filepath?: unknown; body?: unknown };
    if (typeof filepath !== 'string') throw invalid(`"${at}.filepath" must be a string.`);
    if (typeof body !== 'string') throw invalid(`"${at}.body" must be a string.`);
    return { filepath, body };
  });
}

/**
 * The prefix with the snippets before it as line comments, the way Tabby's server writes them:
 * `# Path: a.py`, the body's lines, an empty comment line between two snippets, then the prefix.
 * Snippets that would go past the budget are left out; so is everything when the language's
 * comment syntax is unknown (a snippet the model reads as code would do harm).
 */
export function withSnippets(
  prefix: string,
  language: string | undefined,
  snippets: readonly Snippet[],
  budgetChars: number,
): string {
  const comment = language === undefined ? undefined : LINE_COMMENT.get(language.toLowerCase());
  if (comment === undefined || snippets.length === 0 || budgetChars <= 0) return prefix;
  const lines: string[] = [];
  let used = 0;
  for (const s of snippets) {
    if (used + s.body.length > budgetChars) continue;
    used += s.body.length;
    if (lines.length > 0) lines.push(comment);
    lines.push(`${comment} Path: ${s.filepath}`);
    // Line by line, as Rust's lines(): a final newline makes no extra line.
    for (const line of s.body.replace(/\r?\n$/, '').split(/\r?\n/))
      lines.push(line.length === 0 ? comment : `${comment} ${line}`);
  }
  return lines.length === 0 ? prefix : `${lines.join('\n')}\n${prefix}`;
}

/** Line comments by VS Code language id (what Tabby's clients send as `language`). */
const LINE_COMMENT: ReadonlyMap<string, string> = new Map(
  Object.entries({
    '#': 'python ruby shellscript bash sh perl r yaml toml dockerfile makefile elixir julia powershell nim coffeescript cmake',
    '//': 'javascript javascriptreact typescript typescriptreact java c cpp csharp go rust kotlin scala swift dart php solidity groovy objective-c objective-cpp zig jsonc proto fsharp',
    '--': 'lua sql haskell elm ada',
    ';;': 'clojure lisp scheme',
    '%': 'erlang latex tex matlab',
  }).flatMap(([comment, ids]) => ids.split(' ').map((id) => [id, comment] as const)),
);

/** Tabby's answer: one JSON body with the one choice, written when the upstream's stream ends. */
class TabbyEncoder implements ClientEncoder {
  readonly contentType = 'application/json';
  #text = '';

  constructor(private readonly meta: ResponseMeta) {}

  event(e: CompletionEvent): string {
    if (e.type === 'text' && e.index === 0) this.#text += e.text;
    return '';
  }

  end(): string {
    return JSON.stringify({ id: this.meta.id, choices: [{ index: 0, text: this.#text }] });
  }
}
