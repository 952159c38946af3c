/**
 * The browser's "leave page?" question while edits are not stored yet.
 */

/** Asks before the page is closed or left whenever `unsaved()` is true at that moment. */
export function warnBeforeLeaving (unsaved: () => boolean): void {
  window.addEventListener('beforeunload', (event) => {
    if (!unsaved()) return
    event.preventDefault()
    // Older browsers ask only when returnValue is set.
    event.returnValue = ''
  })
}
