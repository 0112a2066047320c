import { expect } from 'chai';
import { SerialQueue } from '../src/inspector/queue';

describe('inspector job queue', () => {
  it('runs jobs one at a time in arrival order, reports progress, and survives a failing job', async () => {
    const queue = new SerialQueue();
    const log: string[] = [];
    let running = 0;
    const job = (name: string, fail = false) =>
      queue.run(name, async () => {
        running++;
        expect(running, 'jobs overlapping').to.equal(1);
        log.push(`start ${name}`);
        await new Promise((r) => setTimeout(r, 20));
        log.push(`end ${name}`);
        running--;
        if (fail) throw new Error(`${name} failed`);
        return name;
      });
    const a = job('a');
    const b = job('b', true);
    const c = job('c');
    await new Promise((r) => setTimeout(r, 5));
    const status = queue.status();
    expect(status.running).to.equal('a');
    expect(status.waiting).to.equal(2);
    expect(await a).to.equal('a');
    let error = '';
    await b.catch((e: Error) => {
      error = e.message;
    });
    expect(error).to.equal('b failed');
    expect(await c).to.equal('c');
    await queue.idle();
    expect(log).to.deep.equal(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
    expect(queue.status()).to.deep.equal({ running: null, elapsedMs: 0, waiting: 0 });
  });
});
