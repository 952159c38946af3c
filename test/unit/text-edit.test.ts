import { describe, expect, it } from 'vitest'
import { minimalTextEdit, type TextEdit } from '../../server/rooms/text-edit.js'
import { seededRandom } from '../helpers/random.js'

function applyEdit (text: string, edit: TextEdit | null): string {
  return edit === null ? text : text.slice(0, edit.index) + edit.insert + text.slice(edit.index + edit.deleteCount)
}

/** Whether `text` holds no lone surrogate. */
function wellFormed (text: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text)
}

describe('minimalTextEdit', () => {
  it('keeps the common prefix and suffix', () => {
    expect(minimalTextEdit('Hello world', 'Hello brave world')).toEqual({ index: 6, deleteCount: 0, insert: 'brave ' })
    expect(minimalTextEdit('abcdef', 'abef')).toEqual({ index: 2, deleteCount: 2, insert: '' })
    expect(minimalTextEdit('same', 'same')).toBeNull()
    expect(minimalTextEdit('', 'new')).toEqual({ index: 0, deleteCount: 0, insert: 'new' })
    expect(minimalTextEdit('old', '')).toEqual({ index: 0, deleteCount: 3, insert: '' })
    // Repeated characters: the prefix is taken first, the suffix from what is left.
    expect(minimalTextEdit('aaa', 'aaaa')).toEqual({ index: 3, deleteCount: 0, insert: 'a' })
  })

  it('never cuts a surrogate pair', () => {
    // 🎉 and 🎈 share their high surrogate; 😀 and 🙀 their low one.
    expect(minimalTextEdit('x🎉y', 'x🎈y')).toEqual({ index: 1, deleteCount: 2, insert: '🎈' })
    expect(minimalTextEdit('😀', '🙀')).toEqual({ index: 0, deleteCount: 2, insert: '🙀' })
  })

  it('turns random texts into each other without breaking characters', () => {
    const random = seededRandom(7)
    const alphabet = ['a', 'b', '\n', 'é', '🎉', '🎈', '😀']
    const text = (): string => Array.from({ length: random.int(12) }, () => alphabet[random.int(alphabet.length)]).join('')
    for (let i = 0; i < 2000; i++) {
      const from = text()
      const to = text()
      const edit = minimalTextEdit(from, to)
      expect(applyEdit(from, edit)).toBe(to)
      if (edit) expect(wellFormed(edit.insert) && wellFormed(from.slice(edit.index, edit.index + edit.deleteCount))).toBe(true)
    }
  })
})
