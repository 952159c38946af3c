/**
 * The loading bar under the header: "Loading 42%…" while a large document
 * arrives, hidden otherwise.
 */
import './loading-progress.css'

/**
 * Returns a function that shows `loaded` (0 to 1) in `bar` as a percentage,
 * in its label, its fill and its `aria-valuenow`, or hides the bar for null.
 * `bar` holds a `.loading-progress-label` and a `.loading-progress-fill`.
 */
export function loadingProgress (bar: HTMLElement): (loaded: number | null) => void {
  const label = bar.querySelector<HTMLElement>('.loading-progress-label')
  const fill = bar.querySelector<HTMLElement>('.loading-progress-fill')
  return (loaded) => {
    bar.hidden = loaded === null
    if (loaded === null) return
    const percent = Math.floor(loaded * 100)
    bar.setAttribute('aria-valuenow', String(percent))
    if (label) label.textContent = `Loading ${percent}%…`
    if (fill) fill.style.width = `${percent}%`
  }
}
