/**
 * Hands a file to the browser's downloads.
 */

/** Offers `blob` as a download named `fileName`, as a click on a download link would. */
export function saveFile (fileName: string, blob: Blob): void {
  const url = URL.createObjectURL(blob)
  const link = document.createElement('a')
  link.href = url
  link.download = fileName
  link.hidden = true
  document.body.append(link)
  link.click()
  link.remove()
  // The download has its own copy once it started; the address is no longer needed.
  setTimeout(() => URL.revokeObjectURL(url), 60_000)
}
