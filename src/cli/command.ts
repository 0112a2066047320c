import { parseArgs } from 'util';

/** An option of a verb: its parseArgs type plus the line `--help` prints for it. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  multiple?: boolean;
  short?: string;
  /** Placeholder shown in help, e.g. DIR. */
  arg?: string;
  help: string;
}

export type OptionValues = Record<string, string | boolean | string[] | boolean[] | undefined>;

export interface Command {
  name: string;
  summary: string;
  /** The synopsis after `blip-itm`, e.g. 'score --model DIR --image IMG... --text TXT...'. */
  usage: string;
  options: Record<string, OptionSpec>;
  /** Whether bare words after the options are accepted (e.g. image paths). */
  positionals?: string;
  /** Extra help text printed after the options. */
  details?: string;
  run(args: ParsedArgs): Promise<void>;
}

/** An error in how the command was called: printed with a pointer to --help, exit code 2. */
export class UsageError extends Error {}

export class ParsedArgs {
  constructor(
    readonly values: OptionValues,
    readonly positionals: string[],
    private readonly command: string,
  ) {}

  string(name: string): string | undefined {
    const v = this.values[name];
    return typeof v === 'string' ? v : undefined;
  }

  required(name: string): string {
    const v = this.string(name);
    if (v === undefined) throw new UsageError(`${this.command}: --${name} is required`);
    return v;
  }

  strings(name: string): string[] {
    const v = this.values[name];
    return Array.isArray(v) ? (v as string[]) : typeof v === 'string' ? [v] : [];
  }

  flag(name: string): boolean {
    return this.values[name] === true;
  }

