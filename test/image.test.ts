import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import {
  ImageDecodeError,
  RgbImage,
  applyOrientation,
  decodeImage,
  exifOrientation,
  preprocessToTensors,
  resizeBicubic,
  xmpOrientation,
} from '../src/image';
import { NodeImageProcessor as ImageProcessor } from '../src/node/image';
import { RawTensor } from '../src/weights/raw-tensor';
import { readAllSafetensors, writeSafetensors } from '../src/node/safetensors';
import { tempDir } from './helpers/tmp';

const FIX = path.resolve(__dirname, '../../test/fixtures');
const IMAGES = path.join(FIX, 'images');
const EXTRA = path.join(FIX, 'images-extra');
const TINY = path.join(FIX, 'blip-itm-tiny');

interface Diff {
  max: number;
  mean: number;
  count: number;
}

function diff(a: ArrayLike<number>, b: ArrayLike<number>): Diff {
  expect(a.length, 'lengths differ').to.equal(b.length);
  let max = 0;
  let sum = 0;
  let count = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (d > max) max = d;
    if (d) count++;
    sum += d;
  }
  return { max, mean: sum / a.length, count };
}

function show(d: Diff): string {
  return `max ${d.max}, mean ${d.mean.toFixed(6)}, ${d.count} values differ`;
}

function loadRef(file: string): { t: Map<string, RawTensor>; files: string[] } {
  const { tensors, metadata } = readAllSafetensors(file);
  return { t: tensors, files: JSON.parse(metadata.files) as string[] };
}

/** Expects an ImageDecodeError whose message names `source` and matches `problem`. */
function expectError(fn: () => unknown, source: string, problem: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'no error thrown').to.be.instanceOf(Error);
  const msg = (err as Error).message;
  expect(msg).to.include(source);
  expect(msg).to.match(problem);
}

let tmp: string;
before(() => {
  tmp = tempDir('blip-image-');
});
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function tmpFile(name: string, data: Uint8Array): string {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, data);
  return f;
}

describe('image: transformers reference (images-384.safetensors)', () => {
  const { t, files } = loadRef(path.join(FIX, 'reference/images-384.safetensors'));
  const proc = ImageProcessor.fromDir(TINY, { size: 384 });

  files.forEach((f, i) => {
    it(`${f}: resized integers equal Pillow's`, () => {
      const { resized, pixelValues, shape } = proc.preprocess([path.join(IMAGES, f)]);
      expect(shape).to.deep.equal([1, 3, 384, 384]);
      const d = diff(resized[0].data, t.get(`resized.${i}`)!.data);
      if (f.endsWith('.jpg')) {
        // Our decoder reproduces libjpeg-turbo (islow IDCT, fancy upsampling, fixed-point colour).
        console.log(`      ${f} vs Pillow (libjpeg-turbo), resized 384x384: ${show(d)}`);
      }
      expect(d.max, show(d)).to.equal(0);
      const pv = t.get(`pixel_values.${i}`);
      if (pv) {
        const dp = diff(pixelValues, pv.data);
        expect(dp.max, show(dp)).to.be.at.most(1e-5);
        expect(dp.max, 'float32 arithmetic is meant to be bit-exact').to.equal(0);
      }
    });
  });
});

