/** Node: gives the core Node's native zlib (see src/zlib.ts). Loaded for its side effect. */
import * as zlib from 'zlib';
import { installNativeZlib } from '../zlib';

installNativeZlib(zlib);
