import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { NodeBlipItm as BlipItm } from '../src/node/platform';
import { evaluate, loadEvalSet } from '../src/eval';
import { ImageIndex, buildIndex } from '../src/retrieval';
import { Dataset } from '../src/retrieval/dataset';
import { cli } from './helpers/cli';
import { TEXTS, TINY, fixture } from './helpers/fixtures';
import { tempDir } from './helpers/tmp';

/** Issue 24: eval must not eat a user's index, bad annotations say what is wrong, an empty index answers in one line. */
describe('no silent data loss: eval --index, annotations, empty index', function () {
  this.timeout(120_000);
  let model: BlipItm;
  let root: string;
  before(() => {
    model = BlipItm.fromDir(TINY);
    root = tempDir('blip-itm-dataloss-');
  });
  after(() => model.dispose());

  function annotations(name: string, items: unknown): string {
    const file = path.join(root, name);
    fs.writeFileSync(file, JSON.stringify(items));
    return file;
  }

  async function paths(index: string): Promise<string[]> {
    const ds = await Dataset.open(index);
    try {
      return (await ds!.scanEntries()).map((e) => e.path).sort();
    } finally {
      ds!.close();
    }
  }

  it('eval --index on an index holding other images refuses and keeps every row', async () => {
    const index = path.join(root, 'photos-index');
    const photos = ['chelsea.png', 'rocket.jpg', 'horse.png'].map((f) => fixture('images', f));
    await buildIndex(model, index, photos);
    const before = await paths(index);
    expect(before).to.have.length(3);
    const ann = annotations('one.json', [{ image: 'chelsea.png', caption: ['a cat'] }]);
    const set = loadEvalSet(ann, fixture('images'));
    const err = await evaluate(model, set, { kTest: 1, index }).catch((e: Error) => e);
    expect((err as Error).message).to.match(/the index holds 2 image\(s\) that are not in the test set .*give --index a folder of its own/);
    expect(await paths(index)).to.deep.equal(before);

    const res = await cli([
      'eval',
      '--model',
      TINY,
      '--backend',
      'wasm',
      '--annotations',
      ann,
      '--images',
      fixture('images'),
      '--index',
      index,
    ]);
    expect(res.code).to.equal(1);
    expect(
      res.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('blip-itm:')),
    ).to.have.length(1);
    expect(await paths(index)).to.deep.equal(before);
  });

  it('annotations whose caption lists are all empty, or whose image is a folder, are refused with a reason', () => {
    const empty = annotations('empty.json', [
      { image: 'chelsea.png', caption: [] },
      { image: 'horse.png', caption: [] },
    ]);
    expect(() => loadEvalSet(empty, fixture('images'))).to.throw(/no captions: every entry's "caption" list is empty/);
    for (const image of ['.', '', '..']) {
      const dot = annotations('dot.json', [{ image, caption: ['x'] }]);
      expect(() => loadEvalSet(dot, fixture('images'))).to.throw(
        `entry 0: "image": ${JSON.stringify(image)} is a folder, not an image file`,
      );
    }
  });

  it('search on an empty index says it holds no images, in one line', async () => {
    const emptyDir = path.join(root, 'no-photos');
    fs.mkdirSync(emptyDir);
    const index = path.join(root, 'empty-index');
    await buildIndex(model, index, [emptyDir]);
    const ix = await ImageIndex.open(index);
    try {
      const err = await ix.search(model, TEXTS[0]).catch((e: Error) => e);
      expect((err as Error).message).to.equal(`${index}: the index holds no images (add some with blip-itm index)`);
    } finally {
      ix.close();
    }
    const res = await cli(['search', '--model', TINY, '--backend', 'wasm', '--index', index, '--text', 'a cat']);
    expect(res.code).to.equal(1);
    expect(res.stderr).to.contain('the index holds no images');
    expect(res.stderr).not.to.contain('TypeError');
  });
});
