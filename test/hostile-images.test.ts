import { expect } from 'chai';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { ImageDecodeError } from '../src/image';
import { decodeImage } from '../src/node/image';
import { tempDir } from './helpers/tmp';

// Bombs and broken files made by patching small files (test/fixtures/hostile/make_hostile.py),
// with what Pillow does with each (expected.json).
const DIR = path.resolve(__dirname, '../../test/fixtures/hostile');

interface Expected {
  ok: boolean;
  size?: [number, number];
  sha256?: string;
  pillow?: string;
}
const EXPECTED = JSON.parse(fs.readFileSync(path.join(DIR, 'expected.json'), 'utf8')) as Record<string, Expected>;

/** What we say for the files Pillow refuses (Pillow's own words are libjpeg's generic ones). */
const OUR_WORDS: Record<string, RegExp> = {
  'j_bomb_65535.jpg': /65535x65535 = 4294836225 pixels exceeds the 178956970-pixel limit/,
  'j_two_soi.jpg': /two start-of-image \(SOI\) markers/,
  'j_unknown_marker.jpg': /unsupported marker FFF0/,
  'j_sos_bad_component.jpg': /scan refers to component 9, which the frame does not have/,
  'j_prog_bad_al.jpg': /invalid progressive scan parameters \(Ss=\d+, Se=\d+, Ah=\d+, Al=\d+\)/,
  'j_prog_frame_132.jpg': /invalid component ID 3 in SOS/,
  'j_prog_frame_213.jpg': /invalid component ID 2 in SOS/,
  'p_idat_split_gama.png': /image data \(IDAT\) is split by a gAMA chunk/,
  'p_empty_idat.png': /image data \(IDAT\) is empty/,
  'p_truncated_idat.png': /truncated PNG image data: it ends after \d+ of 4640 bytes/,
  'p_bomb_20000.png': /20000x20000 = 400000000 pixels exceeds the 178956970-pixel limit/,
  'p_ztxt_bomb.png': /zTXt text chunk inflates to more than 1 MB/,
  'p_itxt_bomb.png': /iTXt text chunk inflates to more than 1 MB/,
};

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

describe('hostile images: decoded or refused as Pillow / libjpeg-turbo do', () => {
  for (const [name, want] of Object.entries(EXPECTED)) {
    const file = path.join(DIR, name);
    if (want.ok && name !== 'p_stream_short.png') {
      it(`${name}: decoded, pixels identical to Pillow's`, () => {
        const img = decodeImage(file, undefined, { exifTranspose: false });
        expect([img.width, img.height]).to.deep.equal(want.size);
        expect(sha256(img.data)).to.equal(want.sha256);
      });
    } else if (!want.ok) {
      it(`${name}: refused in our words, quickly (Pillow: ${want.pillow?.slice(0, 60)})`, () => {
        const start = Date.now();
        let err: unknown;
        try {
          decodeImage(file);
        } catch (e) {
          err = e;
        }
        expect(err).to.be.instanceOf(ImageDecodeError);
        const msg = (err as Error).message;
        expect(msg.startsWith(`${file}: `), msg).to.equal(true);
        const words = OUR_WORDS[name];
        if (!words) throw new Error(`${name}: Pillow refuses it, but OUR_WORDS has no expected message for it`);
        expect(msg).to.match(words);
        expect(msg).not.to.match(/waitng|out of range|Invalid typed array/);
        expect(Date.now() - start).to.be.below(2000);
      });
    }
  }

  it('p_stream_short.png: a zlib stream that ends before the last row is refused (Pillow fills black)', () => {
    // Pillow decodes this (its ZIP decoder leaves missing rows black); libpng refuses ("Not enough
    // image data"). We refuse: a partly black picture scored silently is the failure the issue names.
    expect(() => decodeImage(path.join(DIR, 'p_stream_short.png'))).to.throw(ImageDecodeError, /truncated PNG image data/);
  });

  it('a truncated IDAT gives the same message on every run', () => {
    const file = path.join(DIR, 'p_truncated_idat.png');
    const messages = new Set<string>();
    for (let i = 0; i < 5; i++) {
      try {
        decodeImage(file);
      } catch (e) {
        messages.add((e as Error).message);
      }
    }
    expect(messages.size).to.equal(1);
  });

  it('the pixel limit is an option and an environment variable, checked before decoding', () => {
    const ok = path.join(DIR, 'p_ok.png');
    expect(() => decodeImage(ok, undefined, { maxPixels: 48 * 32 - 1 })).to.throw(
      ImageDecodeError,
      /1536 pixels exceeds the 1535-pixel limit/,
    );
    expect(decodeImage(ok, undefined, { maxPixels: 48 * 32 }).width).to.equal(48);
    expect(() => decodeImage(path.join(DIR, 'j_ok.jpg'), undefined, { maxPixels: 1000 })).to.throw(ImageDecodeError, /1000-pixel limit/);
    process.env.BLIP_ITM_MAX_PIXELS = '1000';
    try {
      expect(() => decodeImage(ok)).to.throw(ImageDecodeError, /1000-pixel limit/);
    } finally {
      delete process.env.BLIP_ITM_MAX_PIXELS;
    }
    expect(() => decodeImage(ok, undefined, { maxPixels: 0 })).to.throw(RangeError, /maxPixels/);
  });

  it('a large non-image file is refused from its first bytes, without reading it whole', () => {
    const file = path.join(tempDir('blip-itm-hostile-'), 'big.png');
    const fd = fs.openSync(file, 'w');
    fs.ftruncateSync(fd, 2 ** 31); // a sparse 2 GB file of zeros
    fs.closeSync(fd);
    try {
      const start = Date.now();
      expect(() => decodeImage(file)).to.throw(ImageDecodeError, /not a JPEG, PNG, WebP or GIF image/);
      expect(Date.now() - start).to.be.below(500);
    } finally {
      fs.rmSync(path.dirname(file), { recursive: true });
    }
  });
});
