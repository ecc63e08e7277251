/**
 * File operations of the directory mode that a hostile directory cannot turn against the
 * program: reads of regular files only, bounded in size, and writes replaced atomically.
 *
 * @module
 */

/** `name` inside `dir`. */
export function join(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

/**
 * Reads a regular file of at most `maxBytes`; `undefined` when it does not exist (any more).
 * Symbolic links, FIFOs, devices and directories are refused without being opened, so a FIFO
 * cannot block a scrape and a link to `/dev/zero` cannot fill memory.
 */
export async function readRegularFile(path: string, maxBytes: number): Promise<string | undefined> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  if (!info.isFile) {
    throw new Error("not a regular file (a link, FIFO, device or directory): not read");
  }
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  // try/finally rather than `using`, which V8 before 13.4 (e.g. Node 22) cannot parse.
  try {
    const opened = await file.stat(); // replaced since lstat? Check what was opened.
    if (!opened.isFile) throw new Error("not a regular file: not read");
    if (opened.size > maxBytes) {
      throw new Error(`${opened.size} bytes, more than maxFileBytes (${maxBytes}): not read`);
    }
    const buffer = new Uint8Array(opened.size + 1);
    let length = 0;
    while (length < buffer.length) {
      const read = await file.read(buffer.subarray(length));
      if (read === null) break;
      length += read;
    }
    if (length > opened.size) throw new Error("it grew while being read");
    return new TextDecoder().decode(buffer.subarray(0, length));
  } finally {
    file.close();
  }
}

export async function removeIfPresent(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/** Writes `text` to `path` atomically: a temporary file in the same directory, then a rename. */
export async function writeAtomically(dir: string, name: string, text: string): Promise<void> {
  const temp = join(dir, `.${name}.${crypto.randomUUID().slice(0, 8)}.tmp`);
  try {
    await Deno.writeTextFile(temp, text);
    await Deno.rename(temp, join(dir, name));
  } catch (error) {
    await removeIfPresent(temp).catch(() => {});
    throw error;
  }
}

/** The synchronous twin of {@linkcode writeAtomically}, for the `unload` event. */
export function writeAtomicallySync(dir: string, name: string, text: string): void {
  const temp = join(dir, `.${name}.${crypto.randomUUID().slice(0, 8)}.tmp`);
  Deno.writeTextFileSync(temp, text);
  Deno.renameSync(temp, join(dir, name));
}
