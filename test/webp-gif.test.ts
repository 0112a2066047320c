import { expect } from 'chai';
import { createHash } from 'crypto';
import * as fs from 'fs';
import { decodeImage } from '../src/node/image';
import { ImageDecodeError } from '../src/image/types';
import { fixture } from './helpers/fixtures';

const DIR = fixture('images-webp-gif');

describe('WebP (libwebp wasm) and the first frame of a GIF give Pillow 12.3 / libwebp 1.6 pixels', () => {
  const { files } = JSON.parse(fs.readFileSync(fixture('images-webp-gif', 'expected.json'), 'utf8')) as {
    files: Record<string, { width: number; height: number; sha256: string }>;
  };
  for (const [name, want] of Object.entries(files)) {
    it(name, () => {
      const image = decodeImage(fixture('images-webp-gif', name));
      expect([image.width, image.height]).to.deep.equal([want.width, want.height]);
      expect(createHash('sha256').update(image.data).digest('hex')).to.equal(want.sha256);
    });
  }

  it('applies the pixel limit from the header, and names a corrupt file', () => {
    const lossy = fs.readFileSync(`${DIR}/lossy.webp`);
    expect(() => decodeImage(lossy, 'x.webp', { maxPixels: 100 })).to.throw(
      ImageDecodeError,
      /x\.webp: image of 61x47 = 2867 pixels exceeds the 100-pixel limit/,
    );
    const gif = fs.readFileSync(`${DIR}/animated.gif`);
    expect(() => decodeImage(gif, 'x.gif', { maxPixels: 100 })).to.throw(ImageDecodeError, /x\.gif: image of 61x47/);
    const broken = Buffer.from(lossy.subarray(0, 200));
    expect(() => decodeImage(broken, 'cut.webp')).to.throw(ImageDecodeError, /cut\.webp: corrupt or truncated WebP/);
  });
});
