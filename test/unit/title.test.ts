/**
 * The editor's document titles, the device's list of documents, name
 * suggestions, export file names and the checks on imported files, as
 * pure functions without a browser.
 */
import { describe, expect, it, vi } from 'vitest'
import { documentTitle, maxTitleLength, maxTitleLines, watchTitle } from '../../editor/collab/title.js'
import { editDistance, similarNames } from '../../editor/collab/document-name.js'
import { RecentDocuments, maxRecentDocuments, recentDocumentsKey, type KeyValueStorage } from '../../editor/collab/recent-documents.js'
import { exportFileName, loadMarkdownRenderer, standaloneHtml } from '../../editor/collab/export.js'
import { maxTextFileBytes, readTextFile } from '../../editor/collab/text-file.js'

const title = (text: string): string => documentTitle(text.split('\n'), 'the-name')

describe('documentTitle', () => {
  it('takes the first heading, wherever it is', () => {
    expect(title('# Project plan\n\ntext')).toBe('Project plan')
    expect(title('intro line\n\n## Second level ##\n# Later')).toBe('Second level')
    expect(title('   ### Indented   ')).toBe('Indented')
    expect(title('Setext title\n============\nbody')).toBe('Setext title')
    expect(title('Also setext\n---')).toBe('Also setext')
  })

  it('ignores what only looks like a heading', () => {
    expect(title('#hashtag\nnext')).toBe('#hashtag')
    expect(title('```\n# a comment in code\n```\n# Real')).toBe('Real')
    expect(title('~~~sh\n# comment\n~~~\ntext after')).toBe('text after')
    expect(title('    # four spaces is code')).toBe('# four spaces is code')
    expect(title('# \n# Empty heading above')).toBe('Empty heading above')
  })

  it('falls back to the first line with text, cut, then to the name', () => {
    expect(title('\n\n  Just a note  \nmore')).toBe('Just a note')
    const long = 'word '.repeat(40)
    const cut = title(long)
    expect([...cut].length).toBe(maxTitleLength)
    expect(cut.endsWith('…')).toBe(true)
    expect(title('')).toBe('the-name')
    expect(title('\n   \n\t\n')).toBe('the-name')
    // Cut by characters, never inside an emoji.
    expect(title('😀'.repeat(100))).toBe(`${'😀'.repeat(maxTitleLength - 1)}…`)
  })

  it('stops reading at the first heading', () => {
    let read = 0
    function * lines (): Generator<string> {
      for (let i = 0; i < 1_000_000; i++) {
        read++
        yield i === 2 ? '# Found' : 'line'
      }
    }
    expect(documentTitle(lines(), 'n')).toBe('Found')
    expect(read).toBe(3)
    // Without a heading, only the first lines are read: the first of them is the title.
    read = 0
    expect(documentTitle((function * () { for (let i = 0; i < 1_000_000; i++) { read++; yield `line ${i}` } })(), 'n')).toBe('line 0')
    expect(read).toBe(maxTitleLines + 1)
  })
})

describe('watchTitle', () => {
  it('reads the title at most once per delay, however many changes come', () => {
    vi.useFakeTimers()
    try {
      let text = 'first'
      let listener = (): void => {}
      let reads = 0
      const seen: string[] = []
      const stop = watchTitle((onChange) => { listener = onChange; return () => { listener = () => {} } }, () => { reads++; return text.split('\n') }, 'n', (t) => seen.push(t), 300)
      expect(seen).toEqual(['first'])
      for (let i = 0; i < 100; i++) {
        text = `# Typing ${i}`
        listener()
        vi.advanceTimersByTime(10)
      }
      // 100 changes over 1 s: a read every 300 ms, not one per change.
      expect(reads).toBeLessThanOrEqual(5)
      vi.advanceTimersByTime(300)
      expect(seen.at(-1)).toBe('# Typing 99'.slice(2))
      const count = seen.length
      listener()
      vi.advanceTimersByTime(300)
      // Unchanged: not reported again.
      expect(seen.length).toBe(count)
      stop()
      text = '# After stop'
      listener()
      vi.advanceTimersByTime(1000)
      expect(seen.at(-1)).toBe('Typing 99')
    } finally {
      vi.useRealTimers()
    }
  })
})

describe('similarNames', () => {
  it('finds near misses, closest first, ignoring case', () => {
    expect(editDistance('project-plan', 'project-plam')).toBe(1)
    expect(editDistance('kitten', 'sitting')).toBe(3)
    expect(editDistance('abc', 'abcdefgh', 2)).toBe(3)
    expect(editDistance('budget', 'budegt')).toBe(1)
    expect(editDistance('ab', 'ba')).toBe(1)
    const known = ['project-plan', 'Project-Plans', 'budget', 'project-plan-2027', 'plan']
    expect(similarNames('project-plam', known)).toEqual(['project-plan', 'Project-Plans'])
    expect(similarNames('PROJECT-PLAN', known)).toEqual(['project-plan', 'Project-Plans'])
    expect(similarNames('budegt', known)).toEqual(['budget'])
    expect(similarNames('plan', known)).toEqual([])
    expect(similarNames('plam', known)).toEqual(['plan'])
    expect(similarNames('completely different', known)).toEqual([])
  })
})

