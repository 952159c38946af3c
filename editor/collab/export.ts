/**
 * A document's text as files: Markdown as typed, and HTML rendered by
 * markdown-it with raw HTML off (so `<script>` and `javascript:` links in
 * the text stay text), in a page of its own with a little CSS.
 */
/** Turns Markdown into HTML that holds no markup the text did not ask for through Markdown. */
export type MarkdownRenderer = (text: string) => string

/**
 * Loads markdown-it (a separate chunk, fetched on first use) and returns a
 * renderer with raw HTML off, links only to safe protocols (markdown-it's
 * default check refuses `javascript:`, `vbscript:`, `file:` and most
 * `data:`), and bare addresses left as text.
 */
export async function loadMarkdownRenderer (): Promise<MarkdownRenderer> {
  const { default: markdownIt } = await import('markdown-it')
  const md = markdownIt({ html: false, linkify: false, typographer: false })
  return (text) => md.render(text)
}

/**
 * A loader of one renderer: the first call loads markdown-it, later calls
 * get the same renderer.
 */
export function markdownRendererOnce (): () => Promise<MarkdownRenderer> {
  let loading: Promise<MarkdownRenderer> | null = null
  return () => {
    loading ??= loadMarkdownRenderer().catch((err: unknown) => {
      loading = null
      throw err
    })
    return loading
  }
}

/** Longest file name stem, in characters. */
const maxStemLength = 80

/**
 * A file name for document `title` with `extension` (`md`, `html`): the
 * title without characters file systems refuse, spaces kept, cut to 80
 * characters; `document` when nothing is left.
 */
export function exportFileName (title: string, extension: string): string {
  // eslint-disable-next-line no-control-regex
  const stem = [...title.replace(/[\u0000-\u001f\u007f/\\:*?"<>|]+/g, '-').replace(/\s+/g, ' ').trim().replace(/^[.\-\s]+|[.\s]+$/g, '')]
    .slice(0, maxStemLength).join('').trim()
  return `${stem === '' ? 'document' : stem}.${extension}`
}

/** CSS of an exported HTML page: readable text in light and dark, tables and code that fit. */
const standaloneCss = `
:root { color-scheme: light dark; }
body { max-width: 46rem; margin: 2rem auto; padding: 0 1rem; font: 16px/1.6 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; background: #fff; }
@media (prefers-color-scheme: dark) { body { color: #e6edf3; background: #0d1117; } a { color: #4493f8; } }
h1, h2, h3 { line-height: 1.25; }
h1 { border-bottom: 1px solid #d0d7de; padding-bottom: 0.3rem; }
a { color: #0969da; }
code, pre { font-family: ui-monospace, "SF Mono", Menlo, Consolas, monospace; font-size: 0.9em; }
code { padding: 0.1em 0.3em; border-radius: 4px; background: #8c959f26; }
pre { padding: 0.8rem 1rem; overflow: auto; border-radius: 6px; background: #8c959f1f; }
pre code { padding: 0; background: none; }
blockquote { margin: 0; padding: 0 1rem; color: #57606a; border-left: 0.25rem solid #d0d7de; }
table { border-collapse: collapse; }
th, td { padding: 0.3rem 0.7rem; border: 1px solid #d0d7de; }
img { max-width: 100%; }
@media print { body { margin: 0; max-width: none; } }
`

/** `text` with the characters HTML gives meaning escaped. */
function escapeHtml (text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`)
}

/**
 * A standalone HTML page holding `bodyHtml` (rendered by a
 * `MarkdownRenderer`) titled `title`; its CSP forbids every script, so
 * the file stays inert wherever it is opened.
 */
export function standaloneHtml (title: string, bodyHtml: string): string {
  return `<!doctype html>
<html>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src * data:">
<title>${escapeHtml(title)}</title>
<style>${standaloneCss}</style>
</head>
<body>
${bodyHtml}</body>
</html>
`
}
