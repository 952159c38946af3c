/**
 * A line diff of two texts, for showing what changed between a version and
 * the document now.
 */

/** A run of lines: in both texts, only in the old one, or only in the new one. */
export interface DiffPart {
  readonly kind: 'same' | 'removed' | 'added'
  /** The lines, each with its line break (the last one may have none). */
  readonly text: string
}

/** Line pairs compared at most; past it, the changed middle is shown as removed then added. */
const maxComparedCells = 4_000_000

/**
 * The parts that turn `before` into `after`, line by line, in order
 * (removed lines before the lines added in their place): a longest common
 * subsequence of the lines after the common first and last lines are set
 * aside. Their texts joined hold every line of both.
 */
export function lineDiff (before: string, after: string): DiffPart[] {
  if (before === '' || after === '') {
    return [...(before === '' ? [] : [{ kind: 'removed' as const, text: before }]), ...(after === '' ? [] : [{ kind: 'added' as const, text: after }])]
  }
  // Every line compared with its break: a last line without one then equals the same line above it.
  const a = splitLines(`${before}\n`)
  const b = splitLines(`${after}\n`)
  let start = 0
  while (start < a.length && start < b.length && a[start] === b[start]) start++
  let endA = a.length
  let endB = b.length
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) { endA--; endB-- }
  const parts: DiffPart[] = []
  const push = (kind: DiffPart['kind'], lines: string[]): void => {
    if (lines.length === 0) return
    const last = parts.at(-1)
    if (last?.kind === kind) parts[parts.length - 1] = { kind, text: last.text + lines.join('') }
    else parts.push({ kind, text: lines.join('') })
  }
  push('same', a.slice(0, start))
  const midA = a.slice(start, endA)
  const midB = b.slice(start, endB)
  if (midA.length * midB.length > maxComparedCells) {
    push('removed', midA)
    push('added', midB)
  } else {
    // lengths[i][j]: the longest common subsequence of midA[i..] and midB[j..].
    const width = midB.length + 1
    const lengths = new Uint32Array((midA.length + 1) * width)
    for (let i = midA.length - 1; i >= 0; i--) {
      for (let j = midB.length - 1; j >= 0; j--) {
        lengths[i * width + j] = midA[i] === midB[j] ? lengths[(i + 1) * width + j + 1] + 1 : Math.max(lengths[(i + 1) * width + j], lengths[i * width + j + 1])
      }
    }
    let i = 0
    let j = 0
    while (i < midA.length || j < midB.length) {
      if (i < midA.length && j < midB.length && midA[i] === midB[j]) {
        push('same', [midA[i++]]); j++
      } else if (i < midA.length && (j === midB.length || lengths[(i + 1) * width + j] >= lengths[i * width + j + 1])) {
        push('removed', [midA[i++]])
      } else {
        push('added', [midB[j++]])
      }
    }
  }
  push('same', a.slice(endA))
  // The break added above ends the last part.
  const last = parts.pop() as DiffPart
  if (last.text.length > 1) parts.push({ kind: last.kind, text: last.text.slice(0, -1) })
  return parts
}

/** The lines of `text`, each keeping its line break. */
function splitLines (text: string): string[] {
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? []
}