describe('image: generated cases (images-extra, 64x64 and 224x224)', () => {
  const ref64 = loadRef(path.join(EXTRA, 'extra-64.safetensors'));
  const proc64 = ImageProcessor.fromDir(TINY);

  ref64.files.forEach((f, i) => {
    it(`${f}: exact at 64x64${ref64.t.has(`decoded.${i}`) ? ', and at full size' : ''}`, () => {
      const file = path.join(EXTRA, f);
      const decoded = ref64.t.get(`decoded.${i}`);
      if (decoded) {
        const img = decodeImage(file);
        expect([img.height, img.width, 3]).to.deep.equal(decoded.shape);
        const d = diff(img.data, decoded.data);
        expect(d.max, `full-size decode: ${show(d)}`).to.equal(0);
      }
      const { resized, pixelValues } = proc64.preprocess([file]);
      const d = diff(resized[0].data, ref64.t.get(`resized.${i}`)!.data);
      expect(d.max, show(d)).to.equal(0);
      const pv = ref64.t.get(`pixel_values.${i}`);
      if (pv) expect(diff(pixelValues, pv.data).max).to.be.at.most(1e-5);
    });
  });

  const ref224 = loadRef(path.join(EXTRA, 'extra-224.safetensors'));
  const proc224 = ImageProcessor.fromDir(TINY, { size: 224 });
  ref224.files.forEach((f, i) => {
    it(`${f}: exact at 224x224`, () => {
      const { resized } = proc224.preprocess([path.join(EXTRA, f)]);
      const d = diff(resized[0].data, ref224.t.get(`resized.${i}`)!.data);
      expect(d.max, show(d)).to.equal(0);
    });
  });

  it('stretches to the square size, never crops (640x16 strip with red and blue ends)', () => {
    const { resized } = proc224.preprocess([path.join(EXTRA, 'p_640x16.png')]);
    const r = resized[0];
    const px = (x: number, y: number) => Array.from(r.data.subarray((y * r.width + x) * 3, (y * r.width + x) * 3 + 3));
    for (const y of [0, 111, 223]) {
      const [lr, lg, lb] = px(0, y);
      const [rr, rg, rb] = px(223, y);
      expect(lr > 200 && lg < 60 && lb < 60, `left end red at row ${y}`).to.equal(true);
      expect(rb > 200 && rr < 60 && rg < 60, `right end blue at row ${y}`).to.equal(true);
    }
  });

  it('upscales a 7x3 image: 384x384 out, and 224x224 equal to Pillow', () => {
    const src = decodeImage(path.join(EXTRA, 'p_7x3.png'));
    const out = resizeBicubic(src, 384, 384);
    expect([out.width, out.height]).to.deep.equal([384, 384]);
    const ref = ref224.t.get(`resized.${ref224.files.indexOf('p_7x3.png')}`)!;
    expect(diff(resizeBicubic(src, 224, 224).data, ref.data).max).to.equal(0);
  });

  it('ignores EXIF orientation on request (what Image.open + convert gives)', () => {
    const upright = decodeImage(path.join(EXTRA, 'jexif6.jpg'));
    const stored = decodeImage(path.join(EXTRA, 'jexif6.jpg'), undefined, { exifTranspose: false });
    expect([upright.width, upright.height]).to.deep.equal([83, 121]);
    expect([stored.width, stored.height]).to.deep.equal([121, 83]);
    expect(diff(applyOrientation(stored, 6).data, upright.data).max).to.equal(0);
  });
});

describe('image: inputs', () => {
  const file = path.join(EXTRA, 'p_rgba8_i.png');

  it('bytes and Buffers decode like the file', () => {
    const a = decodeImage(file);
    const bytes = fs.readFileSync(file);
    expect(diff(decodeImage(bytes).data, a.data).max).to.equal(0);
    expect(diff(decodeImage(new Uint8Array(bytes)).data, a.data).max).to.equal(0);
  });

  it('raw pixels: RGB as is, RGBA alpha dropped, gray and gray+alpha replicated', () => {
    const rgb = decodeImage(path.join(EXTRA, 'j420.jpg'));
    const n = rgb.width * rgb.height;
    const raw3 = decodeImage({ data: rgb.data, width: rgb.width, height: rgb.height, channels: 3 });
    expect(diff(raw3.data, rgb.data).max).to.equal(0);
    const rgba = new Uint8ClampedArray(n * 4);
    for (let i = 0; i < n; i++) {
      rgba.set(rgb.data.subarray(i * 3, i * 3 + 3), i * 4);
      rgba[i * 4 + 3] = i % 256;
    }
    expect(diff(decodeImage({ data: rgba, width: rgb.width, height: rgb.height, channels: 4 }).data, rgb.data).max).to.equal(0);
    const gray = Uint8Array.from({ length: 6 }, (_, i) => i * 40);
    expect(Array.from(decodeImage({ data: gray, width: 3, height: 2, channels: 1 }).data)).to.deep.equal([
      0, 0, 0, 40, 40, 40, 80, 80, 80, 120, 120, 120, 160, 160, 160, 200, 200, 200,
    ]);
    const la = Uint8Array.from([10, 255, 20, 0]);
    expect(Array.from(decodeImage({ data: la, width: 2, height: 1, channels: 2 }).data)).to.deep.equal([10, 10, 10, 20, 20, 20]);
  });

  it('raw pixels through the processor equal the file through it', () => {
    const proc = ImageProcessor.fromDir(TINY);
    const rgb = decodeImage(path.join(EXTRA, 'j420.jpg'));
    const a = proc.preprocess([path.join(EXTRA, 'j420.jpg')]);
    const b = proc.preprocess([{ data: rgb.data, width: rgb.width, height: rgb.height, channels: 3 }]);
    expect(diff(a.pixelValues, b.pixelValues).max).to.equal(0);
  });

  it('a batch stacks [N, 3, H, W] in order', () => {
    const proc = ImageProcessor.fromDir(TINY);
    const files = ['j420.jpg', 'p_gray16.png', 'jcmyk.jpg'].map((f) => path.join(EXTRA, f));
    const batch = proc.preprocess(files);
    expect(batch.shape).to.deep.equal([3, 3, 64, 64]);
    files.forEach((f, i) => {
      const one = proc.preprocess([f]).pixelValues;
      expect(diff(batch.pixelValues.subarray(i * one.length, (i + 1) * one.length), one).max).to.equal(0);
    });
  });
});

