/**
 * What one store instance has seen of each document: the log rows it read
 * or appended (by sequence number) and the version of the snapshot it read
 * or wrote. A `replace` removes exactly that, so what another process wrote
 * meanwhile survives — even rows numbered below ones this instance saw,
 * since a PostgreSQL sequence hands out numbers in insert order, not commit
 * order.
 */

/** What a `replace` of one document may remove. */
export interface ReplaceTarget {
  /** Version of the snapshot this instance saw; null if it saw none. */
  readonly version: number | null
  /** Log rows this instance saw. */
  readonly seqs: readonly number[]
}

interface Entry {
  version: number | null
  readonly seqs: Set<number>
}

type Change =
  | { readonly name: string, readonly appended: number }
  | { readonly name: string, readonly removed: readonly number[], readonly version: number }

/** The rows and snapshot versions one store instance has seen, per document. */
export class KnownRows {
  private readonly docs = new Map<string, Entry>()

  /** Records what a load read. Versions only grow, so a slow load cannot undo a newer replace. */
  loaded (name: string, version: number | null, seqs: readonly number[]): void {
    if (version === null && seqs.length === 0 && !this.docs.has(name)) return // nothing stored, nothing to remember
    const entry = this.entry(name)
    for (const seq of seqs) entry.seqs.add(seq)
    if (version !== null && (entry.version === null || version > entry.version)) entry.version = version
  }

  /**
   * Forgets everything recorded of `name`. Call only when no transaction
   * writing it is open; a later replace then removes only what later loads
   * and writes record.
   */
  forget (name: string): void {
    this.docs.delete(name)
  }

  /** What a replace of `name` may remove, as far as committed writes and loads go. */
  target (name: string): ReplaceTarget {
    const entry = this.docs.get(name)
    return { version: entry?.version ?? null, seqs: entry ? [...entry.seqs] : [] }
  }

  /**
   * Starts recording the writes of one transaction. Nothing reaches this
   * object until `commit` is called on the result, so a rolled back
   * transaction leaves no trace.
   */
  begin (): KnownRowsTransaction {
    return new KnownRowsTransaction((name) => this.target(name), (changes) => this.apply(changes))
  }

  /** Applies a committed transaction's changes, in order. */
  private apply (changes: readonly Change[]): void {
    for (const change of changes) {
      const entry = this.entry(change.name)
      if ('appended' in change) {
        entry.seqs.add(change.appended)
      } else {
        for (const seq of change.removed) entry.seqs.delete(seq)
        if (entry.version === null || change.version > entry.version) entry.version = change.version
      }
      if (entry.seqs.size === 0 && entry.version === null) this.docs.delete(change.name)
    }
  }

  private entry (name: string): Entry {
    let entry = this.docs.get(name)
    if (!entry) {
      entry = { version: null, seqs: new Set() }
      this.docs.set(name, entry)
    }
    return entry
  }
}

/** The writes of one transaction, seen together with what was known before it. Made by `KnownRows.begin`. */
export class KnownRowsTransaction {
  private readonly changes: Change[] = []
  /** Per document touched: rows appended since its last replace in this transaction, and that replace's version. */
  private readonly touched = new Map<string, { appended: number[], replacedVersion: number | null }>()

  constructor (
    private readonly committedTarget: (name: string) => ReplaceTarget,
    private readonly onCommit: (changes: readonly Change[]) => void
  ) {}

  /** Records a row this transaction appended. */
  appended (name: string, seq: number): void {
    this.changes.push({ name, appended: seq })
    this.doc(name).appended.push(seq)
  }

  /** What a replace of `name` at this point of the transaction may remove. */
  target (name: string): ReplaceTarget {
    const doc = this.doc(name)
    if (doc.replacedVersion !== null) return { version: doc.replacedVersion, seqs: doc.appended }
    const before = this.committedTarget(name)
    return { version: before.version, seqs: [...before.seqs, ...doc.appended] }
  }

  /** Records a replace that removed `removed` and wrote snapshot `version`. */
  replaced (name: string, removed: readonly number[], version: number): void {
    this.changes.push({ name, removed, version })
    const doc = this.doc(name)
    doc.appended = []
    doc.replacedVersion = version
  }

  /** Call once the transaction committed. */
  commit (): void {
    this.onCommit(this.changes)
  }

  private doc (name: string): { appended: number[], replacedVersion: number | null } {
    let doc = this.touched.get(name)
    if (!doc) {
      doc = { appended: [], replacedVersion: null }
      this.touched.set(name, doc)
    }
    return doc
  }
}
