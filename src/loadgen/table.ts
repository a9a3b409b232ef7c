import type { LoadgenResult } from './result.js';
import type { Summary } from './summary-stats.js';

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const pct = (n: number, of: number): string => (of > 0 ? `${((100 * n) / of).toFixed(1)}%` : '—');
const ms = (v: number | null): string => (v === null ? '—' : v >= 100 ? v.toFixed(0) : v.toFixed(1));

/** The summary printed at the end of a run (a plain-text table; --json prints the result instead). */
export function renderTable(r: LoadgenResult): string {
  const lines: string[] = [];
  const how =
    r.mode === 'rate'
      ? `${int(r.developers)} developers typing, ${r.rate} completions/s`
      : `${int(r.developers)} developers typing`;
  lines.push(
    `ghostwire loadgen: ${how} for ${r.sending_s.toFixed(1)} s over ${r.protocol === 'h2' ? 'HTTP/2' : 'HTTP/1.1'} ` +
      `(cancel: ${r.cancel}), target ${r.target}${r.embedded ? ' (embedded simulator + gateway)' : ''}`,
  );
  lines.push('');
  const row = (label: string, value: string, rest = ''): void => {
    lines.push(`  ${label.padEnd(24)}${value.padStart(10)}${rest === '' ? '' : `   ${rest}`}`);
  };
  row('requests', int(r.requests), `${r.throughput.requests_per_s.toFixed(1)}/s`);
  row(
    'completed',
    int(r.completed),
    `${r.throughput.completions_per_s.toFixed(1)}/s, ${pct(r.completed, r.requests)}`,
  );
  row(
    'cancelled by client',
    int(r.cancelled.total),
    `${pct(r.cancelled.total, r.requests)} (reset ${int(r.cancelled.reset)}, close ${int(r.cancelled.close)})`,
  );
  row('superseded', int(r.superseded), 'ended by the gateway for a newer request');
  if (r.cancel === 'never') row('stale', int(r.stale), 'completed after the developer typed on');
  const codes = Object.entries(r.errors.by_code)
    .slice(0, 6)
    .map(([code, n]) => `${code} ${int(n)}`)
    .join(', ');
  row('errors', int(r.errors.total), codes);
  if ((r.errors.by_code['GW_TOKEN_MISSING'] ?? 0) > 0)
    lines.push(
      `  ${''.padEnd(34)}   (the gateway wants a token: --key, --token or --config, or set GHOSTWIRE_DEV_KEY)`,
    );
  if (r.unfinished > 0) row('unfinished at the end', int(r.unfinished), 'cut after the drain time');
  row('shown', int(r.shown), 'finished before the next key');
  row('accepted', int(r.accepted), `${pct(r.accepted, r.shown)} of shown`);
  row('keys typed', int(r.keys));
  lines.push('');
  lines.push(
    `  ${'latency, ms'.padEnd(24)}${['p50', 'p90', 'p99', 'max'].map((h) => h.padStart(9)).join('')}`,
  );
  const lat = (label: string, s: Summary | null, note: string): void => {
    if (s === null) return;
    const cells = [s.p50, s.p90, s.p99, s.max].map((v) => ms(v).padStart(9)).join('');
    lines.push(`  ${label.padEnd(24)}${cells}   ${note} (n ${int(s.count)})`);
  };
  lat('first token', r.latency_ms.first_token, 'sent → first token');
  lat('completion', r.latency_ms.completion, 'sent → end of stream');
  lat('at the pause', r.latency_ms.at_pause, `last key → first token, debounce ${r.debounce_ms} ms included`);
  lat('cancelled after', r.latency_ms.cancel_age, 'sent → cancelled by the client');
  const g = r.gpu;
  if (g !== null) {
    lines.push('');
    lines.push(`  GPU: ${g.sources.join(', ')}, counters over the run`);
    row('requests', int(g.requests), `completed ${int(g.completed)}, cancelled ${int(g.cancelled)}`);
    row('tokens generated', int(g.tokens_generated));
    row(
      'after cancel (wasted)',
      int(g.tokens_after_cancel),
      `${pct(g.tokens_after_cancel, g.tokens_generated)} of tokens`,
    );
    if (g.client_cancels > 0) {
      row(
        'cancels seen by GPU',
        int(g.joined),
        `of ${int(g.client_cancels)} client cancels (${pct(g.joined, g.client_cancels)})` +
          (g.joined < g.client_cancels ? '; the rest never reached it or had already finished there' : ''),
      );
      lat('cancel → GPU stopped', g.cancel_to_upstream_ms, 'client cancel → simulator noticed');
      lat('age at the GPU', g.cancel_age_ms, 'arrival → noticed the cancel');
    }
    for (const u of g.unreadable) lines.push(`  (not read: ${u})`);
  }
  if (r.records_dropped > 0)
    lines.push(
      `\n  (${int(r.records_dropped)} requests not kept one by one: --log and the cancel join cover the first ones)`,
    );
  return `${lines.join('\n')}\n`;
}