describe('image: errors name the file and the problem', () => {
  const jpeg = fs.readFileSync(path.join(EXTRA, 'j420.jpg'));
  const pngBytes = fs.readFileSync(path.join(EXTRA, 'p_rgb16.png'));

  it('missing file, directory, empty file, empty buffer', () => {
    expectError(() => decodeImage(path.join(tmp, 'nope.jpg')), 'nope.jpg', /no such file/);
    expectError(() => decodeImage(tmp), tmp, /directory/);
    expectError(() => decodeImage(tmpFile('empty.png', new Uint8Array(0))), 'empty.png', /empty file/);
    expectError(() => decodeImage(new Uint8Array(0)), 'image buffer', /empty/);
    expectError(() => decodeImage(new Uint8Array(0), 'upload.jpg'), 'upload.jpg', /empty/);
  });

  it('truncated JPEG: no partly black image', () => {
    const f = tmpFile('half.jpg', jpeg.subarray(0, jpeg.length >> 1));
    expectError(() => decodeImage(f), 'half.jpg', /truncated JPEG/);
    // Only the EOI missing: every row is there, libjpeg-turbo decodes it (test/hostile-images.test.ts).
    expect(decodeImage(jpeg.subarray(0, jpeg.length - 2)).width).to.equal(decodeImage(jpeg).width);
    expectError(() => decodeImage(jpeg.subarray(0, 300), 'cut.jpg'), 'cut.jpg', /truncated JPEG/);
    expectError(() => decodeImage(jpeg.subarray(0, 4), 'head.jpg'), 'head.jpg', /truncated JPEG/);
  });

  it('truncated and corrupt PNG', () => {
    expectError(() => decodeImage(tmpFile('half.png', pngBytes.subarray(0, pngBytes.length >> 1))), 'half.png', /truncated PNG/);
    expectError(() => decodeImage(pngBytes.subarray(0, 20), 'hdr.png'), 'hdr.png', /truncated PNG/);
    // Damage inside the compressed data (CRC of IDAT is not checked, as in Pillow): zlib fails.
    const bad = Buffer.from(pngBytes);
    const idat = bad.indexOf('IDAT');
    for (let i = idat + 20; i < idat + 60; i++) bad[i] ^= 0xa5;
    expectError(() => decodeImage(bad, 'bad.png'), 'bad.png', /corrupt PNG image data/);
    const crc = Buffer.from(pngBytes);
    crc[29] ^= 1; // the IHDR's CRC
    expectError(() => decodeImage(crc, 'crc.png'), 'crc.png', /bad CRC in the IHDR chunk/);
  });

  it('unsupported formats say which format was detected', () => {
    expectError(() => decodeImage(path.join(EXTRA, 'not-bmp.bmp')), 'not-bmp.bmp', /unsupported image format BMP/);
    expectError(() => decodeImage(Buffer.from('hello, not an image')), 'image buffer', /not a JPEG, PNG, WebP or GIF image/);
    const lossless = Buffer.from(jpeg);
    lossless[lossless.indexOf(Buffer.from([0xff, 0xc0]), 2) + 1] = 0xc7; // SOF7: differential lossless (libjpeg refuses it too)
    expectError(() => decodeImage(lossless, 'diff.jpg'), 'diff.jpg', /differential lossless/);
  });

  it('zero-size images', () => {
    const z = Buffer.from(jpeg);
    const sof = z.indexOf(Buffer.from([0xff, 0xc0]), 2);
    z[sof + 5] = 0;
    z[sof + 6] = 0; // height 0
    expectError(() => decodeImage(z, 'zero.jpg'), 'zero.jpg', /zero-size image/);
    const p = Buffer.from(pngBytes);
    p.writeUInt32BE(0, 16); // IHDR width 0
    p.writeUInt32BE(zlib.crc32(p.subarray(12, 29)), 29);
    expectError(() => decodeImage(p, 'zero.png'), 'zero.png', /zero-size image/);
    expectError(() => decodeImage({ data: new Uint8Array(0), width: 0, height: 5, channels: 3 }), 'raw image', /zero-size/);
  });

  it('bad raw pixels', () => {
    expectError(() => decodeImage({ data: new Uint8Array(5), width: 2, height: 1, channels: 3 }), 'raw image', /5 bytes/);
    expectError(() => decodeImage({ data: new Uint8Array(5), width: 5, height: 1, channels: 5 as 3 }, 'px'), 'px', /channels/);
  });

  it('a bad image in a batch is named by its index', () => {
    const proc = ImageProcessor.fromDir(TINY);
    expectError(() => proc.preprocess([path.join(EXTRA, 'j420.jpg'), new Uint8Array(0)]), 'image 1 (buffer)', /empty/);
  });

  it('errors are ImageDecodeError', () => {
    expect(() => decodeImage(new Uint8Array(0))).to.throw(ImageDecodeError);
  });
});

