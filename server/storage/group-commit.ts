/**
 * Group commit, shared by the SQLite and PostgreSQL stores: writes queue up
 * and are committed together, one transaction per group, groups one after
 * another. A group closes at the end of the event-loop turn, or when a
 * running commit ends, so under load one commit serves many writes.
 */

/** One write to a document's stored log. */
export type Write =
  | { readonly kind: 'append', readonly name: string, readonly data: Uint8Array }
  | { readonly kind: 'replace', readonly name: string, readonly data: Uint8Array }

/**
 * Commits a group of writes, in array order, in one transaction: all or
 * nothing. May be synchronous (return nothing) or asynchronous.
 */
export type CommitGroup = (writes: Write[]) => void | Promise<void>

/** A queue of writes committed in groups. */
export interface GroupCommit {
  /**
   * Queues a write. Resolves once the group holding it is committed, rejects
   * if that commit failed or the queue is closed. Promises settle in the
   * order `add` was called.
   */
  add (write: Write): Promise<void>
  /**
   * Starts committing the queued writes now instead of at the end of the
   * turn, unless a commit is running. With a synchronous `CommitGroup` they
   * are committed when `flush` returns.
   */
  flush (): void
  /** Resolves once every write added before the call is committed or has failed. */
  settled (): Promise<void>
  /** Refuses further writes, then resolves once every queued write settled. */
  close (): Promise<void>
}

interface Group {
  readonly writes: Write[]
  readonly done: Promise<void>
  resolve (): void
  reject (err: unknown): void
}

const ignore = (): void => {}

/** Creates a queue whose groups `commit` writes. */
export function createGroupCommit (commit: CommitGroup): GroupCommit {
  /** Writes waiting for the next commit. */
  let pending: Group | null = null
  /** The group being committed by an asynchronous `commit`. */
  let running: Group | null = null
  let closed = false

  const flush = (): void => {
    if (running || !pending) return
    const group = pending
    pending = null
    let result: void | Promise<void>
    try {
      result = commit(group.writes)
    } catch (err) {
      group.reject(err)
      return
    }
    if (!result) {
      group.resolve()
      return
    }
    running = group
    result.then(() => group.resolve(), (err) => group.reject(err)).finally(() => {
      running = null
      flush()
    })
  }

  const settled = (): Promise<void> => (pending ?? running)?.done.then(ignore, ignore) ?? Promise.resolve()

  return {
    add (write) {
      if (closed) return Promise.reject(new Error('store is closed'))
      if (!pending) {
        let resolve!: () => void
        let reject!: (err: unknown) => void
        const done = new Promise<void>((res, rej) => { resolve = res; reject = rej })
        done.catch(ignore) // a failed group is reported through the promise each `add` returned
        pending = { writes: [], done, resolve, reject }
        setImmediate(flush)
      }
      pending.writes.push(write)
      return pending.done
    },
    flush,
    settled,
    async close () {
      closed = true
      flush()
      await settled()
    }
  }
}
