// Preloaded (`node --expose-gc --import <this file>`) into a proxy the connection-scale benchmark
// measures, so its V8 heap can be read from outside without changing what it does: on SIGUSR2 it
// runs a full GC (so garbage not yet collected does not count as memory held) and prints one line,
// `HEAP_PROBE_MARKER {…process.memoryUsage()…}`, on stdout. Nothing else runs: no timer, no socket.
// Neither ghostwire serve nor the naive proxy uses SIGUSR2.
export const HEAP_PROBE_MARKER = 'ghostwire-bench-heap';

/** What the probe prints, in bytes. */
export interface HeapReport {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

const gc = (globalThis as { gc?: () => void }).gc;
// Only in a process started with this file as --import, never when a test imports the marker.
if (process.execArgv.some((a) => a.includes('heap-probe'))) {
  process.on('SIGUSR2', function reportHeap() {
    gc?.();
    const m = process.memoryUsage();
    const report: HeapReport = {
      rss: m.rss,
      heapUsed: m.heapUsed,
      heapTotal: m.heapTotal,
      external: m.external,
      arrayBuffers: m.arrayBuffers,
    };
    process.stdout.write(`${HEAP_PROBE_MARKER} ${JSON.stringify(report)}\n`);
  });
}
