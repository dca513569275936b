/**
 * One top-level element of the JSON array, as text, with where it starts. `index` is 1-based, as
 * problem lines say "item 3".
 */
export interface ScannedItem {
  kind: 'item';
  index: number;
  line: number;
  text: string;
}

/** A syntax problem that makes the rest of the text unreadable; the scanner stops after it. */
export interface ScanError {
  kind: 'error';
  line: number;
  problem: string;
}

export type ScanEvent = ScannedItem | ScanError;

const EXPECTED_SHAPE = 'expected a JSON array of {configurationId, groupId, tenantId?}';

type State = 'start' | 'first' | 'next' | 'item' | 'after-item' | 'done' | 'failed';

const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

function isWhitespace(c: number): boolean {
  return c === SPACE || c === TAB || c === LF || c === CR;
}

/**
 * Splits a streamed top-level JSON array into its elements without parsing the whole document, so a
 * 100,000-row file costs one element of memory and every element keeps the line it starts on (which
 * JSON.parse cannot tell). Only the array's own punctuation is checked here; each element's text is
 * left to JSON.parse, so a broken element is a problem on that element and the scan goes on.
 */
export class JsonArrayScanner {
  private state: State = 'start';
  private line = 1;
  private afterCR = false;
  private items = 0;
  private openLine = 1;
  // The element being read: its text so far, and enough lexical state to find where it ends.
  private parts: string[] = [];
  private partsLength = 0;
  private itemLine = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private scalar = false;

  /** @param maxItemBytes an element longer than this (in UTF-8) is refused, bounding memory per element */
  constructor(private readonly maxItemBytes: number) {}

  /** Elements seen so far (complete or not). */
  get itemCount(): number {
    return this.items;
  }

  /** The line holding the array's `[`. */
  get arrayLine(): number {
    return this.openLine;
  }

  push(text: string): ScanEvent[] {
    const events: ScanEvent[] = [];
    let itemStart = 0;
    for (let i = 0; i < text.length && this.state !== 'failed';) {
      const c = text.charCodeAt(i);
      if (this.state === 'item') {
        if (this.scalar && (isWhitespace(c) || c === COMMA || c === CLOSE_BRACKET)) {
          // A number or literal ends at the character after it, which belongs to the array: look at it again.
          events.push(this.finishItem(text.slice(itemStart, i)));
          continue;
        }
        if (this.itemEnds(c)) events.push(this.finishItem(text.slice(itemStart, i + 1)));
      } else if (!isWhitespace(c)) {
        const outcome = this.punctuation(c);
        if (outcome === 'item') itemStart = i;
        else if (outcome !== undefined) {
          events.push(outcome);
          break;
        }
      }
      this.countLine(c);
      i++;
    }
    if (this.state === 'item') {
      this.parts.push(text.slice(itemStart));
      this.partsLength += text.length - itemStart;
      // Characters are a lower bound on UTF-8 bytes: enough to stop an endless item early.
      if (this.partsLength > this.maxItemBytes) events.push(this.fail(this.itemLine, this.tooLarge()));
    }
    return events;
  }

  /** Call once the input has ended; reports an empty file or an array that never closed. */
  end(): ScanError | undefined {
    switch (this.state) {
      case 'start':
        return this.fail(1, `file is empty (${EXPECTED_SHAPE})`);
      case 'item':
        if (!this.scalar)
          return this.fail(this.itemLine, `item ${this.items} is not closed before the end of the file`);
        return this.fail(this.line, 'invalid JSON (the file ends before the array is closed)');
      case 'first':
      case 'next':
      case 'after-item':
        return this.fail(this.line, 'invalid JSON (the file ends before the array is closed)');
      default:
        return undefined;
    }
  }

  /** Handles a non-whitespace character outside any element; 'item' when it starts one. */
  private punctuation(c: number): ScanError | 'item' | undefined {
    switch (this.state) {
      case 'start':
        if (c !== OPEN_BRACKET) return this.fail(this.line, EXPECTED_SHAPE);
        this.openLine = this.line;
        this.state = 'first';
        return undefined;
      case 'first':
        if (c === CLOSE_BRACKET) {
          this.state = 'done';
          return undefined;
        }
        return this.startItem(c);
      case 'next':
        if (c === CLOSE_BRACKET)
          return this.fail(this.line, `invalid JSON (a comma after item ${this.items} and no item follows)`);
        return this.startItem(c);
      case 'after-item':
        if (c === COMMA) {
          this.state = 'next';
          return undefined;
        }
        if (c === CLOSE_BRACKET) {
          this.state = 'done';
          return undefined;
        }
        return this.fail(
          this.line,
          `invalid JSON (expected "," or "]" after item ${this.items}, found ${JSON.stringify(String.fromCharCode(c))})`,
        );
      case 'done':
        return this.fail(this.line, 'invalid JSON (text after the closing "]")');
      default:
        return undefined;
    }
  }

  private startItem(c: number): 'item' {
    this.items++;
    this.state = 'item';
    this.itemLine = this.line;
    this.parts = [];
    this.partsLength = 0;
    this.escaped = false;
    this.inString = c === QUOTE;
    this.depth = c === OPEN_BRACE || c === OPEN_BRACKET ? 1 : 0;
    this.scalar = c !== QUOTE && this.depth === 0;
    return 'item';
  }

  /** Whether `c`, a character after the element's first, is its last. */
  private itemEnds(c: number): boolean {
    if (this.scalar) return false;
    if (this.inString) {
      if (this.escaped) this.escaped = false;
      else if (c === BACKSLASH) this.escaped = true;
      else if (c === QUOTE) {
        this.inString = false;
        return this.depth === 0;
      }
      return false;
    }
    if (c === QUOTE) this.inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) this.depth++;
    else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) return --this.depth === 0;
    return false;
  }

  private finishItem(tail: string): ScanEvent {
    const text = this.parts.length === 0 ? tail : this.parts.join('') + tail;
    if (Buffer.byteLength(text) > this.maxItemBytes) return this.fail(this.itemLine, this.tooLarge());
    this.parts = [];
    this.partsLength = 0;
    this.state = 'after-item';
    return { kind: 'item', index: this.items, line: this.itemLine, text };
  }

  private countLine(c: number): void {
    if (c === LF) {
      if (!this.afterCR) this.line++;
      this.afterCR = false;
    } else if (c === CR) {
      this.line++;
      this.afterCR = true;
    } else {
      this.afterCR = false;
    }
  }

  private tooLarge(): string {
    return `item ${this.items} is longer than ${this.maxItemBytes} bytes`;
  }

  private fail(line: number, problem: string): ScanError {
    this.state = 'failed';
    return { kind: 'error', line, problem };
  }
}
