/**
 * The button that copies the document's link.
 */

/** How long the button says what happened before it reads as before. */
const feedbackMs = 2000

/**
 * Makes `button` copy `location.href` to the clipboard when clicked and say
 * "Copied" for a moment (or, where the page may not use the clipboard,
 * show the link selected in a prompt to copy by hand).
 */
export function copyLinkOnClick (button: HTMLButtonElement): void {
  const label = button.textContent ?? ''
  let timer: ReturnType<typeof setTimeout> | undefined
  button.addEventListener('click', () => {
    const url = location.href
    copyText(url).then(() => {
      button.textContent = 'Copied'
      button.dataset.copied = ''
      clearTimeout(timer)
      timer = setTimeout(() => {
        button.textContent = label
        delete button.dataset.copied
      }, feedbackMs)
    }, () => {
      window.prompt('Copy this link:', url)
    })
  })
}

/** The Clipboard API needs a secure context (https or localhost). */
async function copyText (text: string): Promise<void> {
  if (!navigator.clipboard) throw new Error('clipboard unavailable')
  await navigator.clipboard.writeText(text)
}