describe('image: processor config', () => {
  it('reads preprocessor_config.json; size override', () => {
    const p = ImageProcessor.fromDir(TINY);
    expect(p.config).to.include({ width: 64, height: 64, doResize: true, doRescale: true, doNormalize: true, resample: 3 });
    expect(p.config.mean).to.deep.equal([0.48145466, 0.4578275, 0.40821073]);
    expect(ImageProcessor.fromDir(TINY, { size: 384 }).config).to.include({ width: 384, height: 384 });
  });

  it('clear errors for a missing or invalid preprocessor_config.json and unsupported options', () => {
    const missing = path.join(tmp, 'no-model');
    fs.mkdirSync(missing, { recursive: true });
    expect(() => ImageProcessor.fromDir(missing)).to.throw(/preprocessor_config\.json: missing/);
    const bad = path.join(tmp, 'bad-model');
    fs.mkdirSync(bad, { recursive: true });
    fs.writeFileSync(path.join(bad, 'preprocessor_config.json'), '{ nope');
    expect(() => ImageProcessor.fromDir(bad)).to.throw(/bad-model.*preprocessor_config\.json: invalid JSON/);
    fs.writeFileSync(path.join(bad, 'preprocessor_config.json'), JSON.stringify({ resample: 0 }));
    expect(() => ImageProcessor.fromDir(bad)).to.throw(/preprocessor_config\.json: "resample": NEAREST \(0\) is not implemented/);
    expect(() => ImageProcessor.fromConfig({ size: { shortest_edge: 224 } })).to.throw(/not supported/);
  });

  it("defaults are BlipImageProcessor's", () => {
    const p = ImageProcessor.fromConfig({});
    expect(p.config).to.include({ width: 384, height: 384, resample: 3, rescaleFactor: 1 / 255 });
    expect(p.config.std).to.deep.equal([0.26862954, 0.26130258, 0.27577711]);
  });

  it('pixel values: float64 rescale cast to float32, then float32 (x - mean) / std', () => {
    const p = ImageProcessor.fromDir(TINY);
    const img: RgbImage = { data: Uint8Array.from([0, 128, 255, 17, 99, 201]), width: 2, height: 1 };
    const pv = p.toPixelValues(img);
    const f = Math.fround;
    const expected = [0, 17, 128, 99, 255, 201].map((v, i) => {
      const c = Math.floor(i / 2);
      return f(f(f(v * p.config.rescaleFactor) - f(p.config.mean[c])) / f(p.config.std[c]));
    });
    expect(Array.from(pv)).to.deep.equal(expected);
  });

  it('preprocessToTensors writes resized.{i} and pixel_values.{i} (safetensors round trip)', () => {
    const p = ImageProcessor.fromDir(TINY);
    const files = [path.join(EXTRA, 'p_7x3.png'), path.join(IMAGES, 'horse.png')];
    const m = preprocessToTensors(p, files);
    expect([...m.keys()]).to.deep.equal(['resized.0', 'pixel_values.0', 'resized.1', 'pixel_values.1']);
    const out = path.join(tmp, 'pre.safetensors');
    writeSafetensors(out, m, { producer: 'test' });
    const back = readAllSafetensors(out).tensors;
    expect(back.get('resized.1')!.shape).to.deep.equal([64, 64, 3]);
    expect(back.get('resized.1')!.dtype).to.equal('uint8');
    expect(back.get('pixel_values.1')!.shape).to.deep.equal([3, 64, 64]);
    expect(diff(back.get('pixel_values.0')!.data, p.preprocess([files[0]]).pixelValues).max).to.equal(0);
  });
});

