import { RgbImage } from '../image';

/**
 * A 5x7 bitmap font for printable ASCII (0x20..0x7e), the classic LCD-controller glyph set:
 * each glyph is 5 column bytes, bit 0 = top row. Other characters draw as '?'.
 */
const GLYPHS = [
  '0000000000', '00005f0000', '0007000700', '147f147f14', '242a7f2a12', '2313086462', '3649552250', '0005030000', // sp ! " # $ % & '
  '001c224100', '0041221c00', '082a1c2a08', '08083e0808', '0050300000', '0808080808', '0060600000', '2010080402', // ( ) * + , - . /
  '3e5149453e', '00427f4000', '4261514946', '2141454b31', '1814127f10', '2745454539', '3c4a494930', '0171090503', // 0-7
  '3649494936', '064949291e', '0036360000', '0056360000', '0814224100', '1414141414', '0041221408', '0201510906', // 8 9 : ; < = > ?
  '324979413e', '7e1111117e', '7f49494936', '3e41414122', '7f4141221c', '7f49494941', '7f09090101', '3e41415132', // @ A-G
  '7f0808087f', '00417f4100', '2040413f01', '7f08142241', '7f40404040', '7f0204027f', '7f0408107f', '3e4141413e', // H-O
  '7f09090906', '3e4151215e', '7f09192946', '4649494931', '01017f0101', '3f4040403f', '1f2040201f', '7f2018207f', // P-W
  '6314081463', '0304780403', '6151494543', '007f414100', '0204081020', '0041417f00', '0402010204', '4040404040', // X Y Z [ \ ] ^ _
  '0001020400', '2054545478', '7f48444438', '3844444420', '384444487f', '3854545418', '087e090102', '0c5252523e', // ` a-g
  '7f08040478', '00447d4000', '2040443d00', '007f102844', '00417f4000', '7c04180478', '7c08040478', '3844444438', // h-o
  '7c14141408', '081414187c', '7c08040408', '4854545420', '043f444020', '3c4040207c', '1c2040201c', '3c4030403c', // p-w
  '4428102844', '0c5050503c', '4464544c44', '0008364100', '00007f0000', '0041360800', '0201020402',               // x y z { | } ~
];

export const GLYPH_WIDTH = 5;
export const GLYPH_HEIGHT = 7;

function glyph(ch: string): string {
  const code = ch.codePointAt(0) ?? 0x3f;
  return GLYPHS[code >= 0x20 && code <= 0x7e ? code - 0x20 : 0x3f - 0x20];
}

/** Pixel width of text at this scale (1 pixel of spacing per glyph column unit between characters). */
export function textWidth(text: string, scale = 1): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0xdc00 || c > 0xdfff || i === 0 || text.charCodeAt(i - 1) < 0xd800 || text.charCodeAt(i - 1) > 0xdbff) n++;
  }
  return n === 0 ? 0 : (n * (GLYPH_WIDTH + 1) - 1) * scale;
}

/** Shortens text with '..' so that it fits in maxWidth pixels; linear in the text's length. */
export function fitText(text: string, maxWidth: number, scale = 1): string {
  if (textWidth(text, scale) <= maxWidth) return text;
  // Every glyph has the same advance, so the number that fits with '..' is arithmetic.
  const keep = Math.floor((maxWidth / scale + 1) / (GLYPH_WIDTH + 1)) - 2;
  if (keep <= 0) return '';
  const kept: string[] = [];
  for (const ch of text) {
    if (kept.length === keep) break;
    kept.push(ch);
  }
  return kept.join('') + '..';
}

/** Draws text with its top-left corner at (x, y); `vertical` turns it 90 degrees, reading bottom to top from (x, y + its width). */
export function drawText(img: RgbImage, text: string, x: number, y: number,
  opts: { scale?: number; colour?: [number, number, number]; vertical?: boolean } = {}): void {
  const scale = opts.scale ?? 1;
  const [r, g, b] = opts.colour ?? [0, 0, 0];
  const put = (px: number, py: number) => {
    if (px < 0 || py < 0 || px >= img.width || py >= img.height) return;
    const i = (py * img.width + px) * 3;
    img.data[i] = r; img.data[i + 1] = g; img.data[i + 2] = b;
  };
  const length = textWidth(text, scale);
  Array.from(text).forEach((ch, n) => {
    const cols = glyph(ch);
    for (let c = 0; c < GLYPH_WIDTH; c++) {
      const bits = parseInt(cols.slice(2 * c, 2 * c + 2), 16);
      for (let row = 0; row < GLYPH_HEIGHT; row++) {
        if (!(bits & (1 << row))) continue;
        const u = n * (GLYPH_WIDTH + 1) * scale + c * scale; // along the text
        const v = row * scale;                                // across it
        for (let dy = 0; dy < scale; dy++) {
          for (let dx = 0; dx < scale; dx++) {
            if (opts.vertical) put(x + v + dy, y + length - 1 - (u + dx));
            else put(x + u + dx, y + v + dy);
          }
        }
      }
    }
  });
}
