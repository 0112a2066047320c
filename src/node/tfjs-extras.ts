/**
 * tfjs-core's gradients (Grad-CAM needs them) and chained tensor methods (`x.reshape(...)`) in Node.
 *
 * blip-itm depends on @tensorflow/tfjs-core and the backends it uses, not on the @tensorflow/tfjs
 * umbrella (layers, converter and data unused). tfjs-core's CommonJS build leaves these two out
 * and its ES modules cannot be loaded by Node, so vendor/tfjs-core-extras.cjs carries them
 * (scripts/codegen/vendor-tfjs-extras.mjs). They register on the tfjs-core loaded here, through the
 * globals tfjs-core keeps; it must load first, hence the import above the require.
 */
import '@tensorflow/tfjs-core';
import type {} from '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import * as path from 'path';

// dist/src/node/ -> the package root; vendor/ ships with the package.
require(path.join(__dirname, '..', '..', '..', 'vendor', 'tfjs-core-extras.cjs'));
