/** What the balancer knows of a deployment when it scores it. */
export interface LoadInfo {
  /** Requests the gateway has sent it that have not finished. */
  readonly outstanding: number;
  /** Its batch capacity (maxConcurrent). */
  readonly capacity: number;
  readonly weight: number;
  /** Decaying average time to first byte, ms. */
  readonly ttfbMs: number;
}

/**
 * Expected cost of one more request: how fast it answers, stretched by how full its batch is,
 * divided by its weight. A fast deployment keeps winning until its batch fills; a slow one
 * takes the overflow.
 */
export function cost(n: LoadInfo): number {
  return ((n.ttfbMs + 1) * (1 + n.outstanding / n.capacity)) / n.weight;
}

/**
 * Power of two choices: two distinct candidates drawn with probability proportional to weight,
 * the cheaper one wins (ties to the first draw). Near-best choices at O(1) cost, and it does not
 * herd every gateway instance onto the one deployment that looked best a moment ago.
 * `nodes` are the candidates already filtered for health and capacity.
 */
export function powerOfTwo<T extends LoadInfo>(nodes: readonly T[], random: () => number): T | undefined {
  const n = nodes.length;
  if (n <= 1) return nodes[0];
  let total = 0;
  for (const node of nodes) total += node.weight;
  const a = drawWeighted(nodes, total, -1, random);
  const first = nodes[a] as T;
  const b = drawWeighted(nodes, total - first.weight, a, random);
  const second = nodes[b] as T;
  return cost(second) < cost(first) ? second : first;
}

/** An index drawn in proportion to weight, skipping `skip` (whose weight `total` already excludes). */
function drawWeighted<T extends LoadInfo>(
  nodes: readonly T[],
  total: number,
  skip: number,
  random: () => number,
): number {
  let r = random() * total;
  let last = -1;
  for (let i = 0; i < nodes.length; i++) {
    if (i === skip) continue;
    last = i;
    r -= (nodes[i] as T).weight;
    if (r < 0) return i;
  }
  return last; // rounding at the top end
}
