import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

/** Editors save in bursts (truncate, write, rename): one reload after the burst settles. */
const SETTLE_MS = 250;

/**
 * Calls `onChange` when the config file's contents change. Watches the file's directory, not the
 * file: editors and Kubernetes ConfigMaps replace the file (a rename, a symlink swap) rather
 * than write into it, which a watch on the file itself stops seeing. A burst of events makes one
 * call, and only when the bytes differ from the last ones seen (touching the file, or a swap
 * that keeps the contents, reloads nothing). Returns the function that stops watching.
 */
export async function watchConfigFile(file: string, onChange: () => void): Promise<() => void> {
  const name = path.basename(file);
  let last = await digest(file);
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined = watch(path.dirname(file), { persistent: false }, (_event, changed) => {
    // Linux names the entry that changed; a ConfigMap swap changes `..data`, not the file's name.
    if (changed !== null && changed !== name && !changed.startsWith('..')) return;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      void digest(file).then((now) => {
        // A file gone for a moment (replaced by rename) is not a change: wait for the new one.
        if (now === undefined || now === last || watcher === undefined) return;
        last = now;
        onChange();
      });
    }, SETTLE_MS);
  });
  watcher.on('error', () => {
    // The directory went away: nothing more to watch; SIGHUP still reloads.
    watcher?.close();
    watcher = undefined;
  });
  return () => {
    if (timer !== undefined) clearTimeout(timer);
    watcher?.close();
    watcher = undefined;
  };
}

async function digest(file: string): Promise<string | undefined> {
  try {
    return createHash('sha256')
      .update(await readFile(file))
      .digest('hex');
  } catch {
    return undefined;
  }
}
