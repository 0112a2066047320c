import { expect } from 'chai';
import * as path from 'path';
import { pathToFileURL } from 'url';
import type { AttentionView, GradcamView } from '../src/inspector/session';

/** The page's modules are plain ES modules shipped as they are; tests import them as the browser does. */
const PAGE = path.resolve(__dirname, '../../src/inspector/page');
// A real dynamic import (TypeScript would compile `import()` to require()).
const importModule = new Function('url', 'return import(url)') as <T>(url: string) => Promise<T>;

type Selection = { label: string; positions: number[]; caption?: boolean; special?: boolean; map?: number[] };
interface Views {
  wordSelections(data: GradcamView | AttentionView): Selection[];
  picture(
    view: string,
    data: GradcamView | AttentionView,
    layer: number,
    head: number | 'mean' | 'rollout',
    sel: Selection,
  ): { map?: number[]; matrix?: number[][]; describe: string };
}
interface Draw {
  normalise(map: number[]): number[];
  mean(rows: number[][]): number[];
}

const TOKENS = ['[CLS]', 'a', 'tab', '##by', 'cat', '[SEP]'];
const WORDS = [
  { text: 'a', positions: [1] },
  { text: 'tabby', positions: [2, 3] },
  { text: 'cat', positions: [4] },
];

function gradcamView(): GradcamView {
  const maps = TOKENS.map((_, i) => [i, 10 * i, 0, 1]);
  return {
    image: 0,
    text: 'a tabby cat',
    encToken: false,
    layer: 1,
    grid: 2,
    frames: 1,
    probability: 0.5,
    tokens: TOKENS,
    maps,
    words: WORDS.map((w, i) => ({ ...w, map: [i, i, i, i] })),
    caption: { text: 'a tabby cat', positions: [1, 2, 3, 4], map: [9, 9, 9, 9] },
  };
}

function attentionView(): AttentionView {
  // cross[layer][head][token][patch]: token t, head h → every patch h*10 + t
  const cross = [[0, 1].map((h) => TOKENS.map((_, t) => [h * 10 + t, h * 10 + t, h * 10 + t, h * 10 + t]))];
  const textSelf = [
    [TOKENS.map((_, q) => TOKENS.map((__, k) => (q === k ? 1 : 0))), TOKENS.map(() => TOKENS.map((__, k) => (k === 0 ? 1 : 0)))],
  ];
  return {
    image: 0,
    text: 'a tabby cat',
    encToken: false,
    tokens: TOKENS,
    probability: 0.5,
    grid: 2,
    cross,
    textSelf,
    vision: [
      [
        [1, 2, 3, 4],
        [3, 2, 1, 0],
      ],
    ],
    rollout: [[0.1, 0.2, 0.3, 0.4]],
    words: WORDS,
    caption: { text: 'a tabby cat', positions: [1, 2, 3, 4] },
  };
}

describe('inspector page: pure functions (views.js, draw.js)', () => {
  let views: Views;
  let draw: Draw;
  before(async () => {
    views = await importModule<Views>(pathToFileURL(path.join(PAGE, 'views.js')).href);
    draw = await importModule<Draw>(pathToFileURL(path.join(PAGE, 'draw.js')).href);
  });

  it("chips are the session's words and caption, with [CLS] and [SEP] around them", () => {
    const chips = views.wordSelections(attentionView());
    expect(chips.map((c) => [c.label, c.positions])).to.deep.equal([
      ['whole caption', [1, 2, 3, 4]],
      ['[CLS]', [0]],
      ['a', [1]],
      ['tabby', [2, 3]],
      ['cat', [4]],
      ['[SEP]', [5]],
    ]);
    expect(chips[0].caption).to.equal(true);
    expect(chips.filter((c) => c.special).map((c) => c.label)).to.deep.equal(['[CLS]', '[SEP]']);
  });

  it("Grad-CAM pictures show the session's maps: the caption's, a word's, a special token's row", () => {
    const data = gradcamView();
    const chips = views.wordSelections(data);
    const map = (label: string) =>
      views.picture(
        'gradcam',
        data,
        1,
        'mean',
        chips.find((c) => c.label === label)!,
      ).map;
    expect(map('whole caption')).to.deep.equal([9, 9, 9, 9]);
    expect(map('tabby')).to.deep.equal([1, 1, 1, 1]);
    expect(map('[SEP]')).to.deep.equal(data.maps[5]);
    expect(views.picture('gradcam', data, 1, 'mean', chips[3]).describe).to.match(/text layer 1's cross-attention .*tabby$/);
  });

  it('attention pictures: cross-attention per head or mean over the word pieces, vision heads and rollout, text matrix', () => {
    const data = attentionView();
    const tabby = views.wordSelections(data)[3];
    expect(views.picture('cross', data, 0, 1, tabby).map).to.deep.equal([12.5, 12.5, 12.5, 12.5]); // head 1: mean of tokens 2, 3
    expect(views.picture('cross', data, 0, 'mean', tabby).map).to.deep.equal([7.5, 7.5, 7.5, 7.5]);
    expect(views.picture('vision', data, 0, 'mean', tabby).map).to.deep.equal([2, 2, 2, 2]);
    expect(views.picture('vision', data, 0, 'rollout', tabby).map).to.deep.equal([0.1, 0.2, 0.3, 0.4]);
    const matrix = views.picture('text', data, 0, 'mean', tabby).matrix!;
    expect(matrix[1]).to.deep.equal([0.5, 0.5, 0, 0, 0, 0]);
    expect(views.picture('text', data, 0, 0, tabby).matrix).to.equal(data.textSelf[0][0]);
  });

  it('normalise maps to [0, 1]; a constant map becomes zeros; mean averages rows', () => {
    expect(draw.normalise([2, 4, 6])).to.deep.equal([0, 0.5, 1]);
    expect(draw.normalise([3, 3])).to.deep.equal([0, 0]);
    expect(
      draw.mean([
        [1, 2],
        [3, 4],
      ]),
    ).to.deep.equal([2, 3]);
  });
});
