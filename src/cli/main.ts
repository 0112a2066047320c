import { usePlatform } from '../model/platform';
import { BACKENDS } from '../node/backend';
import { nodePlatform } from '../node/platform';
import { Command, ParsedArgs, UsageError, helpText, parse } from './command';
import { quietOnClosedPipe } from './io';
import { convert } from './verbs/convert';
import { download } from './verbs/download';
import { bench } from './verbs/bench';
import { dump } from './verbs/dump';
import { explain } from './verbs/explain';
import { filter } from './verbs/filter';
import { indexCommand } from './verbs/index-cmd';
import { inspect } from './verbs/inspect';
import { installNative } from './verbs/install-native';
import { evalCommand } from './verbs/eval';
import { rank } from './verbs/rank';
import { search } from './verbs/search';
import { parity } from './verbs/parity';
import { preprocess } from './verbs/preprocess';
import { score } from './verbs/score';
import { serve } from './verbs/serve';
import { tokenize } from './verbs/tokenize';

const COMMANDS: Command[] = [
  score,
  rank,
  indexCommand,
  search,
  evalCommand,
  filter,
  explain,
  inspect,
  serve,
  dump,
  parity,
  bench,
  tokenize,
  preprocess,
  convert,
  download,
  installNative,
];

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'usage: blip-itm COMMAND [options]',
    '',
    'BLIP image-text matching (Salesforce/blip-itm-base-coco) on TensorFlow.js.',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary.split('. ')[0].replace(/\.$/, '')}`),
    '',
    "Run `blip-itm COMMAND --help` for a command's options; `blip-itm --version` prints the version.",
    '',
  ].join('\n');
}

/** The unknown-command line, suggesting the nearest command name when one is close (a typo). */
function unknownCommand(name: string): string {
  const near = COMMANDS.map((c) => ({ name: c.name, d: editDistance(name, c.name) })).sort((a, b) => a.d - b.d)[0];
  const hint = near && near.d <= Math.max(1, Math.floor(near.name.length / 3)) ? `; did you mean "${near.name}"?` : '';
  return `blip-itm: unknown command "${name}"${hint} (see blip-itm --help)\n`;
}

/** Levenshtein distance with adjacent transpositions counted as one edit ("scroe" → "score"). */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** Runs the CLI; resolves to the process exit code. Errors print one line (the stack with --verbose). */
export async function main(argv: string[]): Promise<number> {
  // TensorFlow (tfjs-node) prints start-up info lines at level 0; the CLI hides them unless the
  // user set the level. The library leaves its host's environment alone.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '1';
  quietOnClosedPipe();
  return runCommand(argv);
}

/** main() without the process-wide settings (a closed pipe's exit, TensorFlow's log level): what tests run in-process. */
export async function runCommand(argv: string[]): Promise<number> {
  usePlatform(nodePlatform); // the CLI is a Node entry point: models from files and the hub
  const [name, ...rest] = argv;
  if (name === 'help' && rest.length) {
    const wanted = COMMANDS.find((c) => c.name === rest[0]);
    if (wanted) {
      process.stdout.write(helpText(wanted));
      return 0;
    }
    process.stderr.write(unknownCommand(rest[0]));
    return 2;
  }
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(mainHelp());
    return name ? 0 : 2;
  }
  if (name === '--version') {
    process.stdout.write(`${require('../../../package.json').version}\n`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(unknownCommand(name));
    return 2;
  }
  const verbose = rest.includes('--verbose');
  try {
    const args = parse(command, rest);
    if (args.flag('help')) {
      process.stdout.write(helpText(command));
      return 0;
    }
    checkSharedOptions(args, command.name);
    await command.run(args);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    const err = e as Error;
    const usage = e instanceof UsageError;
    process.stderr.write(`blip-itm: ${err.message}${usage ? ` (see blip-itm ${name} --help)` : ''}\n`);
    if (verbose && err.stack) process.stderr.write(err.stack + '\n');
    return usage ? 2 : 1;
  }
}

/** Options several verbs share, checked before any work so that a bad value is a usage error (exit 2). */
function checkSharedOptions(args: ParsedArgs, verb: string): void {
  const backend = args.string('backend');
  if (backend !== undefined && !(BACKENDS as readonly string[]).includes(backend)) {
    throw new UsageError(`${verb}: --backend must be ${BACKENDS.join(', ')}, got "${backend}"`);
  }
  args.bounded('max-length', 1, 1 << 20);
  const maxPixels = args.bounded('max-pixels', 1, Number.MAX_SAFE_INTEGER);
  // The decoders read the limit from the environment, so every verb (and the library calls
  // they make) sees it.
  if (maxPixels !== undefined) process.env.BLIP_ITM_MAX_PIXELS = String(maxPixels);
}
