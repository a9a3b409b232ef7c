import type { LoadInfo } from './balancer.js';

/** A deployment as affinity sees it: its load and a fixed per-name seed. */
export interface AffinityNode extends LoadInfo {
  readonly seed: number;
}

/** FNV-1a over a string's UTF-16 code units, continuing from `h`: cheap and well spread for keys. */
export function fnv1a(s: string, h = 0x811c9dc5, maxChars = s.length): number {
  const n = Math.min(s.length, maxChars);
  for (let i = 0; i < n; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** murmur3's finaliser: every input bit moves every output bit. */
export function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/**
 * The affinity key of a request, or undefined when it has none. An explicit affinity header wins;
 * otherwise the editor session (Copilot's VScode-SessionId) plus the first characters of the
 * prompt, which name the file (Copilot prompts open with its path and imports). It needs only a
 * header and the prompt string the validator already holds: no further parse of the body.
 */
export function affinityKey(
  explicit: string | undefined,
  session: string | undefined,
  prompt: string | undefined,
  promptChars: number,
): number | undefined {
  if (explicit !== undefined && explicit.length > 0) return fnv1a(explicit, 0x811c9dc5, 256);
  if (session === undefined && (prompt === undefined || promptChars === 0)) return undefined;
  let h = session === undefined ? 0x811c9dc5 : fnv1a(session, 0x811c9dc5, 128);
  if (prompt !== undefined) h = fnv1a(prompt, h, promptChars);
  return h;
}

/**
 * Weighted rendezvous hashing with bounded loads: every deployment scores the key, highest
 * wins, so a key keeps its deployment while the set is stable and only the keys of a deployment
 * that leaves move. A deployment whose load (counting this request) would exceed `loadFactor` ×
 * its capacity-weighted share of all outstanding requests, rounded up, is passed over for the next in the key's order (Mirrokni et
 * al., "Consistent Hashing with Bounded Loads"), so a hot session or file cannot overload one
 * replica. `nodes` are already filtered for health and capacity.
 */
export function affinityPick<T extends AffinityNode>(
  nodes: readonly T[],
  key: number,
  loadFactor: number,
): T | undefined {
  const n = nodes.length;
  if (n <= 1) return nodes[0];
  let outstanding = 1; // this request
  let capacity = 0;
  for (const node of nodes) {
    outstanding += node.outstanding;
    capacity += node.capacity;
  }
  // Each node's share of the load, rounded up as in the paper, so some node always fits.
  const perCapacity = (loadFactor * outstanding) / capacity;
  // Walk the key's preference order best-first without sorting: each pass takes the best score
  // below the previous one. n is small (the replicas of one model in one region).
  let ceiling = Infinity;
  for (let pass = 0; pass < n; pass++) {
    let best: T | undefined;
    let bestScore = -Infinity;
    for (const node of nodes) {
      const s = score(key, node);
      if (s < ceiling && s > bestScore) {
        bestScore = s;
        best = node;
      }
    }
    if (best === undefined) return undefined;
    // +1: with only a few requests in flight the rounded share is 1 or 2, and without slack
    // about a tenth of keyed requests left their deployment (and its cache) for nothing.
    if (best.outstanding + 1 <= Math.ceil(perCapacity * best.capacity) + 1) return best;
    ceiling = bestScore;
  }
  return undefined;
}

/** Weighted rendezvous score: -w / ln(u), u uniform in (0,1) from the key and the node's seed. */
function score(key: number, node: AffinityNode): number {
  const u = (mix32(key ^ node.seed) + 1) / 4294967297;
  return -node.weight / Math.log(u);
}