describe('image: orientation helpers', () => {
  // 3x2 image whose pixel (x, y) holds value 10*y + x in every channel.
  const src: RgbImage = { width: 3, height: 2, data: Uint8Array.from([0, 1, 2, 10, 11, 12].flatMap((v) => [v, v, v])) };
  const grid = (img: RgbImage) =>
    Array.from({ length: img.height }, (_, y) => Array.from({ length: img.width }, (_, x) => img.data[(y * img.width + x) * 3]));

  it('applies the 8 EXIF orientations like PIL.Image.transpose', () => {
    expect(grid(applyOrientation(src, 1))).to.deep.equal([
      [0, 1, 2],
      [10, 11, 12],
    ]);
    expect(grid(applyOrientation(src, 2))).to.deep.equal([
      [2, 1, 0],
      [12, 11, 10],
    ]); // FLIP_LEFT_RIGHT
    expect(grid(applyOrientation(src, 3))).to.deep.equal([
      [12, 11, 10],
      [2, 1, 0],
    ]); // ROTATE_180
    expect(grid(applyOrientation(src, 4))).to.deep.equal([
      [10, 11, 12],
      [0, 1, 2],
    ]); // FLIP_TOP_BOTTOM
    expect(grid(applyOrientation(src, 5))).to.deep.equal([
      [0, 10],
      [1, 11],
      [2, 12],
    ]); // TRANSPOSE
    expect(grid(applyOrientation(src, 6))).to.deep.equal([
      [10, 0],
      [11, 1],
      [12, 2],
    ]); // ROTATE_270 (clockwise)
    expect(grid(applyOrientation(src, 7))).to.deep.equal([
      [12, 2],
      [11, 1],
      [10, 0],
    ]); // TRANSVERSE
    expect(grid(applyOrientation(src, 8))).to.deep.equal([
      [2, 12],
      [1, 11],
      [0, 10],
    ]); // ROTATE_90
  });

  it('reads Orientation from EXIF (both byte orders) and XMP', () => {
    const le = Uint8Array.from([0x49, 0x49, 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0]);
    const be = Uint8Array.from([0x4d, 0x4d, 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 8, 0, 0, 0, 0, 0, 0]);
    expect(exifOrientation(le)).to.equal(6);
    expect(exifOrientation(be)).to.equal(8);
    expect(exifOrientation(Uint8Array.from([...Buffer.from('Exif\0\0'), ...le]))).to.equal(6);
    expect(exifOrientation(Uint8Array.from([1, 2, 3]))).to.equal(null);
    expect(xmpOrientation('<rdf:Description tiff:Orientation="3"/>')).to.equal(3);
    expect(xmpOrientation('<tiff:Orientation>5</tiff:Orientation>')).to.equal(5);
  });
});
