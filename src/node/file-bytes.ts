import * as fs from 'fs';
import { ByteReader } from '../weights/source';

/** Node refuses single reads above 2 GiB - 1. */
const MAX_READ = 1 << 30;

/** A file read through its descriptor (Node only; the browser drains a ByteSource instead). */
export class FileBytes implements ByteReader {
  readonly size: number;
  private fd: number | null;

  constructor(readonly name: string) {
    this.fd = fs.openSync(name, 'r');
    try {
      this.size = fs.fstatSync(this.fd).size;
    } catch (e) {
      fs.closeSync(this.fd);
      throw e;
    }
  }

  readAt(target: Uint8Array, position: number): number {
    if (this.fd === null) throw new Error(`${this.name}: already closed`);
    return fs.readSync(this.fd, target, 0, Math.min(target.length, MAX_READ), position);
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}
