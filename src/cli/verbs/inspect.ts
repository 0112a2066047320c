import * as fs from 'fs';
import { addImageFile, addVideoFile, nodeSession, serveInspector } from '../../inspector/server';
import { Command, MODEL_OPTIONS, UsageError } from '../command';
import { loadModel, modelSource, textsFrom } from '../inputs';
import { VIDEO_DECODE_OPTIONS, checkVideoFiles, videoSettings } from '../video';

export const inspect: Command = {
  name: 'inspect',
  summary: 'Starts the inspector: a local web page to explore a match by layer, head and word. Prints its URL first.',
  usage: 'inspect --model DIR|HUB_ID [--image IMG]... [--video V]... [--frames N] [--text TXT]... [--port N] [--host 127.0.0.1]',
  options: {
    ...MODEL_OPTIONS,
    image: {
      type: 'string',
      multiple: true,
      arg: 'IMG',
      help: 'image to preload (JPEG, PNG, WebP or GIF); repeat for several. The page can upload more',
    },
    video: {
      type: 'string',
      multiple: true,
      arg: 'V',
      help: 'video to preload (anything ffmpeg reads), shown as its sampled frames with Grad-CAM per frame; repeat for several',
    },
    ...VIDEO_DECODE_OPTIONS,
    text: { type: 'string', multiple: true, arg: 'TXT', help: 'caption to preload; repeat for several' },
    'texts-file': { type: 'string', arg: 'FILE', help: 'more captions, one per line' },
    port: { type: 'string', arg: 'N', help: 'port to listen on (default 7384; 0 = any free port)' },
    host: { type: 'string', arg: 'ADDR', help: 'address to bind (default 127.0.0.1; anything else exposes the model to your network)' },
  },
  details: [
    "The first line of output is the page's URL; the server runs until interrupted (Ctrl-C).",
    'It answers only requests addressed to its own host name (DNS rebinding protection), reads no',
    'file but the --image and --video files named here, and limits image uploads to 32 MB and 50',
    'megapixels, video uploads to 256 MB, 4096x2160-pixel frames, 18,000 frames and 16 sampled frames.',
  ].join('\n'),
  async run(args) {
    const port = args.integer('port', 7384) as number;
    if (port < 0 || port > 65535) throw new UsageError(`inspect: --port must be 0..65535, got ${port}`);
    const host = args.string('host') ?? '127.0.0.1';
    const images = args.strings('image');
    for (const image of images) {
      if (!fs.existsSync(image)) throw new Error(`${image}: no such file`);
    }
    const videos = args.strings('video');
    const { decoder, frames } = videoSettings(args, 'inspect');
    checkVideoFiles(videos);
    const texts = textsFrom(args);
    const model = await loadModel(args);
    const session = nodeSession(model, modelSource(args), texts);
    try {
      for (const image of images) await addImageFile(session, image);
      for (const video of videos) await addVideoFile(session, video, frames, decoder);
      const running = await serveInspector(session, { host, port });
      process.stdout.write(`${running.url}\n`);
      if (!['127.0.0.1', 'localhost', '::1'].includes(host)) {
        process.stderr.write(`blip-itm: note: listening on ${host}: anyone who can reach it can use the model\n`);
      }
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          running.close().then(resolve, resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    } finally {
      await session.close();
      model.dispose();
    }
  },
};
