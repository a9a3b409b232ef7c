import { UsageError } from './args.js';
import { HELP } from './help.js';
import { serveCommand } from './serve.js';
import { simulateCommand } from './simulate.js';
import { tokenCommand } from './token.js';

const COMMANDS: Record<string, (argv: string[], out: NodeJS.WritableStream) => Promise<number>> = {
  serve: serveCommand,
  simulate: simulateCommand,
  token: tokenCommand,
  // Loaded on demand: the demo's modules add nothing to the other commands' start-up.
  demo: async (argv, out) => (await import('./demo.js')).demoCommand(argv, out),
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
