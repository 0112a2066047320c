/**
 * WebP: libwebp compiled to WebAssembly (@jsquash/webp, Squoosh's build), so the pixels are
 * libwebp's, as Pillow's. The wasm glue and bytes come from the platform (src/node/image.ts reads
 * the package's file; the browser installs no provider yet, so it refuses WebP in one line): the
 * core holds neither file system nor URL.
 * The module is compiled synchronously on first use (138 kB, under every browser's main-thread limit).
 */
import { headerSize } from './header';
import { pixelLimitProblem } from './limits';
import { toRgb } from './rgb';
import { ImageDecodeError, RgbImage } from './types';

/** What libwebp's decode gives: RGBA, non-premultiplied; null when it cannot decode the bytes. */
export type WebpDecodeFn = (bytes: Uint8Array) => { data: Uint8ClampedArray | Uint8Array; width: number; height: number } | null;

/** The Emscripten module factory of @jsquash/webp/codec/dec/webp_dec.js. */
export type WebpModuleFactory = (options: {
  noInitialRun: boolean;
  instantiateWasm: (imports: WebAssembly.Imports, done: (instance: WebAssembly.Instance) => void) => WebAssembly.Exports;
}) => unknown;

let provide: (() => WebpDecodeFn) | undefined;
let decoder: WebpDecodeFn | undefined;

/** Installs how the platform gets the decoder (called once by the Node and browser entries). */
export function setWebpDecoderProvider(provider: () => WebpDecodeFn): void {
  provide = provider;
  decoder = undefined;
}

/** A decode function from the glue's factory and the wasm bytes, instantiated synchronously. */
export function webpDecoderFrom(factory: WebpModuleFactory, wasm: Uint8Array): WebpDecodeFn {
  const module = new WebAssembly.Module(wasm as Uint8Array<ArrayBuffer>);
  const options = {
    noInitialRun: true,
    instantiateWasm: (imports: WebAssembly.Imports, done: (instance: WebAssembly.Instance) => void) => {
      const instance = new WebAssembly.Instance(module, imports);
      done(instance);
      return instance.exports;
    },
  };
  // The factory fills `options` as its Module; with a synchronous instantiateWasm, decode exists on return.
  void factory(options);
  const decode = (options as unknown as { decode?: WebpDecodeFn }).decode;
  if (typeof decode !== 'function') throw new Error('the WebP decoder (libwebp wasm) did not initialise');
  return decode;
}

/** Decodes a (still) WebP image to RGB, dropping alpha as Pillow's convert('RGB'); the pixel limit is checked from the header first. */
export function decodeWebp(bytes: Uint8Array, source: string, maxPixels: number): RgbImage {
  const size = headerSize(bytes, 'WebP');
  if (!size) throw new ImageDecodeError(source, 'truncated WebP (the header ends early)');
  if (size.width * size.height > maxPixels) throw new ImageDecodeError(source, pixelLimitProblem(size.width, size.height, maxPixels));
  if (!decoder) {
    if (!provide) throw new ImageDecodeError(source, 'no WebP decoder on this platform');
    decoder = provide();
  }
  const out = decoder(bytes);
  if (!out) {
    const animated = bytes.length > 20 && (bytes[20] & 0x02) !== 0 && String.fromCharCode(...bytes.subarray(12, 16)) === 'VP8X';
    throw new ImageDecodeError(source, animated ? 'animated WebP is not supported (extract a frame first)' : 'corrupt or truncated WebP');
  }
  return toRgb(out.data, out.width, out.height, 'RGBA');
}
