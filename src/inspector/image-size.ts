import { sniffFormat } from '../image/decode';
import { headerSize } from '../image/header';

/**
 * The pixel size an encoded JPEG, PNG, WebP or GIF declares in its header, read without
 * decoding, so that an oversized upload is refused before any pixel memory is allocated.
 * null when no size is found (another format, or a damaged header).
 */
export function declaredSize(b: Uint8Array): { width: number; height: number } | null {
  const format = sniffFormat(b);
  return (format && headerSize(b, format)) || null;
}
