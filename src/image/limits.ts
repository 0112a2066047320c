// The pixel limit both decoders check from the header, before allocating.

/** Pillow refuses images over twice Image.MAX_IMAGE_PIXELS (89,478,485) as decompression bombs. */
export const DEFAULT_MAX_PIXELS = 2 * 89478485;

/** The pixel-limit message, shared by the PNG and JPEG decoders. */
export function pixelLimitProblem(width: number, height: number, maxPixels: number): string {
  return (
    `image of ${width}x${height} = ${width * height} pixels exceeds the ${maxPixels}-pixel limit ` +
    '(decompression bomb?); raise it with --max-pixels or BLIP_ITM_MAX_PIXELS if the file is trusted'
  );
}
