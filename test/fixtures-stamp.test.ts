import * as fs from 'fs';
import { expect } from 'chai';
import { REFERENCE_VERSIONS, checkStamp, fixture, referenceLines, stampOf } from './helpers/fixtures';

/** Every generated fixture names the script and the library versions that made it (scripts/reference/). */
describe('reference fixtures carry their generator stamp', () => {
  const safetensors = [
    ...fs
      .readdirSync(fixture('reference'))
      .filter((f) => f.endsWith('.safetensors'))
      .map((f) => fixture('reference', f)),
    fixture('blip-itm-tiny', 'model.safetensors'),
    fixture('blip-itm-tiny-f16', 'model.safetensors'),
  ];
  for (const file of safetensors) {
    it(file.slice(fixture().length + 1), () => {
      const stamp = stampOf(file);
      expect(stamp.generator).to.match(/^scripts\/reference\/make_\w+\.py$/);
      expect(fs.existsSync(fixture('..', '..', stamp.generator)), `${stamp.generator} is in the repository`).to.equal(true);
      expect(stamp).to.include(REFERENCE_VERSIONS);
    });
  }

  for (const name of ['tokenizer-cases.jsonl', 'tokenizer-cases-extra.jsonl']) {
    it(`reference/${name}`, () => expect(referenceLines(fixture('reference', name)).length).to.be.greaterThan(100));
  }

  it('refuses a file without a stamp, or made by other versions, naming it', () => {
    const file = fixture('reference', 'x.safetensors');
    expect(() => checkStamp({}, file)).to.throw(/^reference\/x\.safetensors: no generator stamp/);
    expect(() =>
      checkStamp({ generator: 'scripts/reference/make_activations.py', transformers: '4.46.0', torch: '2.13.0+cpu' }, file),
    ).to.throw(/^reference\/x\.safetensors: made with transformers 4\.46\.0, the tests expect 5\.17\.0$/);
  });
});
