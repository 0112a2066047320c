import { downloadModel } from '../../hub';
import { Command, UsageError } from '../command';

export const download: Command = {
  name: 'download',
  summary:
    'Fetches a model from the Hugging Face hub into the standard cache (HF_HOME / HF_HUB_CACHE) and prints ' +
    'its local directory. Interrupted downloads resume; every file is checked against its hash.',
  usage: 'download HUB_ID [--revision REV]',
  positionals: 'HUB_ID: e.g. Salesforce/blip-itm-base-coco',
  options: {
    revision: { type: 'string', arg: 'REV', help: 'branch, tag, commit or refs/pr/N (default main)' },
    'cache-dir': { type: 'string', arg: 'DIR', help: 'hub cache directory (default $HF_HUB_CACHE or $HF_HOME/hub)' },
    quiet: { type: 'boolean', help: 'no progress bar' },
  },
  details: 'Environment: HF_ENDPOINT, HF_HOME, HF_HUB_CACHE, HF_TOKEN, HF_HUB_OFFLINE=1.',
  async run(args) {
    if (args.positionals.length !== 1) throw new UsageError('download: give one HUB_ID');
    const dir = await downloadModel(args.positionals[0], {
      revision: args.string('revision'),
      cacheDir: args.string('cache-dir'),
      progress: !args.flag('quiet') && process.stderr.isTTY,
    });
    process.stdout.write(dir + '\n');
  },
};
