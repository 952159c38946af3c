/**
 * Reading a file someone picked as the first text of a new document: only
 * text, and not too much of it.
 */

/** Largest file taken, in bytes. */
export const maxTextFileBytes = 2 * 1024 * 1024

/** File name endings taken as text, whatever type the browser reports. */
const textEndings = /\.(md|markdown|txt|text)$/i

/**
 * The text of `file`, decoded as UTF-8 (a leading byte-order mark dropped).
 * Rejects, with a message for the person who picked it, a file over
 * `maxTextFileBytes`, one whose name and type do not say text, and one whose
 * bytes are not UTF-8 text (invalid sequences or NUL bytes: a binary file).
 */
export async function readTextFile (file: Blob & { readonly name: string }): Promise<string> {
  if (file.size > maxTextFileBytes) {
    throw new Error(`“${file.name}” is ${megabytes(file.size)}; a new document can start from a file of at most ${megabytes(maxTextFileBytes)}.`)
  }
  if (!textEndings.test(file.name) && !file.type.startsWith('text/')) {
    throw new Error(`“${file.name}” is not a text file. Pick a Markdown (.md) or text (.txt) file.`)
  }
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(await file.arrayBuffer())
  } catch {
    throw new Error(`“${file.name}” is not UTF-8 text. Save it as UTF-8 text and try again.`)
  }
  if (text.includes('\u0000')) throw new Error(`“${file.name}” holds binary data, not text.`)
  return text
}

/** `bytes` in megabytes, for people. */
function megabytes (bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1).replace(/\.0$/, '')} MB`
}
