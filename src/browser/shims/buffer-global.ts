/** Injected into the browser bundle wherever the core names Node's global Buffer. */
export { Buffer } from 'buffer';
