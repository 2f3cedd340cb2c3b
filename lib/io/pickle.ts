/**
 * A data-only reader for Python's pickle format (protocols 2 to 5), the subset that `torch.save`
 * writes for a state dict. Nothing from the pickle is ever executed: a pickle may only name
 * globals found in the caller's table, and "calling" one runs the caller's JavaScript function
 * for it (for example, one that records a tensor's shape and storage).
 *
 * Python values become: None → null, bool → boolean, int → number (bigint beyond 2^53),
 * float → number, str → string, bytes → Uint8Array, list → array, tuple → frozen array,
 * dict → Map, set/frozenset → Set.
 *
 * @module
 */

/** Globals a pickle may refer to, keyed `"module.name"`; functions can be called by REDUCE. */
export type PickleGlobals = ReadonlyMap<string, unknown>;

/** Options of {@link unpickle}. */
export interface UnpickleOptions {
  /** The only globals the pickle may name; any other is an error. Default: none. */
  readonly globals?: PickleGlobals;
  /** Resolves a persistent id (torch uses them for tensor storages). Default: an error. */
  readonly persistentLoad?: (pid: unknown) => unknown;
}

/** Key under which BUILD's state is kept on a dict (torch stores `_metadata` this way). */
export const PICKLE_STATE: unique symbol = Symbol("pickle state");

/**
 * Reads a pickle and returns the value it describes.
 *
 * @example
 * ```ts
 * import { unpickle } from "./pickle.ts";
 * // pickle.dumps({"a": 1}, protocol=2)
 * const bytes = new Uint8Array([0x80, 2, 0x7d, 0x71, 0, 0x58, 1, 0, 0, 0, 0x61, 0x71, 1, 0x4b, 1, 0x73, 0x2e]);
 * unpickle(bytes); // Map { "a" => 1 }
 * ```
 */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions = {}): unknown {
  return new Unpickler(bytes, options).run();
}

class Unpickler {
  #bytes: Uint8Array;
  #view: DataView;
  #position = 0;
  #stack: unknown[] = [];
  #marks: number[] = [];
  #memo = new Map<number, unknown>();
  #globals: PickleGlobals;
  #persistentLoad?: (pid: unknown) => unknown;
  #opcodeStart = 0;

