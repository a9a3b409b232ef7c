/** Help texts, one per command. Kept beside each other so the contract reads in one place. */
export const HELP = {
  main: `ghostwire — a gateway for AI code completion

Usage: ghostwire <command> [flags]

Commands:
  serve       run the gateway (no flags: embedded model simulator, ready to try)
  simulate    run the model-server simulator on its own
  token       mint, inspect and revoke gateway tokens
  demo        demo regions: multi-region failover on this machine (root, network namespaces)
  loadgen     simulated developers typing against a gateway (no flags: an embedded one)
  check-config  validate a config file; show which rewrite rules fire for a sample request

Run 'ghostwire <command> --help' for a command's flags.
`,
  serve: `Usage: ghostwire serve [--config FILE] [--host H] [--port P] [--upstream URL ...]

Runs the gateway. Prints "listening on <url>" once it accepts connections.

  --config FILE      listeners, deployments and models from a YAML/JSON file
  --host H           listen address (default 127.0.0.1; overrides the first listener)
  --port P           listen port (default 8080; 0 = any free port; overrides the first listener)
  --upstream URL     route every model to this model server (repeatable):
                     http://  HTTP/1.1    h2c://  cleartext HTTP/2    https://  HTTP/2 over TLS
  --tls-cert FILE    serve HTTP/2 over TLS (with HTTP/1.1 fallback) using this certificate
  --tls-key FILE     ... and this private key
  --no-auth          development only: completions need no token (overrides auth in --config)
  --watch            reload --config whenever the file changes (SIGHUP always reloads it)
  --workers N|auto   N worker processes share the port (auto: one per CPU; default 1);
                     this process supervises them and replaces one that dies
  -h, --help         show this help

With neither --config nor --upstream, an embedded model simulator starts in-process and the
model "default" routes to it. Without --config, one dev user is created: its API key is printed
(or taken from GHOSTWIRE_DEV_KEY), with the commands to exchange it for a token and stream a
completion.

A reload (SIGHUP, or --watch) applies deployments, models, routing, policy, limits, auth keys and
TLS certificates to new requests; requests in flight finish on the old config; a file that does
not validate is refused and the running config kept.
`,
  simulate: `Usage: ghostwire simulate [--host H] [--port P] [--ttft-ms N] [--token-ms N] [--slots N]
                          [--max-tokens N] [--queue-limit N] [--seed N]
                          [--prefix-cache N] [--prefix-chars N] [--cached-ttft-ms N]
                          [--api-key KEY] [--reject-suffix]

Runs a model-server simulator, h2c and HTTP/1.1 on one port, speaking every upstream wire format:
  OpenAI      POST /v1/completions, Copilot POST /v1/engines/{engine}/completions
  Azure       POST /openai/deployments/{deployment}/completions?api-version=YYYY-MM-DD
  llama.cpp   POST /infill, POST /completion
  Ollama      POST /api/generate (NDJSON), GET /api/tags, GET /
  TGI         POST /generate_stream, POST /generate
  Codestral   POST /v1/fim/completions
Prints "listening on <url>" once ready. GET /stats for counters (prefix_cache_hits/misses,
peak_active/peak_queued, cancel_age_ms, ...), GET /stats/cancels for the last cancels by request
id; POST /stats/reset starts them afresh.
Test hooks (request headers): x-sim-status, x-sim-close-after, x-sim-error-after, x-sim-ttft-ms,
x-sim-ignore-stop. See docs/simulator.md.

  --host H           listen address (default 127.0.0.1)
  --port P           listen port (default 0 = any free port)
  --ttft-ms N        time to first token, ms (default 40)
  --token-ms N       time between tokens, ms (default 8)
  --slots N          concurrent generations, a GPU's batch (default 64); the rest wait in a queue
  --max-tokens N     cap on tokens per completion (default 256)
  --queue-limit N    requests that may wait for a slot (default 1024); beyond that, 503
  --seed N           seed for the generated text (same prompt + seed = same completion)
  --prefix-cache N   prompt prefixes the prefix (KV) cache keeps, least recently used evicted
                     (default 1024; 0 = no cache)
  --prefix-chars N   leading prompt characters that make a cache key (default 256)
  --cached-ttft-ms N time to first token on a prefix cache hit, ms (default: --ttft-ms)
  --api-key KEY      completions need this key: Authorization: Bearer KEY (Azure: api-key: KEY);
                     otherwise 401 in the format's own shape
  --reject-suffix    be vLLM on /v1/completions: a suffix is a 400, errors are vLLM's
  -h, --help         show this help
`,
  token: `Usage: ghostwire token mint --config FILE --uid U [--sku S] [--org O] [--lifetime-s N] [--proxy-ep HOST] [--json]
       ghostwire token inspect [--config FILE] TOKEN
       ghostwire token revoke|unrevoke --config FILE [--tid ID] [--uid U]
       ghostwire token revoked --config FILE

Gateway tokens, from the same config file the gateway runs with. Secrets are never printed.

  mint       sign a token with the newest signing key (for scripts and load tests); prints the
             token (--json: token, tid, expires_at). A static user's sku and org are used.
  inspect    decode a token; with --config, verify it (key, signature, expiry). Exit 0 if valid.
  revoke     add a token id or user to the shared denylist in Redis (auth.revocation.redis);
             every instance refuses it within a second. unrevoke takes it off again.
  revoked    list the denylist (Redis and config).
`,
  demo: `Usage: ghostwire demo regions [--regions 2|3] [--duration-s N] [--rate N] [--sims N]
                             [--max-move-ms N] [--json] [--log FILE]

Builds 2 or 3 "regions" on this machine — Linux network namespaces joined by veth links with
round-trip delays (2 ms in a region, 40-150 ms between) — each with a gateway, model simulators
and users, then: steady load; the first region's simulators SIGKILLed; the same simulators
restarted. Prints where each region's users were served, requests that failed before streaming
or were cut mid-stream, how fast traffic moved away and back, and /readyz. Needs root; cleans up
every namespace and process it made, also on error and Ctrl-C. Delays use tc netem when the
kernel has it, else a userspace delay link (it says which). See docs/demo-regions.md.

  --regions N        2 or 3 (default 3)
  --duration-s N     seconds per phase (default 6)
  --rate N           requests per second from each region's users (default 30)
  --sims N           simulators per region (default 2)
  --max-move-ms N    failover must reach the users within this (default 1000)
  --json             print the result as JSON instead of a table
  --log FILE         write the run log (every request as its user saw it, /readyz and /stats) as JSON
  -h, --help         show this help

Exit code: 0 every expectation held, 1 one did not (each printed with why) or it cannot run here.
`,
  'check-config': `Usage: ghostwire check-config --config FILE [--json]
                              [--request FILE] [--path P] [-H 'Name: value' ...]
                              [--body JSON | --body-file FILE] [--uid U] [--sku S] [--org O]

Validates a config file as 'serve' would, printing every problem with its path. Given a sample
request, it decodes it as the gateway would and shows which rewrite rules (policy.rules) fire,
in order, and what they make of it: a refusal (status, code, message), or the model it goes to,
the fields changed and the request body after the rules. Nothing is sent anywhere.

  --config FILE      the config file (YAML or JSON)
  --request FILE     a sample request as JSON: {"path", "headers", "body", "user": {uid, sku, org}}
                     (every key optional; the flags below override it)
  --path P           the route (default /v1/engines/<first model>/completions); /v1/completions
                     and /v1/fim/completions pick their protocol from the body as the gateway does
  -H, --header H     a request header, "Name: value" (repeatable): Editor-Version,
                     Editor-Plugin-Version, User-Agent, ...
  --body JSON        the request body
  --body-file FILE   ... or read from a file
  --uid U, --sku S, --org O   the verified user the rules see (as from a gateway token)
  --json             print the result as one JSON object
  -h, --help         show this help

Exit code: 0 the config is valid (whatever the rules decide), 1 the gateway would refuse the sample
request before its rules run (e.g. a body it cannot decode; printed), 2 the config is invalid or
a flag is wrong.
`,
  loadgen: `Usage: ghostwire loadgen [--url URL] [--developers N] [--duration-s S] [--requests N]
                         [--mode developers|rate] [--rate R] [--protocol h2|h1]
                         [--cancel reset|close|never] [--debounce-ms N] [--accept-rate F]
                         [--max-tokens N] [--engine NAME] [--corpus DIR] [--seed N]
                         [--token T | --key K | --config FILE [--uid U]] [--stats-url URL ...]
                         [--json] [--report FILE.html] [--log FILE] [typing flags]

Simulates developers typing through source files in an editor with a Copilot client: one
long-lived connection each, a completion at each pause in typing (the debounce), the request
cancelled when the next key arrives, some completions accepted. Prints a summary at the end:
requests, completions, cancels, errors by code, latency to the first token and at the pause, and
with a simulator's counters the GPU tokens generated and wasted after cancel. With no --url it
starts the embedded default (model simulator + gateway, as 'ghostwire serve' with no flags) in
this process and drives that. Always stops by itself: duration (or --requests), then the drain.

  --url URL          the gateway (http:// = h2c or HTTP/1.1 cleartext, https:// = TLS)
  --developers N     simulated developers, one connection each (default 100)
  --duration-s S     how long they type (default 20)
  --requests N       stop after N requests (whichever comes first)
  --mode M           developers: each fires at its own pauses (default); rate: --rate R
                     completions/s across developers (each still cancels on its next key)
  --rate R           completions per second in rate mode
  --protocol P       h2 (default) or h1 (HTTP/1.1 keep-alive per developer)
  --cancel C         on the next key: reset (RST_STREAM, h2 default), close (close the
                     connection, h1 default), never (let it run: a bad client)
  --debounce-ms N    pause before a completion fires (default 75)
  --accept-rate F    chance a finished completion is accepted (Tab) (default 0.25)
  --max-tokens N     max_tokens of each request (default 64)
  --engine NAME      the engine in /v1/engines/{engine}/completions (default "default")
  --corpus DIR       source files to type through (default: ghostwire's own compiled sources)
  --seed N           typing is the same for the same seed (default 1)
  --token T          a gateway token (Authorization: Bearer T)
  --key K            a key exchanged at /copilot_internal/v2/token (default: $GHOSTWIRE_DEV_KEY)
  --config FILE      mint tokens from the gateway's own config (its signing keys), as --uid U
  --stats-url URL    a model simulator's /stats, read before and after (repeatable)
  --drain-s S        time for requests in flight to finish at the end (default 5)
  --insecure         https: accept any certificate
  --json             print one JSON object instead of the table
  --report FILE      write a self-contained HTML report (histograms, timeline)
  --log FILE         write every request as a JSON line (id, times, outcome)
  -h, --help         show this help

Typing (defaults: Dhakal et al., CHI 2018, 136M keystrokes; pauses assumed):
  --iki-mean-ms N    developers' mean inter-key interval (default 238.66)
  --iki-sd-ms N      its spread across developers (default 111.6)
  --iki-cv F         within one developer, SD / mean of intervals (default 0.5)
  --pause-prob F     chance of a thinking pause after a key (default 0.03)
  --line-pause-prob F  ... after a newline (default 0.3)
  --pause-ms N       mean thinking pause (default 1500)

Exit code: 0 the run completed (errors are in the summary), 1 the target could not be reached,
the key was refused or no request got anywhere, 2 a usage error. See docs/loadgen.md.
`,
} as const;
