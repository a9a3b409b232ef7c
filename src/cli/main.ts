import { UsageError } from './args.js';
import { HELP } from './help.js';

// Each command is loaded on demand, so a process holds only its own command's modules: `serve`
// runs for months, and everything in its heap is marked again by every full GC.
const COMMANDS: Record<string, (argv: string[], out: NodeJS.WritableStream) => Promise<number>> = {
  serve: async (argv, out) => (await import('./serve.js')).serveCommand(argv, out),
  simulate: async (argv, out) => (await import('./simulate.js')).simulateCommand(argv, out),
  token: async (argv, out) => (await import('./token.js')).tokenCommand(argv, out),
  demo: async (argv, out) => (await import('./demo.js')).demoCommand(argv, out),
  loadgen: async (argv, out) => (await import('./loadgen.js')).loadgenCommand(argv, out),
  'check-config': async (argv, out) => (await import('./check-config.js')).checkConfigCommand(argv, out),
};

/** The `ghostwire` command line. Returns the exit code: 0 ok, 1 runtime failure, 2 usage or config error. */
export async function main(argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    out.write(HELP.main);
    return command === undefined ? 2 : 0;
  }
  const run = COMMANDS[command];
  if (run === undefined) {
    process.stderr.write(`ghostwire: unknown command "${command}"\n\n${HELP.main}`);
    return 2;
  }
  try {
    return await run(rest, out);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(
        `ghostwire ${command}: ${err.message}\nRun 'ghostwire ${command} --help' for usage.\n`,
      );
      return 2;
    }
    throw err;
  }
}
