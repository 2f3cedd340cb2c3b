import assert from "node:assert/strict";
import { PICKLE_STATE, unpickle } from "../../lib/io/pickle.ts";

// Pickles below were made with CPython's pickle.dumps(value, protocol) and pasted as hex.
const hex = (text: string) => new Uint8Array(text.match(/../g)!.map((b) => parseInt(b, 16)));

const ORDERED_DICT = new Map([["collections.OrderedDict", () => new Map()]]);

Deno.test("unpickle() reads a protocol 2 dict", () => {
  assert.deepEqual(unpickle(hex("80027d710058010000006171014b01732e")), new Map([["a", 1]]));
});

Deno.test("unpickle() reads protocol 2 scalars, strings and tuples", () => {
  // [None, True, False, 255, 65535, -1, 2**31-1, 2**40, -(2**70), 1.5, -0.25, "héllo",
  //  (1,), (1,2), (1,2,3), (), (1,2,3,4), {}, []]
  const value = unpickle(hex(
    "80025d7100284e88894bff4dffff4affffffff4affffff7f8a060000000000018a090000000000000000c0473ff8" +
      "00000000000047bfd0000000000000580600000068c3a96c6c6f71014b018571024b014b028671034b014b02" +
      "4b0387710429284b014b024b034b047471057d71065d7107652e",
  )) as unknown[];
  assert.deepEqual(value, [
    null,
    true,
    false,
    255,
    65535,
    -1,
    2 ** 31 - 1,
    2 ** 40,
    -(2n ** 70n),
    1.5,
    -0.25,
    "héllo",
    [1],
    [1, 2],
    [1, 2, 3],
    [],
    [1, 2, 3, 4],
    new Map(),
    [],
  ]);
  assert.ok(Object.isFrozen(value[12]), "tuples are frozen arrays");
  assert.ok(!Object.isFrozen(value[18]), "lists are not");
});

Deno.test("unpickle() reads protocol 4 frames, memoize, bytes, sets and long strings", () => {
  const value = unpickle(hex(
    "8004959b010000000000007d94288c046c697374945d94284b018c01789443020001947d948c066e657374656494" +
      "4740080000000000004e869473658c03736574948f94284b07908c02667394284b0891948c03626967948a0d00" +
      "000040eaed7446d09c2c9f0c8c086c6f6e675f73747294582c010000" + "79".repeat(300) + "94752e",
  )) as Map<string, unknown>;
  assert.deepEqual(value.get("list"), [
    1,
    "x",
    new Uint8Array([0, 1]),
    new Map([["nested", [3, null]]]),
  ]);
  assert.deepEqual(value.get("set"), new Set([7]));
  assert.deepEqual(value.get("fs"), new Set([8]));
  assert.equal(value.get("big"), 10n ** 30n);
  assert.equal(value.get("long_str"), "y".repeat(300));
});

Deno.test("unpickle() keeps shared references shared (protocol 5 memo)", () => {
  const value = unpickle(
    hex("80059517000000000000007d94288c0161945d94284b014b02658c0162946802752e"),
  ) as Map<string, unknown>;
  assert.deepEqual(value.get("a"), [1, 2]);
  assert.equal(value.get("a"), value.get("b"));
});

Deno.test("unpickle() calls whitelisted globals through GLOBAL and STACK_GLOBAL", () => {
  const expected = new Map([["a", 1], ["b", 2]]);
  const od2 = hex(
    "800263636f6c6c656374696f6e730a4f726465726564446963740a7100295271012858010000006171024b01" +
      "58010000006271034b02752e",
  );
  assert.deepEqual(unpickle(od2, { globals: ORDERED_DICT }), expected);
  const od4 = hex(
    "80049530000000000000008c0b636f6c6c656374696f6e73948c0b4f72646572656444696374949394295294" +
      "288c0161944b018c0162944b02752e",
  );
  assert.deepEqual(unpickle(od4, { globals: ORDERED_DICT }), expected);
});

Deno.test("unpickle() keeps BUILD state apart from the dict's items", () => {
  // OrderedDict(a=1, b=2) with d._metadata = {"v": 1}
  const value = unpickle(
    hex(
      "800263636f6c6c656374696f6e730a4f726465726564446963740a7100295271012858010000006171024b01" +
        "58010000006271034b02757d710458090000005f6d6574616461746171057d710658010000007671074b01" +
        "7373622e",
    ),
    { globals: ORDERED_DICT },
  ) as Map<string, number> & { [PICKLE_STATE]?: unknown };
  assert.deepEqual([...value], [["a", 1], ["b", 2]]);
  assert.deepEqual(value[PICKLE_STATE], new Map([["_metadata", new Map([["v", 1]])]]));
});

Deno.test("unpickle() resolves persistent ids through persistentLoad", () => {
  const bytes = hex("80027d71005801000000747101580700000073746f7261676571024b0386710351732e");
  const seen: unknown[] = [];
  const value = unpickle(bytes, {
    persistentLoad: (pid) => {
      seen.push(pid);
      return "loaded";
    },
  });
  assert.deepEqual(seen, [["storage", 3]]);
  assert.deepEqual(value, new Map([["t", "loaded"]]));
  assert.throws(() => unpickle(bytes), /the pickle uses persistent ids, which are not expected/);
});

Deno.test("unpickle() refuses globals that are not whitelisted", () => {
  // pickle.dumps(numpy.float32(1.0), 2), cut after its first GLOBAL
  const numpyScalar = hex("8002636e756d70792e636f72652e6d756c746961727261790a7363616c61720a71002e");
  assert.throws(
    () => unpickle(numpyScalar, { globals: ORDERED_DICT }),
    /^TypeError: unsupported pickle global numpy.core.multiarray.scalar$/,
  );
  const od2 = hex("800263636f6c6c656374696f6e730a4f726465726564446963740a71002e");
  assert.throws(() => unpickle(od2), /unsupported pickle global collections.OrderedDict/);
});

Deno.test("unpickle() refuses opcodes that would build arbitrary objects", () => {
  const inst = new TextEncoder().encode("(i__main__\nFoo\n.");
  assert.throws(
    () => unpickle(inst),
    /^TypeError: unsupported pickle opcode INST \(0x69\) at byte 1$/,
  );
  const newobj = hex("8002298128");
  assert.throws(() => unpickle(newobj), /unsupported pickle opcode NEWOBJ \(0x81\) at byte 3/);
  assert.throws(() => unpickle(hex("8002ff")), /unsupported pickle opcode 0xff at byte 2/);
});

Deno.test("unpickle() rejects truncated and malformed pickles", () => {
  assert.throws(
    () => unpickle(hex("80027d7100580100")),
    /^TypeError: pickle ends unexpectedly at byte 8$/,
  );
  assert.throws(() => unpickle(hex("80027d")), /pickle ends unexpectedly at byte 3/);
  assert.throws(() => unpickle(hex("800268052e")), /pickle memo has no entry 5 at byte 2/);
  assert.throws(() => unpickle(hex("8002732e")), /pickle stack underflow at byte 2/);
  assert.throws(() => unpickle(hex("80022e")), /pickle stack underflow at byte 2/);
  assert.throws(() => unpickle(hex("80024b012952")), /REDUCE on something that is not callable/);
  assert.throws(() => unpickle(hex("8009")), /unsupported pickle protocol 9/);
  // BINUNICODE claiming 2^32-1 bytes must not allocate; it fails on the length check.
  assert.throws(() => unpickle(hex("800258ffffffff")), /pickle ends unexpectedly/);
});
