import { imageTokens } from '../config';
import { BlipItm } from '../model/blip-itm';
import { Dims } from './schema';

/** The index's row shape for this model. */
export function modelDims(model: BlipItm): Dims {
  const v = model.config.vision;
  return { embed: model.config.imageTextHiddenSize, tokens: imageTokens(v), hidden: v.hiddenSize };
}
