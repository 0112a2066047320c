// Line-oriented helper for the CLI: JSON string in, JSON array of ids out.
import { BertTokenizer } from './bert-tokenizer';

/**
 * Each line must be a JSON string ("a cat"); the result line is the JSON array of its ids
 * ([101,1037,4937,102]), truncated to maxLength when given. Blank lines are errors too, so drop a
 * trailing empty line before calling. Throws an Error naming the 1-based line number.
 */
export function tokenizeLines(tok: BertTokenizer, lines: string[], maxLength?: number): string[] {
  return lines.map((line, i) => {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new Error(`line ${i + 1}: not valid JSON (${(e as Error).message})`, { cause: e });
    }
    if (typeof value !== 'string')
      throw new Error(`line ${i + 1}: expected a JSON string, got ${line.length > 60 ? line.slice(0, 60) + '...' : line}`);
    return JSON.stringify(tok.encode(value, { maxLength }));
  });
}
