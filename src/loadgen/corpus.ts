import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One source file developers type through. */
export interface CorpusFile {
  /** Path relative to the corpus directory, as a Copilot prompt names it. */
  readonly path: string;
  readonly text: string;
  /** Copilot's `extra.language` for the file's extension. */
  readonly language: string;
  /** Offsets where a line starts that has something on it (where a developer may start typing). */
  readonly lineStarts: readonly number[];
}

export interface Corpus {
  readonly root: string;
  readonly files: readonly CorpusFile[];
  readonly bytes: number;
}

/** A corpus directory that cannot be used: a usage problem (exit 2), not a crash. */
export class CorpusError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CorpusError';
  }
}

/** Extensions read as source, with the language name Copilot sends for them. */
const LANGUAGES: Readonly<Record<string, string>> = {
  '.ts': 'typescript',
  '.tsx': 'typescriptreact',
  '.mts': 'typescript',
  '.cts': 'typescript',
  '.js': 'javascript',
  '.mjs': 'javascript',
  '.cjs': 'javascript',
  '.jsx': 'javascriptreact',
  '.py': 'python',
  '.go': 'go',
  '.rs': 'rust',
  '.java': 'java',
  '.kt': 'kotlin',
  '.c': 'c',
  '.h': 'c',
  '.cc': 'cpp',
  '.cpp': 'cpp',
  '.hpp': 'cpp',
  '.cs': 'csharp',
  '.rb': 'ruby',
  '.php': 'php',
  '.swift': 'swift',
  '.scala': 'scala',
  '.sh': 'shellscript',
  '.lua': 'lua',
  '.sql': 'sql',
};

/** Directories that are never anyone's source. */
const SKIP_DIRS = new Set(['node_modules', '.git', '.hg', '.svn', '__pycache__', 'target', '.venv']);
/** Bounds, so pointing at a huge tree costs seconds of reading at most. */
const MAX_FILE_BYTES = 256 * 1024;
const MAX_FILES = 5000;
const MAX_TOTAL_BYTES = 64 * 1024 * 1024;
/** A file needs a few lines to type through. */
const MIN_LINES = 3;

/** The package's own compiled sources: always present where ghostwire is installed. */
export function defaultCorpusDir(): string {
  return fileURLToPath(new URL('..', import.meta.url)); // dist/src/
}

/** Reads every source file under `dir` (recursively, bounded); throws CorpusError if none is usable. */
export function loadCorpus(dir: string = defaultCorpusDir()): Corpus {
  const root = resolve(dir);
  let isDir: boolean;
  try {
    isDir = statSync(root).isDirectory();
  } catch {
    throw new CorpusError(`--corpus ${dir}: no such directory`);
  }
  if (!isDir) throw new CorpusError(`--corpus ${dir}: not a directory`);
  const files: CorpusFile[] = [];
  let bytes = 0;
  const walk = (d: string): void => {
    let names: string[];
    try {
      names = readdirSync(d).sort(); // sorted: the same corpus, the same files in the same order (--seed)
    } catch {
      return;
    }
    for (const name of names) {
      if (files.length >= MAX_FILES || bytes >= MAX_TOTAL_BYTES) return;
      const p = join(d, name);
      let st;
      try {
        st = statSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        if (!SKIP_DIRS.has(name) && !name.startsWith('.')) walk(p);
        continue;
      }
      const language = LANGUAGES[extname(name)];
      if (language === undefined || name.endsWith('.d.ts') || st.size === 0 || st.size > MAX_FILE_BYTES)
        continue;
      const text = readFileSync(p, 'utf8').replace(/\r\n/g, '\n');
      if (text.includes('\u0000')) continue; // binary after all
      const lineStarts = typeableLineStarts(text);
      if (lineStarts.length < MIN_LINES) continue;
      files.push({ path: relative(root, p), text, language, lineStarts });
      bytes += text.length;
    }
  };
  walk(root);
  if (files.length === 0)
    throw new CorpusError(
      `--corpus ${dir}: no source files (${Object.keys(LANGUAGES).join(' ')}) of ${MIN_LINES}+ lines`,
    );
  return { root, files, bytes };
}

/** Starts of the lines that are not blank. */
export function typeableLineStarts(text: string): number[] {
  const starts: number[] = [];
  let start = 0;
  while (start < text.length) {
    const end = text.indexOf('\n', start);
    const lineEnd = end === -1 ? text.length : end;
    if (text.slice(start, lineEnd).trim().length > 0) starts.push(start);
    start = lineEnd + 1;
  }
  return starts;
}

/** The line comment a Copilot prompt starts with (`// Path: src/x.ts`), by language. */
export function commentPrefix(language: string): string {
  switch (language) {
    case 'python':
    case 'ruby':
    case 'shellscript':
      return '#';
    case 'lua':
    case 'sql':
      return '--';
    default:
      return '//';
  }
}
