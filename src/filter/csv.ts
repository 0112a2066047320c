/**
 * RFC 4180 CSV: comma-separated, double-quoted fields may hold commas, quotes ("") and line
 * breaks; CRLF or LF line ends; a leading BOM is dropped. Yields each record with the 1-based
 * line it starts on. Platform-neutral.
 */
export function* parseCsv(text: string): Generator<{ fields: string[]; line: number }> {
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  while (i < text.length) {
    const start = line;
    const fields: string[] = [];
    for (;;) {
      let value = '';
      if (text[i] === '"') {
        i++;
        for (;;) {
          const q = text.indexOf('"', i);
          if (q < 0) throw new Error(`line ${start}: unterminated quoted field`);
          value += text.slice(i, q);
          line += countLines(text, i, q);
          i = q + 1;
          if (text[i] === '"') {
            value += '"';
            i++;
            continue;
          }
          break;
        }
        while (i < text.length && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') value += text[i++];
      } else {
        let j = i;
        while (j < text.length && text[j] !== ',' && text[j] !== '\n' && text[j] !== '\r') j++;
        value = text.slice(i, j);
        i = j;
      }
      fields.push(value);
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '\r') i++;
      if (text[i] === '\n') i++;
      line++;
      break;
    }
    if (!(fields.length === 1 && fields[0] === '')) yield { fields, line: start };
  }
}

function countLines(text: string, from: number, to: number): number {
  let n = 0;
  for (let k = from; k < to; k++) if (text.charCodeAt(k) === 10) n++;
  return n;
}
