import { expect } from 'chai';
import { JobCancelled, SerialQueue } from '../src/inspector/queue';

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

  it('drops a waiting job whose signal is aborted, and runs the rest', async () => {
    const queue = new SerialQueue();
    const ran: string[] = [];
    let release = () => {};
    const first = queue.run('first', () => new Promise<void>((r) => (release = r)));
    const gone = new AbortController();
    const dropped = queue.run('dropped', async () => ran.push('dropped'), gone.signal);
    const kept = queue.run('kept', async () => ran.push('kept'), new AbortController().signal);
    await new Promise((r) => setTimeout(r, 5));
    gone.abort();
    release();
    await first;
    let error: unknown;
    await dropped.catch((e: unknown) => {
      error = e;
    });
    expect(error).to.be.instanceOf(JobCancelled);
    expect((error as Error).message).to.equal('dropped: cancelled before it started (the client went away)');
    await kept;
    expect(ran).to.deep.equal(['kept']);
    expect(queue.cancelled).to.equal(1);
  });
});