  number(name: string, fallback?: number): number | undefined {
    const v = this.string(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${this.command}: --${name} must be a number, got "${v}"`);
    return n;
  }

  integer(name: string, fallback?: number): number | undefined {
    const n = this.number(name, fallback);
    if (n !== undefined && !Number.isInteger(n)) throw new UsageError(`${this.command}: --${name} must be an integer, got ${n}`);
    return n;
  }

  /** --vision-batch N|auto (BlipItm's visionBatch: images per vision pass). */
  visionBatch(): number | 'auto' | undefined {
    return this.string('vision-batch') === 'auto' ? 'auto' : this.bounded('vision-batch', 1, 4096);
  }

  /** An integer option that must lie in [min, max] (a usage error otherwise). */
  bounded(name: string, min: number, max: number, unit = ''): number | undefined {
    const n = this.integer(name);
    if (n !== undefined && (n < min || n > max)) {
      throw new UsageError(`${this.command}: --${name} must be ${min}..${max}${unit}, got ${n}`);
    }
    return n;
  }
}

/** --vision-batch, for the verbs that encode images in batches (serve, filter). */
export const VISION_BATCH_OPTION: Record<string, OptionSpec> = {
  'vision-batch': {
    type: 'string',
    arg: 'N|auto',
    help: 'images per vision-model pass (default 1; auto: as many as a 1 GiB budget holds; measured no faster on wasm/cpu, see docs/performance.md)',
  },
};

/** Options every verb has. */
export const COMMON_OPTIONS: Record<string, OptionSpec> = {
  help: { type: 'boolean', short: 'h', help: 'show this help' },
  verbose: { type: 'boolean', help: 'print the stack trace of an error' },
};

export const MODEL_OPTIONS: Record<string, OptionSpec> = {
  model: {
    type: 'string',
    arg: 'DIR|HUB_ID',
    help: 'model directory, or a hub id such as Salesforce/blip-itm-base-coco (default: $BLIP_ITM_MODEL)',
  },
  backend: {
    type: 'string',
    arg: 'NAME',
    help: 'auto (default: a hardware GPU via tfjs-node-gpu or WebGPU, else tensorflow, else wasm), webgpu, tensorflow, wasm or cpu',
  },
  threads: {
    type: 'string',
    arg: 'N',
    help: 'wasm threads (default $BLIP_ITM_WASM_THREADS, else every core, at most 8); 1 runs the single-threaded build',
  },
  quiet: { type: 'boolean', short: 'q', help: 'no progress on stderr (it is shown only when stderr is a terminal)' },
  'max-pixels': {
    type: 'string',
    arg: 'N',
    help: "refuse images with more pixels than N, from their header (default $BLIP_ITM_MAX_PIXELS or 178956970, Pillow's)",
  },
};

/**
 * Rewrites argv so that Node's parseArgs reads it as we mean it: the token after an option that
 * takes a value is its value even when it begins with '-' (`--text "-a cat"`, `--layer -1`); a
 * list option takes every following word up to the next option (`--image a.jpg b.jpg`, which
 * is what a shell glob gives), in verbs without bare arguments; a single-value option given
 * twice is an error rather than the last one silently winning.
 */
function normalizeArgv(command: Command, options: Record<string, OptionSpec>, argv: string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const byShort = new Map(
    Object.entries(options)
      .filter(([, o]) => o.short)
      .map(([n, o]) => [o.short as string, n]),
  );
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    if (token === '--') {
      out.push(...argv.slice(i));
      break;
    }
    let name: string | undefined;
    let inline = false;
    if (token.startsWith('--')) {
      const eq = token.indexOf('=');
      name = token.slice(2, eq < 0 ? undefined : eq);
      inline = eq >= 0;
    } else if (/^-[A-Za-z]$/.test(token)) {
      name = byShort.get(token[1]);
    }
    const spec = name === undefined ? undefined : options[name];
    if (!spec || spec.type !== 'string' || name === undefined) {
      out.push(token);
      continue;
    }
    if (!spec.multiple) {
      if (seen.has(name)) throw new UsageError(`${command.name}: --${name} given twice; it takes one value`);
      seen.add(name);
    }
    if (inline) {
      out.push(token);
      continue;
    }
    if (i + 1 >= argv.length) {
      out.push(token);
      continue;
    } // parseArgs names the missing value
    out.push(`--${name}=${argv[++i]}`);
    if (spec.multiple && !command.positionals) {
      while (i + 1 < argv.length && (!argv[i + 1].startsWith('-') || argv[i + 1] === '-')) out.push(`--${name}=${argv[++i]}`);
    }
  }
  return out;
}

export function parse(command: Command, argv: string[]): ParsedArgs {
  const options = { ...COMMON_OPTIONS, ...command.options };
  const config: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {};
  for (const [name, o] of Object.entries(options)) {
    config[name] = { type: o.type, ...(o.multiple ? { multiple: true } : {}), ...(o.short ? { short: o.short } : {}) };
  }
  try {
    const args = normalizeArgv(command, options, argv);
    const { values, positionals } = parseArgs({ args, options: config, allowPositionals: true, strict: true });
    if (positionals.length && !command.positionals && !values.help) {
      throw new UsageError(`${command.name}: unexpected argument "${positionals[0]}"`);
    }
    return new ParsedArgs(values as OptionValues, positionals, command.name);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    // parseArgs' messages name the option; keep its first sentence.
    throw new UsageError(`${command.name}: ${(e as Error).message.split('. ')[0]}`);
  }
}

export function helpText(command: Command): string {
  const options = { ...command.options, ...COMMON_OPTIONS };
  const rows = Object.entries(options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : ''}--${name}${o.arg ? ` ${o.arg}` : ''}${o.multiple ? '...' : ''}`;
    return [flag, o.help];
  });
  const width = Math.max(...rows.map(([f]) => f.length));
  const lines = [`usage: blip-itm ${command.usage}`, '', command.summary, ''];
  if (command.positionals) lines.push(command.positionals, '');
  lines.push('options:', ...rows.map(([f, h]) => `  ${f.padEnd(width)}  ${h}`));
  if (command.details) lines.push('', command.details);
  return lines.join('\n') + '\n';
}
