/**
 * Writes small FAIR-1M-layout splits for tests.
 *
 * @module
 */

/**
 * Writes `ROOT/<split>/labelXml/<i>.xml` and an empty `ROOT/<split>/images/<i>.tif` (i = 1..)
 * for each of `names`: a 20x20 image holding one 8x8 square object of that class at (1, 1).
 */
export async function writeFair1mSplit(
  root: string,
  split: string,
  names: readonly string[],
): Promise<void> {
  await Deno.mkdir(`${root}/${split}/labelXml`, { recursive: true });
  await Deno.mkdir(`${root}/${split}/images`, { recursive: true });
  for (const [i, name] of names.entries()) {
    await Deno.writeTextFile(`${root}/${split}/images/${i + 1}.tif`, "");
    await Deno.writeTextFile(
      `${root}/${split}/labelXml/${i + 1}.xml`,
      `<annotation><source><filename>${i + 1}.tif</filename></source>` +
        "<size><width>20</width><height>20</height></size><objects><object>" +
        `<possibleresult><name>${name}</name></possibleresult><points><point>1,1</point>` +
        "<point>9,1</point><point>9,9</point><point>1,9</point><point>1,1</point></points>" +
        "</object></objects></annotation>",
    );
  }
}
