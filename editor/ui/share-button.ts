/**
 * Buttons that copy a link.
 */

/** How long a button says what happened before it reads as before. */
const feedbackMs = 2000

/**
 * Makes `button` copy `text()` to the clipboard when clicked and say
 * "Copied" for a moment, then `label()` (by default what it read when this
 * was called); where the page may not use the clipboard, it shows the text
 * selected in a prompt headed `promptTitle` to copy by hand.
 */
export function copyOnClick (button: HTMLButtonElement, text: () => string, promptTitle = 'Copy this link:', label?: () => string): void {
  const initial = button.textContent ?? ''
  const labelAfter = label ?? (() => initial)
  let timer: ReturnType<typeof setTimeout> | undefined
  button.addEventListener('click', () => {
    const value = text()
    copyText(value).then(() => {
      button.textContent = 'Copied'
      button.dataset.copied = ''
      clearTimeout(timer)
      timer = setTimeout(() => {
        button.textContent = labelAfter()
        delete button.dataset.copied
      }, feedbackMs)
    }, () => {
      window.prompt(promptTitle, value)
    })
  })
}

/** The Clipboard API needs a secure context (https or localhost). */
async function copyText (text: string): Promise<void> {
  if (!navigator.clipboard) throw new Error('clipboard unavailable')
  await navigator.clipboard.writeText(text)
}
