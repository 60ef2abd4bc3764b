/**
 * A character vocabulary: the sorted unique code points of a text, id = rank. Sorting (rather than
 * first-seen order) makes the ids a function of the character set alone, as in nanoGPT's
 * `shakespeare_char` preparation, so a saved model's embedding rows stay meaningful.
 */

export class CharVocab {
  /** The characters, id order (each one code point). */
  readonly chars: readonly string[];
  private readonly index: Map<string, number>;

  constructor(chars: Iterable<string>) {
    const unique = [...new Set(chars)];
    for (const c of unique) {
      if ([...c].length !== 1)
        throw new RangeError(`CharVocab: ${JSON.stringify(c)} is not a single character`);
    }
    // Code-point order; the default string sort compares UTF-16 units, which differs beyond the BMP.
    unique.sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
    this.chars = Object.freeze(unique);
    this.index = new Map(unique.map((c, i) => [c, i]));
  }

  /** The vocabulary of a text: its sorted unique characters. */
  static fromText(text: string): CharVocab {
    return new CharVocab(text);
  }

  get size(): number {
    return this.chars.length;
  }

  /** Ids of the characters of `text`; throws naming the first character not in the vocabulary. */
  encode(text: string): Int32Array {
    const out = new Int32Array(text.length); // ≥ the number of code points
    let n = 0;
    let pos = 0;
    for (const c of text) {
      const id = this.index.get(c);
      if (id === undefined) {
        const hex = c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
        throw new RangeError(
          `CharVocab.encode: ${JSON.stringify(c)} (U+${hex}) at position ${pos} is not in the vocabulary`,
        );
      }
      out[n++] = id;
      pos++;
    }
    return n === out.length ? out : out.slice(0, n);
  }

  /** The text of a sequence of ids; throws on an id outside `[0, size)`. */
  decode(ids: ArrayLike<number>): string {
    let s = '';
    for (let i = 0; i < ids.length; i++) {
      const c = this.chars[ids[i]];
      if (c === undefined)
        throw new RangeError(`CharVocab.decode: id ${ids[i]} at position ${i} outside [0, ${this.size})`);
      s += c;
    }
    return s;
  }
}