  constructor(bytes: Uint8Array, options: UnpickleOptions) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#globals = options.globals ?? new Map();
    this.#persistentLoad = options.persistentLoad;
  }

  run(): unknown {
    while (true) {
      this.#opcodeStart = this.#position;
      const opcode = this.#u8();
      switch (opcode) {
        case 0x80: { // PROTO
          const protocol = this.#u8();
          if (protocol > 5) this.#fail(`unsupported pickle protocol ${protocol}`);
          break;
        }
        case 0x95: // FRAME: only a buffering hint
          this.#take(8);
          break;
        case 0x2e: // STOP
          return this.#pop();

        case 0x28: // MARK
          this.#marks.push(this.#stack.length);
          break;
        case 0x30: // POP
          // Like Python: with nothing above the last MARK, POP removes the mark itself.
          if (this.#stack.length === this.#floor()) this.#popMark();
          else this.#pop();
          break;
        case 0x31: // POP_MARK
          this.#popMark();
          break;
        case 0x32: // DUP
          this.#stack.push(this.#top());
          break;

        case 0x4e: // NONE
          this.#stack.push(null);
          break;
        case 0x88: // NEWTRUE
          this.#stack.push(true);
          break;
        case 0x89: // NEWFALSE
          this.#stack.push(false);
          break;
        case 0x4a: // BININT
          this.#stack.push(this.#view.getInt32(this.#advance(4), true));
          break;
        case 0x4b: // BININT1
          this.#stack.push(this.#u8());
          break;
        case 0x4d: // BININT2
          this.#stack.push(this.#view.getUint16(this.#advance(2), true));
          break;
        case 0x8a: // LONG1
          this.#stack.push(this.#long(this.#u8()));
          break;
        case 0x8b: // LONG4
          this.#stack.push(this.#long(this.#length(this.#view.getInt32(this.#advance(4), true))));
          break;
        case 0x49: { // INT (text; protocol 0, but torch's legacy header uses it)
          const text = this.#line();
          this.#stack.push(text === "01" ? true : text === "00" ? false : this.#parseInt(text));
          break;
        }
        case 0x4c: // LONG (text)
          this.#stack.push(this.#parseInt(this.#line().replace(/L$/, "")));
          break;
        case 0x47: // BINFLOAT (big-endian double)
          this.#stack.push(this.#view.getFloat64(this.#advance(8), false));
          break;
        case 0x46: // FLOAT (text)
          this.#stack.push(Number.parseFloat(this.#line()));
          break;

        case 0x58: // BINUNICODE
          this.#stack.push(this.#utf8(this.#length(this.#view.getUint32(this.#advance(4), true))));
          break;
        case 0x8c: // SHORT_BINUNICODE
          this.#stack.push(this.#utf8(this.#u8()));
          break;
        case 0x8d: // BINUNICODE8
          this.#stack.push(
            this.#utf8(this.#length(this.#view.getBigUint64(this.#advance(8), true))),
          );
          break;
        case 0x54: // BINSTRING (Python 2 str, read as Latin-1)
          this.#stack.push(this.#latin1(this.#length(this.#view.getInt32(this.#advance(4), true))));
          break;
        case 0x55: // SHORT_BINSTRING
          this.#stack.push(this.#latin1(this.#u8()));
          break;
        case 0x42: // BINBYTES
          this.#stack.push(
            this.#take(this.#length(this.#view.getUint32(this.#advance(4), true))).slice(),
          );
          break;
        case 0x43: // SHORT_BINBYTES
          this.#stack.push(this.#take(this.#u8()).slice());
          break;
        case 0x8e: // BINBYTES8
        case 0x96: // BYTEARRAY8
          this.#stack.push(
            this.#take(this.#length(this.#view.getBigUint64(this.#advance(8), true))).slice(),
          );
          break;

        case 0x7d: // EMPTY_DICT
          this.#stack.push(new Map());
          break;
        case 0x5d: // EMPTY_LIST
          this.#stack.push([]);
          break;
        case 0x29: // EMPTY_TUPLE
          this.#stack.push(Object.freeze([]));
          break;
        case 0x8f: // EMPTY_SET
          this.#stack.push(new Set());
          break;
        case 0x85: // TUPLE1
          this.#stack.push(Object.freeze(this.#popMany(1)));
          break;
        case 0x86: // TUPLE2
          this.#stack.push(Object.freeze(this.#popMany(2)));
          break;
        case 0x87: // TUPLE3
          this.#stack.push(Object.freeze(this.#popMany(3)));
          break;
        case 0x74: // TUPLE
          this.#stack.push(Object.freeze(this.#popMark()));
          break;
        case 0x6c: // LIST
          this.#stack.push(this.#popMark());
          break;
        case 0x64: // DICT
          this.#stack.push(this.#setItems(new Map(), this.#popMark()));
          break;
        case 0x91: // FROZENSET
          this.#stack.push(new Set(this.#popMark()));
          break;

        case 0x61: { // APPEND
          const item = this.#pop();
          this.#list(this.#top()).push(item);
          break;
        }
        case 0x65: { // APPENDS
          const items = this.#popMark();
          this.#list(this.#top()).push(...items);
          break;
        }
        case 0x73: { // SETITEM
          const [key, value] = this.#popMany(2);
          this.#setItems(this.#top(), [key, value]);
          break;
        }
        case 0x75: { // SETITEMS
          const items = this.#popMark();
          this.#setItems(this.#top(), items);
          break;
        }
        case 0x90: { // ADDITEMS
          const items = this.#popMark();
          const set = this.#top();
          if (!(set instanceof Set)) this.#fail("ADDITEMS on something that is not a set");
          for (const item of items) set.add(item);
          break;
        }

        case 0x67: // GET
          this.#stack.push(this.#memoGet(this.#parseInt(this.#line())));
          break;
        case 0x68: // BINGET
          this.#stack.push(this.#memoGet(this.#u8()));
          break;
        case 0x6a: // LONG_BINGET
          this.#stack.push(this.#memoGet(this.#view.getUint32(this.#advance(4), true)));
          break;
        case 0x70: // PUT
          this.#memo.set(Number(this.#parseInt(this.#line())), this.#top());
          break;
        case 0x71: // BINPUT
          this.#memo.set(this.#u8(), this.#top());
          break;
        case 0x72: // LONG_BINPUT
          this.#memo.set(this.#view.getUint32(this.#advance(4), true), this.#top());
          break;
        case 0x94: // MEMOIZE
          this.#memo.set(this.#memo.size, this.#top());
          break;

        case 0x63: { // GLOBAL
          const module = this.#line();
          const name = this.#line();
          this.#stack.push(this.#global(module, name));
          break;
        }
        case 0x93: { // STACK_GLOBAL
          const [module, name] = this.#popMany(2);
          if (typeof module !== "string" || typeof name !== "string") {
            this.#fail("STACK_GLOBAL needs two strings");
          }
          this.#stack.push(this.#global(module, name));
          break;
        }
        case 0x52: { // REDUCE
          const args = this.#pop();
          const callable = this.#pop();
          if (typeof callable !== "function") {
            this.#fail("REDUCE on something that is not callable");
          }
          if (!Array.isArray(args)) this.#fail("REDUCE arguments are not a tuple");
          this.#stack.push(callable(...args));
          break;
        }
        case 0x62: { // BUILD
          const state = this.#pop();
          const target = this.#top();
          if (typeof target !== "object" || target === null) {
            this.#fail("BUILD on something that is not an object");
          }
          Object.defineProperty(target, PICKLE_STATE, { value: state, configurable: true });
          break;
        }
        case 0x51: { // BINPERSID
          const pid = this.#pop();
          if (!this.#persistentLoad) {
            this.#fail("the pickle uses persistent ids, which are not expected here");
          }
          this.#stack.push(this.#persistentLoad(pid));
          break;
        }

        default:
          this.#fail(`unsupported pickle opcode ${describeOpcode(opcode)}`);
      }
    }
  }

  #global(module: string, name: string): unknown {
    const key = `${module}.${name}`;
    if (!this.#globals.has(key)) this.#fail(`unsupported pickle global ${key}`, false);
    return this.#globals.get(key);
  }

  #setItems(target: unknown, items: unknown[]): Map<unknown, unknown> {
    if (!(target instanceof Map)) this.#fail("SETITEM on something that is not a dict");
    if (items.length % 2 !== 0) this.#fail("SETITEMS with an odd number of items");
    for (let i = 0; i < items.length; i += 2) {
      const key = items[i];
      if (typeof key === "object" && key !== null && !Object.isFrozen(key)) {
        this.#fail("dict key is not hashable");
      }
      target.set(key, items[i + 1]);
    }
    return target;
  }

  #list(target: unknown): unknown[] {
    if (!Array.isArray(target) || Object.isFrozen(target)) {
      this.#fail("APPEND on something that is not a list");
    }
    return target;
  }

  #memoGet(key: number | bigint): unknown {
    const index = Number(key);
    if (!this.#memo.has(index)) this.#fail(`pickle memo has no entry ${index}`);
    return this.#memo.get(index);
  }

  #pop(): unknown {
    if (this.#stack.length <= this.#floor()) this.#fail("pickle stack underflow");
    return this.#stack.pop();
  }

  #top(): unknown {
    if (this.#stack.length <= this.#floor()) this.#fail("pickle stack underflow");
    return this.#stack[this.#stack.length - 1];
  }

  #popMany(count: number): unknown[] {
    if (this.#stack.length - count < this.#floor()) this.#fail("pickle stack underflow");
    return this.#stack.splice(this.#stack.length - count, count);
  }

  /** Stack height at the last MARK: opcodes other than the MARK-consuming ones stay above it. */
  #floor(): number {
    return this.#marks[this.#marks.length - 1] ?? 0;
  }

  #popMark(): unknown[] {
    const mark = this.#marks.pop();
    if (mark === undefined) this.#fail("pickle has no MARK to pop to");
    return this.#stack.splice(mark, this.#stack.length - mark);
  }

  #u8(): number {
    return this.#bytes[this.#advance(1)]!;
  }

  /** Moves past `count` bytes and returns where they start. */
  #advance(count: number): number {
    const start = this.#position;
    if (start + count > this.#bytes.length) {
      this.#fail(`pickle ends unexpectedly at byte ${this.#bytes.length}`, false);
    }
    this.#position = start + count;
    return start;
  }

  #take(count: number): Uint8Array {
    const start = this.#advance(count);
    return this.#bytes.subarray(start, start + count);
  }

  #length(value: number | bigint): number {
    if (value < 0 || value > this.#bytes.length - this.#position) {
      this.#fail(`pickle ends unexpectedly at byte ${this.#bytes.length}`, false);
    }
    return Number(value);
  }

  #line(): string {
    const end = this.#bytes.indexOf(0x0a, this.#position);
    if (end < 0) this.#fail(`pickle ends unexpectedly at byte ${this.#bytes.length}`, false);
    const text = new TextDecoder().decode(this.#bytes.subarray(this.#position, end));
    this.#position = end + 1;
    return text;
  }

  #utf8(length: number): string {
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(this.#take(length));
    } catch {
      this.#fail("string is not valid UTF-8");
    }
  }

  #latin1(length: number): string {
    return String.fromCharCode(...this.#take(length));
  }

  /** Little-endian two's complement integer of `length` bytes. */
  #long(length: number): number | bigint {
    const bytes = this.#take(length);
    let value = 0n;
    for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]!);
    if (length > 0 && bytes[length - 1]! & 0x80) value -= 1n << BigInt(8 * length);
    return toNumberIfSafe(value);
  }

  #parseInt(text: string): number | bigint {
    if (!/^[-+]?\d+$/.test(text)) this.#fail(`"${text}" is not an integer`);
    return toNumberIfSafe(BigInt(text));
  }

  #fail(message: string, withPosition = true): never {
    throw new TypeError(withPosition ? `${message} at byte ${this.#opcodeStart}` : message);
  }
}

function toNumberIfSafe(value: bigint): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value;
}

/** Names of opcodes this reader refuses, so that errors say what was met. */
const UNSUPPORTED_OPCODE_NAMES: Record<number, string> = {
  0x53: "STRING",
  0x56: "UNICODE",
  0x50: "PERSID",
  0x69: "INST",
  0x6f: "OBJ",
  0x81: "NEWOBJ",
  0x92: "NEWOBJ_EX",
  0x82: "EXT1",
  0x83: "EXT2",
  0x84: "EXT4",
  0x97: "NEXT_BUFFER",
  0x98: "READONLY_BUFFER",
};

function describeOpcode(opcode: number): string {
  const hex = `0x${opcode.toString(16).padStart(2, "0")}`;
  const name = UNSUPPORTED_OPCODE_NAMES[opcode];
  return name ? `${name} (${hex})` : hex;
}