/** Storage kept in a Map, as localStorage keeps it. */
function memoryStorage (): KeyValueStorage {
  const items = new Map<string, string>()
  return {
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => { items.set(key, value) }
  }
}

describe('RecentDocuments', () => {
  it('keeps names, titles, times and links, newest first, and forgets on request', () => {
    const storage = memoryStorage()
    const recent = new RecentDocuments(storage)
    expect(recent.list()).toEqual([])
    recent.opened('a', null, 1000)
    recent.opened('b', 'http://host/d/b?token=t', 2000)
    recent.retitle('a', 'Alpha')
    recent.retitle('missing', 'ignored')
    expect(recent.list().map((entry) => entry.name)).toEqual(['b', 'a'])
    recent.opened('a', null, 3000)
    recent.opened('b', null, 4000)
    expect(recent.list()).toEqual([
      { name: 'b', title: 'b', openedAtMs: 4000, link: 'http://host/d/b?token=t' },
      { name: 'a', title: 'Alpha', openedAtMs: 3000, link: null }
    ])
    // Another tab (or page) reads what this one wrote.
    expect(new RecentDocuments(storage).get('a')?.title).toBe('Alpha')
    recent.remove('a')
    expect(recent.get('a')).toBeNull()
    expect(recent.list().map((entry) => entry.name)).toEqual(['b'])
  })

  it('survives damaged storage and keeps at most its limit', () => {
    const storage = memoryStorage()
    storage.setItem(recentDocumentsKey, '{not json')
    const recent = new RecentDocuments(storage)
    expect(recent.list()).toEqual([])
    storage.setItem(recentDocumentsKey, JSON.stringify([{ name: 'ok', title: 'OK', openedAtMs: 1, link: null }, { name: 3 }, null, 'x']))
    expect(recent.list().map((entry) => entry.name)).toEqual(['ok'])
    for (let i = 0; i < maxRecentDocuments + 10; i++) recent.opened(`doc ${i}`, null, 10 + i)
    const names = recent.list().map((entry) => entry.name)
    expect(names.length).toBe(maxRecentDocuments)
    expect(names[0]).toBe(`doc ${maxRecentDocuments + 9}`)
    const full: KeyValueStorage = { ...memoryStorage(), setItem: () => { throw new Error('QuotaExceededError') } }
    expect(() => new RecentDocuments(full).opened('x')).not.toThrow()
  })
})

describe('export', () => {
  it('names files after the title, without characters file systems refuse', () => {
    expect(exportFileName('Project plan', 'md')).toBe('Project plan.md')
    expect(exportFileName('a/b\\c:d*e?f"g<h>i|j', 'html')).toBe('a-b-c-d-e-f-g-h-i-j.html')
    expect(exportFileName('  ...  ', 'md')).toBe('document.md')
    expect(exportFileName('x'.repeat(300), 'md')).toBe(`${'x'.repeat(80)}.md`)
  })

  it('renders Markdown with raw HTML and script links left inert', async () => {
    const render = await loadMarkdownRenderer()
    const html = render('# Hi\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) [y](JAVASCRIPT:alert(1)) [z](data:text/html;base64,PHNjcmlwdD4=)\n\n<a href="javascript:alert(1)">raw</a>')
    expect(html).toContain('<h1>Hi</h1>')
    expect(html).not.toMatch(/<script|<a href="javascript|href="data:text\/html/i)
    expect(html).toContain('&lt;script&gt;')
    const page = standaloneHtml('<Plan> & "more"', html)
    expect(page).toContain('<title>&#60;Plan&#62; &#38; &#34;more&#34;</title>')
    expect(page).toContain("default-src 'none'")
  })
})

describe('readTextFile', () => {
  const file = (name: string, type: string, bytes: Uint8Array | string): Blob & { name: string } =>
    Object.assign(new Blob([bytes], { type }), { name })

  it('takes UTF-8 text files and refuses the rest', async () => {
    expect(await readTextFile(file('a.md', '', '# Héllo\r\n'))).toBe('# Héllo\r\n')
    expect(await readTextFile(file('notes', 'text/plain', 'plain'))).toBe('plain')
    expect(await readTextFile(file('bom.txt', '', '\ufeffwith bom'))).toBe('with bom')
    await expect(readTextFile(file('a.png', 'image/png', 'x'))).rejects.toThrow('is not a text file')
    await expect(readTextFile(file('a.md', '', Uint8Array.of(0xff, 0xfe, 0x41)))).rejects.toThrow('is not UTF-8 text')
    await expect(readTextFile(file('a.txt', '', Uint8Array.of(0x41, 0, 0x42)))).rejects.toThrow('holds binary data')
    await expect(readTextFile(file('big.md', '', new Uint8Array(maxTextFileBytes + 1)))).rejects.toThrow('of at most 2 MB')
  })
})
