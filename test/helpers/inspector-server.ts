import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { RunningInspector, nodeSession, serveInspector } from '../../src/inspector/server';
import { DEFAULT_LIMITS, InspectorLimits, InspectorSession } from '../../src/inspector/session';
import { NodeBlipItm as BlipItm } from '../../src/node/platform';
import { TEXTS, TINY } from './fixtures';

export interface ServedInspector {
  model: BlipItm;
  url: string;
}

/**
 * Mocha hooks for a suite: before, the tiny model in a Node session with `limits` and what
 * `add` puts in it, served on a free port (the returned object is filled then); after, the
 * server closed with no tensor left behind, and the model disposed.
 */
export function serveForSuite(limits: Partial<InspectorLimits>, add: (session: InspectorSession) => Promise<unknown>): ServedInspector {
  const served = {} as ServedInspector;
  let running: RunningInspector | undefined;
  let tensorsBefore = 0;
  before(async () => {
    served.model = BlipItm.fromDir(TINY);
    tensorsBefore = tf.memory().numTensors;
    const session = nodeSession(served.model, TINY, TEXTS, { ...DEFAULT_LIMITS, ...limits });
    await add(session);
    running = await serveInspector(session, { port: 0 });
    served.url = running.url;
  });
  after(async () => {
    await running?.close();
    expect(tf.memory().numTensors, 'tensors left after close').to.equal(tensorsBefore);
    served.model?.dispose();
  });
  return served;
}
